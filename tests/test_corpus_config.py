"""A corpus of bad config files: each is refused by the real ``drain`` entry point in one or two
lines naming the key, with exit status 2, no traceback, and nothing written or removed in the
reports and cache folders. Validation happens before any data is loaded, so each case is quick.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drain_cli.main import main

BIG = "1180591620717411303424"  # 2**70: beyond int64
INT64_PLUS_ONE = "9223372036854775808"

# (command, TOML text, a string the message must contain)
SECTION_SHAPE = [
    ("signal", "signal = 3\n", "signal must be a table"),
    ("backtest", "strategy = [1, 2]\n", "strategy must be a table"),
    ("thesis", 'backtest = "fast"\n', "backtest must be a table"),
    ("thesis", "thesis = 1\n", "thesis must be a table"),
    ("signal", "[strategi]\nleg_size = 0.5\n", "[strategi] (did you mean [strategy]?)"),
    ("backtest", "[sginal]\n", "[sginal]"),
    ("thesis", "[thesys]\n", "[thesys]"),
    ("tune", "[strategi]\n", "[strategi]"),
    ("backtest", '[strategy]\nbaskets = ["NVDA"]\n', "strategy.baskets must be a table"),
    ("signal", "[signal]\nweights = 3\n", "signal.weights must be a table"),
    ("backtest", "[backtest]\ncosts = 1\n", "backtest.costs must be a table"),
    ("backtest", "[backtest.costs]\nfee_bps = [1, 2]\n", "backtest.costs.fee_bps must be a table"),
    ("backtest", '[strategy]\ntilt = "none"\n', "strategy.tilt must be a table"),
]
WHOLE_NUMBERS = [
    ("backtest", '[strategy]\nvol_lookback = "abc"\n', "strategy.vol_lookback must be a whole"),
    ("backtest", "[strategy]\nvol_lookback = 2.5\n", "strategy.vol_lookback"),
    ("backtest", "[strategy]\nvol_lookback = [63]\n", "strategy.vol_lookback"),
    ("signal", '[signal]\nz_window = "756"\n', "signal.z_window"),
    ("signal", "[signal]\nbuffer_window = 62.5\n", "signal.buffer_window"),
    ("backtest", "[backtest]\nlag = 1.5\n", "backtest.lag"),
    ("backtest", '[backtest]\nlag = "1"\n', "backtest.lag"),
    ("thesis", "[thesis]\nhorizon = 2.5\n", "thesis.horizon"),
    ("thesis", "[thesis]\nbootstrap_reps = 1e9\n", "thesis.bootstrap_reps"),
    ("tune", '[strategy]\nbeta_lookback = "half a year"\n', "strategy.beta_lookback"),
    ("tune", "[signal]\nrates_window = 21.5\n", "signal.rates_window"),
]
NOT_FINITE = [
    ("backtest", "[backtest.costs.fee_bps]\netf = nan\n", "backtest.costs.fee_bps.etf"),
    ("backtest", "[backtest.costs.slippage_bps]\ncrypto = inf\n", "backtest.costs.slippage_bps"),
    ("backtest", "[backtest.costs.borrow_rate]\nequity = nan\n", "backtest.costs.borrow_rate"),
    ("backtest", "[backtest.costs.borrow_overrides]\nGME = nan\n", "borrow_overrides.GME"),
    ("backtest", "[backtest]\ninit_cash = nan\n", "backtest.init_cash"),
    ("backtest", "[backtest]\ninit_cash = inf\n", "backtest.init_cash"),
    ("backtest", "[strategy]\nvol_target = nan\n", "strategy.vol_target"),
    ("backtest", "[strategy]\nleg_size = nan\n", "strategy.leg_size"),
    ("backtest", "[strategy]\nsignal_scale = inf\n", "strategy.signal_scale"),
    ("backtest", "[strategy]\nmax_leverage = nan\n", "strategy.max_leverage"),
    ("backtest", "[strategy]\ncash_buffer = nan\n", "strategy.cash_buffer"),
    ("backtest", "[strategy.tilt]\nscarce = [0.5, nan, 0.0]\n", "strategy.tilt.scarce[1]"),
    ("signal", "[signal.weights]\nissuance = nan\n", "signal.weights.issuance"),
    ("signal", "[signal]\ngate_k = inf\n", "signal.gate_k"),
    ("signal", "[signal]\ndraining_above = -inf\n", "signal.draining_above"),
    ("signal", "[signal]\nz_clip = nan\n", "signal.z_clip"),
    ("signal", "[signal]\nbuffer_depleted_bn = inf\n", "signal.buffer_depleted_bn"),
    ("thesis", "[thesis]\nbreak_trim = nan\n", "thesis.break_trim"),
    ("thesis", "[thesis]\nstress_quantile = nan\n", "thesis.stress_quantile"),
    ("tune", "[strategy]\nleg_size = inf\n", "strategy.leg_size"),
]
BEYOND_INT64 = [
    ("backtest", f"[strategy]\nvol_lookback = {BIG}\n", "strategy.vol_lookback"),
    ("backtest", f"[backtest]\nlag = {INT64_PLUS_ONE}\n", "backtest.lag"),
    ("signal", f"[signal]\nbuffer_window = {BIG}\n", "signal.buffer_window"),
    ("signal", f"[signal]\nmin_components = {INT64_PLUS_ONE}\n", "signal.min_components"),
    ("thesis", f"[thesis]\nseed = {BIG}\n", "thesis.seed"),
    ("thesis", f"[thesis]\nbootstrap_reps = {INT64_PLUS_ONE}\n", "thesis.bootstrap_reps"),
    ("backtest", f"[backtest]\ninit_cash = {BIG}\n", "backtest.init_cash"),
]
BASKETS = [
    ("backtest", '[strategy.baskets]\ncash_flow = "NVDA"\n', "strategy.baskets.cash_flow"),
    ("backtest", "[strategy.baskets]\ncash_flow = [1, 2]\n", "strategy.baskets.cash_flow[0]"),
    ("backtest", "[strategy.baskets]\ncash_flow = []\n", "strategy.baskets.cash_flow"),
    ("backtest", '[strategy.baskets]\ncash_flow = [""]\n', "strategy.baskets.cash_flow[0]"),
    ("backtest", '[strategy.baskets]\ncash_flow = [["NVDA"]]\n', "strategy.baskets.cash_flow[0]"),
    ("backtest", '[strategy.baskets]\ncashflow = ["MU", "NVDA"]\n',
     "'cashflow' is not traded by this strategy (did you mean 'cash_flow'?)"),
    ("thesis", '[strategy.baskets]\nspeculativ = ["ARKK"]\n', "strategy.baskets.speculativ"),
    ("signal", '[strategy.baskets]\nmemory = ["MU"]\n', "strategy.baskets.memory"),
    ("backtest", '[strategy]\nlong_basket = "memory"\n', "'memory' is not defined"),
    ("backtest", '[strategy]\nshort_basket = "cash_flow"\n', "strategy.short_basket"),
    ("backtest", '[strategy.baskets]\ncash_flow = ["MU", "GME"]\n',
     "GME is in both the long basket"),
    ("backtest", '[strategy.baskets]\ncash_flow = ["MU", "MU"]\n', "cash_flow lists MU twice"),
    ("signal", '[signal]\ncomponents = ["sofr_iorb", "dollar", "sofr_iorb"]\n',
     "signal.components lists 'sofr_iorb' twice"),
    ("backtest", '[signal]\ngated_components = ["issuance", "issuance"]\n',
     "signal.gated_components lists 'issuance' twice"),
    ("thesis", '[strategy.baskets]\nspeculative = ["ARKK", "NVDA"]\n', "NVDA is in both"),
    ("tune", '[strategy.baskets]\ncash_flow = "NVDA"\n', "strategy.baskets.cash_flow"),
]
BOOLEANS = [
    ("backtest", "[strategy]\nleg_size = true\n", "strategy.leg_size"),
    ("backtest", "[backtest]\ninit_cash = false\n", "backtest.init_cash"),
    ("backtest", "[backtest]\nlag = true\n", "backtest.lag"),
    ("backtest", "[backtest.costs.fee_bps]\netf = true\n", "backtest.costs.fee_bps.etf"),
    ("signal", "[signal]\nz_clip = true\n", "signal.z_clip"),
    ("signal", "[signal]\nhysteresis = false\n", "signal.hysteresis"),
    ("signal", "[signal]\nspread_exclude_turns = 1\n", "signal.spread_exclude_turns"),
    ("thesis", "[thesis]\nbootstrap_reps = true\n", "thesis.bootstrap_reps"),
]
CHOICES_AND_KEYS = [
    ("backtest", "[strategy]\nrebalance = 'hourly'\n", "strategy.rebalance = 'hourly'"),
    ("backtest", "[strategy]\nvariant = 'momentum'\n", "strategy.variant"),
    ("backtest", "[strategy]\nweighting = 1\n", "strategy.weighting"),
    ("signal", "[signal]\ngate = 'sigmoid'\n", "signal.gate"),
    ("signal", "[signal]\ncombine = 'pcaa'\n", "(did you mean 'pca'?)"),
    ("signal", '[signal]\ncomponents = ["capex_yoy", "moon"]\n', "signal.components[1]"),
    ("thesis", "[thesis]\nevent_model = 'markt'\n", "(did you mean 'market'?)"),
    ("backtest", "[strategy]\nleg_sise = 0.5\n", "strategy.leg_sise (did you mean 'leg_size'?)"),
    ("signal", "[signal]\nz_windw = 10\n", "signal.z_windw (did you mean 'z_window'?)"),
    ("thesis", "[signal]\nz_windw = 10\n", "signal.z_windw"),
    ("signal", "[strategy]\nleg_sise = 0.5\n", "strategy.leg_sise"),
    ("signal", "[backtest]\nlagg = 1\n", "backtest.lagg (did you mean 'lag'?)"),
    ("thesis", "[thesis]\nhorizn = 20\n", "thesis.horizn (did you mean 'horizon'?)"),
    ("backtest", "[backtest.costs]\nfees = {}\n", "backtest.costs.fees"),
    ("backtest", "[backtest.costs.fee_bps]\nbonds = 1.0\n", "backtest.costs.fee_bps.bonds"),
    ("signal", "[signal.weights]\ncapex_yo = 1.0\n", "(did you mean 'capex_yoy'?)"),
    ("backtest", "[strategy.tilt]\nscarse = [0.1, 0.0, 0.0]\n", "strategy.tilt.scarse"),
    ("tune", "[strategy]\nleg_sise = 0.5\n", "strategy.leg_sise"),
]
RANGES_AND_RULES = [
    ("backtest", "[strategy]\nleg_size = -1\n", "strategy.leg_size"),
    ("backtest", "[strategy]\nleg_size = 11\n", "strategy.leg_size"),
    ("backtest", "[strategy]\ncash_buffer = 1\n", "strategy.cash_buffer"),
    ("backtest", "[strategy]\nvol_target = 0\n", "strategy.vol_target"),
    ("backtest", "[backtest]\nlag = 0\n", "backtest.lag must be a whole number >= 1"),
    ("backtest", "[backtest]\nlag = 10000\n", "backtest.lag"),
    ("backtest", "[backtest]\nlag = 100\n", "backtest.lag = 100 must be below"),
    ("backtest", "[backtest]\ninit_cash = 0\n", "backtest.init_cash"),
    ("backtest", "[backtest.costs.fee_bps]\netf = -1.0\n", "backtest.costs.fee_bps.etf"),
    ("backtest", "[backtest.costs.borrow_rate]\ncrypto = 50.0\n", "backtest.costs.borrow_rate"),
    ("backtest", '[backtest]\ncash_rate_ticker = ""\n', "backtest.cash_rate_ticker"),
    ("backtest", "[strategy.tilt]\nscarce = [0.9, 0.0, 0.5]\n", "strategy.tilt.scarce"),
    ("backtest", "[strategy.tilt]\nscarce = [0.5, 0.5]\n", "strategy.tilt.scarce"),
    ("signal", "[signal]\ndraining_above = 1.0\nscarce_above = 0.5\n", "signal.scarce_above"),
    ("signal", "[signal]\nhysteresis = 0.5\n", "signal.hysteresis"),
    ("signal", "[signal]\nstandardise = 'rolling'\nz_window = 100\nz_min_periods = 200\n",
     "signal.z_min_periods"),
    ("signal", "[signal]\ncomponents = ['dollar']\n[signal.weights]\ndollar = 0.0\n",
     "signal.weights"),
    ("signal", "[signal]\ncomponents = []\n", "signal.components"),
    ("signal", "[signal]\nmin_components = 16\n", "signal.min_components"),
    ("signal", "[signal]\ncapex_max_stale_quarters = -1\n", "signal.capex_max_stale_quarters"),
    ("signal", "[signal]\nrates_window = -3\n", "signal.rates_window"),
    ("thesis", "[thesis]\nbreak_trim = 0.6\n", "thesis.break_trim"),
    ("thesis", "[thesis]\nstress_quantile = 1.0\n", "thesis.stress_quantile"),
    ("thesis", "[thesis]\nbootstrap_reps = 1000000000\n", "thesis.bootstrap_reps"),
    ("thesis", "[thesis]\nseed = -1\n", "thesis.seed"),
    ("thesis", '[thesis]\nbreak_date = "2020-13-01"\n', "thesis.break_date"),
    ("thesis", "[thesis]\nbreak_date = 2020\n", "thesis.break_date"),
    ("thesis", "[thesis]\ndepletion_below_bn = 2000.0\n", "thesis.depletion_below_bn"),
    ("tune", "[signal]\ndraining_above = 1.0\nscarce_above = 0.5\n", "signal.scarce_above"),
]
TUNE_SECTION = [  # [tune] itself: shapes, caps and types
    ("tune", "tune = 3\n", "tune must be a table"),
    ("tune", "[tune]\nwalkforward = 5\n", "tune.walkforward must be a table"),
    ("tune", "[tune]\ngrid = [1]\n", "tune.grid must be a table"),
    ("tune", "[tune]\ngrids = 4\n", "tune.grids must be a table"),
    ("tune", "[tune.grids]\nwide = 4\n", "tune.grids.wide must be a table"),
    ("tune", "[tune]\nbootstrap_reps = 1000000000\n", "tune.bootstrap_reps"),
    ("tune", "[tune]\nspa_reps = 2.5\n", "tune.spa_reps"),
    ("tune", "[tune]\ncap = \"all\"\n", "tune.cap"),
    ("tune", "[tune]\npbo_blocks = 15\n", "tune.pbo_blocks"),
    ("tune", "[tune]\nholdout_from = \"soon\"\n", "tune.holdout_from"),
    ("tune", "[tune]\nbootstrap_rep = 10\n", "tune.bootstrap_rep"),
    ("tune", "[tune.walkforward]\ntrian = 500\n", "tune.walkforward.trian"),
    ("tune", "[tune.grid.backtest]\nlag = [1, 0]\n", "backtest.lag"),
    ("tune", "[tune.grid.strategy]\nleg_size = [0.5, nan]\n", "strategy.leg_size"),
    ("tune", '[tune.grid.signal]\ngate = ["none", "step", "none"]\n', "lists 'none' twice"),
    ("tune", "[tune.grid.strategy]\nleg_size = [0.5, 0.50]\n", "lists 0.5 twice"),
]
NOT_UTF8 = [  # bytes that are not UTF-8 text: the file is named, and the encoding it must have
    ("backtest", "[strategy]\n# café\nleg_size = 0.5\n".encode("latin-1"), "(byte 0xe9 on line 2)"),
    ("signal", "[signal]\nz_window = 756 # ±\n".encode("latin-1"), "must be UTF-8 TOML"),
    ("tune", "# Zürich\n[tune]\n".encode("cp1252"), "(byte 0xfc on line 1)"),
    ("thesis", "[thesis]\nseed = 1\n".encode("utf-16"), "must be UTF-8 TOML"),
    ("backtest", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "is not UTF-8 text"),
    ("signal", b"\x1f\x8b\x08\x00" + bytes(range(256)), "is not UTF-8 text"),
]
CORPUS = (NOT_UTF8 + TUNE_SECTION + SECTION_SHAPE + WHOLE_NUMBERS + NOT_FINITE + BEYOND_INT64
          + BASKETS + BOOLEANS + CHOICES_AND_KEYS + RANGES_AND_RULES)


def _listing(root: Path) -> list[tuple[str, int]]:
    """Every entry under ``root``, hidden ones included, with file sizes."""
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            out.append((str(path.relative_to(root)), path.stat().st_size if path.is_file() else -1))
    return sorted(out)


@pytest.fixture
def folders(tmp_path):
    """A reports folder with a finished run and a hidden entry, and a cache with one file."""
    reports, cache = Path(os.environ["DRAIN_REPORTS_DIR"]), Path(os.environ["DRAIN_CACHE_DIR"])
    (reports / "old-run").mkdir(parents=True)
    (reports / "old-run" / "stats.json").write_text("{}\n")
    (reports / ".hidden").write_text("x")
    cache.mkdir(parents=True)
    (cache / "notes.txt").write_text("kept")
    return reports, cache


def test_the_corpus_is_large_and_names_distinct_cases():
    assert len(CORPUS) >= 80
    assert len({(command, text) for command, text, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("command", "text", "needle"), CORPUS,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CORPUS)])
def test_bad_config_is_refused_in_one_line(command, text, needle, tmp_path, folders, capsys):
    reports, cache = folders
    before = (_listing(reports), _listing(cache))
    config = tmp_path / "bad.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    argv = [command, "--config", str(config)]
    if command == "tune":
        argv.append("--no-progress")
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err and err.startswith("drain: error: ")
    assert 1 <= err.count("\n") <= 2, err
    assert needle in err, err
    assert str(config) in err or not isinstance(text, bytes), err  # the file is named
    assert (_listing(reports), _listing(cache)) == before


def test_a_utf8_config_with_a_byte_order_mark_is_read(tmp_path):
    from drain_core.tomlfile import read_toml

    config = tmp_path / "notepad.toml"
    config.write_bytes("\ufeff[strategy]\nleg_size = 0.5\n".encode())
    assert read_toml(config) == {"strategy": {"leg_size": 0.5}}



def _unreadable(path: Path, monkeypatch) -> None:
    """A file this process may not read (a mode of 0 does not bind root, so the read fails)."""
    path.write_text("[strategy]\n")
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "read_bytes", refuse)


@pytest.mark.parametrize("command", ["backtest", "signal", "tune", "thesis", "placebo"])
@pytest.mark.parametrize(("make", "status", "needle"), [
    (lambda path, _: path.mkdir(), 2, "is a folder; pass a TOML file"),
    (lambda path, _: None, 2, "does not exist"),
    (_unreadable, 1, "cannot read config file"),
], ids=["folder", "missing", "unreadable"])
def test_a_config_path_that_is_no_readable_file(command, make, status, needle, tmp_path, folders,
                                                capsys, monkeypatch):
    reports, cache = folders
    before = (_listing(reports), _listing(cache))
    config = tmp_path / "given.toml"
    make(config, monkeypatch)
    code = main([command, "--config", str(config)])
    _out, err = capsys.readouterr()
    assert (code, err.count("\n")) == (status, 1), err
    assert "Traceback" not in err and needle in err and str(config) in err, err
    assert (_listing(reports), _listing(cache)) == before
