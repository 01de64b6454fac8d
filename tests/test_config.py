"""Configuration: the shipped file states the code defaults, and configs round-trip via TOML."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backtests.run.pipeline import RunConfig
from drain_core.schema import conform, whole
from drain_core.tomlfile import read_toml, write_toml
from drain_data import DrainError
from strategies import StrategyConfig


def test_shipped_config_equals_the_code_defaults():
    assert RunConfig.load() == RunConfig()


def test_config_round_trips_through_toml(tmp_path):
    config = RunConfig(strategy=StrategyConfig(variant="beta_hedged", vol_target=0.1,
                                               rebalance="monthly"))
    path = write_toml(config.to_dict(), tmp_path / "c.toml")
    assert RunConfig.from_dict(read_toml(path)) == config


@pytest.mark.parametrize("text, key", [
    ("[strategi]\n", "[strategi]"),
    ("[strategy]\nrebalance = 'hourly'\n", "strategy.rebalance"),
    ("[strategy]\nleg_size = -1\n", "strategy.leg_size"),
    ("[strategy]\nlong_basket = 'memory'\n", "'memory'"),
    ("[strategy.tilt]\nscarce = [0.9, 0.0, 0.5]\n", "strategy.tilt.scarce"),
    ("[backtest.costs.fee_bps]\nbonds = 1.0\n", "backtest.costs.fee_bps.bonds"),
    ("[backtest]\ninit_cash = 0\n", "backtest.init_cash"),
])
def test_bad_config_names_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DrainError) as err:
        RunConfig.load(path)
    assert key in str(err.value)


# --- one way to validate: the schema in the annotations -------------------------------------


def test_every_config_is_hashable_and_survives_pickle():
    import pickle

    from backtests.sim.config import BacktestConfig, CostConfig
    from signals import SignalConfig
    from thesis.config import ThesisConfig

    for config in (RunConfig(), SignalConfig(), StrategyConfig(), BacktestConfig(),
                   CostConfig(), ThesisConfig()):
        assert hash(config) == hash(pickle.loads(pickle.dumps(config)))
        assert pickle.loads(pickle.dumps(config)) == config
    cache = {StrategyConfig(): "a", StrategyConfig(leg_size=0.3): "b"}
    assert cache[StrategyConfig.from_dict({"leg_size": 0.3})] == "b"  # equal configs, one key


def test_tables_read_like_dicts_but_cannot_change():
    config = StrategyConfig.from_dict({"baskets": {"cash_flow": ["MU", "NVDA"]},
                                       "tilt": {"scarce": [0.2, 0.0, 0.0]}})
    assert config.baskets["cash_flow"] == ("MU", "NVDA")
    assert config.tilt["scarce"] == (0.2, 0.0, 0.0)
    assert config.tilt["abundant"] == StrategyConfig().tilt["abundant"]  # merged over defaults
    with pytest.raises(TypeError):
        config.baskets["cash_flow"] = ("X",)
    with pytest.raises(TypeError):
        config.tilt.update(scarce=(1.0, 0.0, 0.0))


def test_replace_passes_the_same_checks_as_a_file():
    base = StrategyConfig()
    with pytest.raises(DrainError, match=r"^strategy\.vol_lookback must be a whole number >= 2 "
                                         r"and <= 5040 \(sessions; at most twenty years\), "
                                         r"got 'abc'$"):
        base.replace(vol_lookback="abc")
    with pytest.raises(DrainError, match="strategy.leg_size must be a finite number > 0"):
        base.replace(leg_size=float("nan"))
    assert base.replace(leg_size=1).leg_size == 1.0


@pytest.mark.parametrize(("text", "message"), [
    ("[strategy]\nvol_lookback = 2.5\n",
     "strategy.vol_lookback must be a whole number >= 2 and <= 5040 (sessions; at most twenty "
     "years), got 2.5"),
    ("[backtest]\nlag = true\n", "backtest.lag must be a whole number >= 1 and <= 252 (trades "
                                 "act on a bar after the signal, at most a year later), got True"),
    ("[backtest.costs.fee_bps]\netf = nan\n", "backtest.costs.fee_bps.etf must be a finite "
                                              "number >= 0 and <= 10000 (basis points; 10,000 "
                                              "is the whole traded value), got nan"),
    ("[strategy.baskets]\ncash_flow = 'NVDA'\n", "strategy.baskets.cash_flow must be a "
                                                 "non-empty list of ticker symbols, got 'NVDA'"),
    ("[strategy]\nrebalance = 'wekly'\n", "strategy.rebalance = 'wekly' is not one of daily, "
                                          "weekly, monthly, regime (did you mean 'weekly'?)"),
    ("[strategy.baskets]\ncashflow = ['MU']\n",
     "strategy.baskets.cashflow: basket 'cashflow' is not traded by this strategy (did you mean "
     "'cash_flow'?); it trades 'cash_flow' (long_basket) and 'speculative' (short_basket)"),
    ("signal = 3\n", "signal must be a table ([signal] with key = value lines), got 3"),
    ("[strategi]\n", "unknown config section [strategi] (did you mean [strategy]?); known "
                     "sections: signal, strategy, backtest, tune, thesis"),
])
def test_messages_name_the_key_the_expectation_and_the_value(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DrainError) as err:
        RunConfig.load(path)
    assert str(err.value) == message


def test_run_config_reads_only_its_sections_of_a_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[tune]\nanything = 1\n[thesis]\nhorizn = 5\n[strategy]\nleg_size = 0.3\n")
    assert RunConfig.load(path).strategy.leg_size == 0.3  # the commands check the others


# --- every command checks every section of its file -------------------------------------------

COMMANDS = ("signal", "backtest", "placebo", "thesis", "tune")
# A mistake each command finds soon after its config: were the config not checked, the test
# would fail fast on this message instead of running the whole command.
LATER_MISTAKE = {"signal": ["--as-of", "1990-01-02"], "backtest": ["--end", "2001-01-01"],
                 "placebo": ["--n", "0"], "thesis": ["--end", "2010-01-01"],
                 "tune": ["--grid", "nope"]}
THESIS_TYPO = ("[thesis]\nbootstrap_repz = 10\n",
               "unknown key thesis.bootstrap_repz (did you mean 'bootstrap_reps'?); known keys: "
               "block_sessions, bootstrap_reps, break_date, break_trim, capex_forward, "
               "capex_min_history, depletion_after_above_bn, depletion_below_bn, depletion_date, "
               "depletion_median_sessions, event_estimation, event_gap, event_model, event_post, "
               "event_pre, horizon, max_lag_weeks, min_events, min_sessions, min_weeks, "
               "rolling_window, seed, stress_quantile")
TUNE_KEYS = ("known keys: bootstrap_reps, cap, chunk_size, grid, grids, holdout_from, "
             "keep_per_window, keep_returns, pbo_blocks, pbo_max_configs, select_by, "
             "spa_max_models, spa_reps, walkforward")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text, message", [
    THESIS_TYPO,
    ("[tune]\nbogus = 1\n", f"unknown key tune.bogus; {TUNE_KEYS}"),  # nothing close to it
    ("[tune]\nspa_rep = 10\n", f"unknown key tune.spa_rep (did you mean 'spa_reps'?); {TUNE_KEYS}"),
    ("[tune.walkforward]\nembargo = 'x'\n", "tune.walkforward.embargo must be"),
    ("[thesis]\nhorizon = 0\n", "thesis.horizon must be a whole number >= 1"),
], ids=["thesis-typo", "tune-bogus", "tune-typo", "walkforward-type", "thesis-range"])
def test_every_command_refuses_a_mistake_in_a_section_it_does_not_use(
        tmp_path, capsys, command, text, message):
    from drain_cli.main import main

    path = tmp_path / "typo.toml"
    path.write_text("[strategy]\nleg_size = 0.3\n" + text)
    assert main([command, "--config", str(path), *LATER_MISTAKE[command]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"drain: error: {message}"), err
    reports = tmp_path / "reports"
    assert not reports.exists() or not any(reports.iterdir())


def _stop_after_config(monkeypatch) -> list:
    """Make every command stop right after reading its config; returns what each one read."""
    import drain_cli.args
    import drain_cli.signal_cmd
    import drain_cli.thesis_cmd

    read, real = [], drain_cli.args.load_config

    def spy(*args, **kwargs):
        read.append(real(*args, **kwargs))
        raise DrainError("config read")

    for module in (drain_cli.args, drain_cli.signal_cmd, drain_cli.thesis_cmd):
        monkeypatch.setattr(module, "load_config", spy)
    return read


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("shipped", ["default", "tune"])
def test_the_shipped_configs_load_in_every_command(monkeypatch, capsys, command, shipped):
    from backtests.tune.config import TuneConfig
    from drain_cli.main import main
    from drain_core.configs import shipped_config
    from thesis import ThesisConfig

    read = _stop_after_config(monkeypatch)
    path = shipped_config(shipped)
    assert main([command, "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == "drain: error: config read"
    (config,) = read
    assert config.path == path
    assert (config.run, config.tune, config.thesis) == (RunConfig(), TuneConfig.load({}),
                                                        ThesisConfig())


@pytest.mark.parametrize("command, default", [
    ("signal", "default"), ("backtest", "default"), ("placebo", "default"),
    ("thesis", "default"), ("tune", "tune")])
def test_each_command_finds_its_default_config_in_one_place(monkeypatch, command, default):
    from drain_cli.main import main
    from drain_core.configs import shipped_config

    read = _stop_after_config(monkeypatch)
    assert main([command]) == 2
    assert [config.path for config in read] == [shipped_config(default)]


def test_lag_must_stay_below_the_windows_the_book_reads():
    from backtests.sim.config import BacktestConfig

    with pytest.raises(DrainError, match=r"backtest.lag = 63 must be below strategy.vol_lookback"):
        RunConfig(backtest=BacktestConfig(lag=63))
    equal = StrategyConfig(weighting="equal")  # inverse-vol look-back unused: the signal's count
    with pytest.raises(DrainError, match=r"must be below signal\.\w+_window \(63\)"):
        RunConfig(strategy=equal, backtest=BacktestConfig(lag=63))
    assert RunConfig(backtest=BacktestConfig(lag=62)).backtest.lag == 62


def test_windows_longer_than_the_data_are_refused():
    from signals import SignalConfig

    config = RunConfig(signal=SignalConfig(z_min_periods=3000))
    config.require_history(3001, 500)
    with pytest.raises(DrainError, match=r"signal.z_min_periods = 3000 needs more sessions "
                                         r"than the data hold \(2999\)"):
        config.require_history(2999, 500)
    with pytest.raises(DrainError, match=r"strategy.vol_lookback = 63 needs more sessions "
                                         r"than the date range holds \(40\)"):
        RunConfig().require_history(3000, 40)
    RunConfig(strategy=StrategyConfig(weighting="equal")).require_history(3000, 40)  # unread


@dataclasses.dataclass(frozen=True)
class _AnySection:
    """A section written the way [tune] can adopt the mechanism: annotations + conform."""

    cap: whole(1, 1000, "combinations") = 10
    grid: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        conform(self, "tune")


def test_any_section_gets_the_checks_and_hashability_from_its_annotations():
    section = _AnySection(grid={"strategy": {"variant": ["a", "b"]}})
    assert section.grid["strategy"]["variant"] == ("a", "b")
    assert hash(section) == hash(_AnySection(grid={"strategy": {"variant": ("a", "b")}}))
    with pytest.raises(DrainError, match=r"^tune.cap must be a whole number >= 1 and <= 1000 "
                                         r"\(combinations\), got 2.0$"):
        _AnySection(cap=2.0)
