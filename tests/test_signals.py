"""Hand-computed cases for the signal's building blocks, config validation and ``drain signal``."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from drain_cli.main import main
from drain_core.configs import default_config_path
from drain_core.errors import DrainError
from drain_core.pages import plotly_file_name
from drain_data import load_dataset
from drain_data.calendar import nyse_sessions
from drain_data.releases import issuance_available_at
from drain_data.store import Dataset
from signals import COMPONENTS, REGIMES, SignalConfig, SignalResult, compute_signal
from signals.as_of import signal_as_of
from signals.components import capex_frame, issuance, sofr_iorb
from signals.transforms import (
    expanding_zscore,
    gate_factor,
    regimes_with_hysteresis,
    weighted_composite,
    winsorise,
)

NAN = float("nan")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def result(dataset):
    return compute_signal(dataset)


def make_dataset(sessions, *, macro=None, capex=None, issuance_rows=None) -> Dataset:
    """A tiny synthetic Dataset with the same column layout as the real one."""
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    sessions.name = "date"
    macro = macro if macro is not None else pd.DataFrame(
        {"series": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
         "value": pd.Series(dtype=float), "available_at": pd.Series(dtype="datetime64[ns]")}
    )
    capex = capex if capex is not None else pd.DataFrame(
        {"ticker": pd.Series(dtype=str), "fiscal_period_end": pd.Series(dtype="datetime64[ns]"),
         "capex_usd": pd.Series(dtype=float), "available_at": pd.Series(dtype="datetime64[ns]")}
    )
    deals = issuance_rows if issuance_rows is not None else pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]"), "issuer": pd.Series(dtype=str),
         "amount_usd": pd.Series(dtype=float), "date_precision": pd.Series(dtype=str),
         "available_at": pd.Series(dtype="datetime64[ns]")}
    )
    prices = pd.DataFrame({"SPY": 1.0}, index=sessions)
    return Dataset(prices=prices, macro=macro, capex=capex, issuance=deals)


# --- z-scores, winsorising --------------------------------------------------------------------


def test_expanding_zscore_five_values_by_hand():
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 10.0])
    # t1: mean 1.5, sd sqrt(0.5); t2: mean 2, sd 1; t3: mean 2.5, sd sqrt(5/3);
    # t4: mean 4, squared deviations 9+4+1+0+36 = 50, sd sqrt(50/4)
    expected = [NAN, 0.5 / math.sqrt(0.5), 1.0, 1.5 / math.sqrt(5 / 3), 6 / math.sqrt(12.5)]
    np.testing.assert_allclose(expanding_zscore(x, min_periods=2), expected, rtol=1e-12)


def test_expanding_zscore_skips_nan_and_respects_min_periods():
    x = pd.DataFrame({"a": [1.0, NAN, 2.0, 3.0, 4.0], "b": [5.0, 5.0, 5.0, 5.0, 5.0]})
    z = expanding_zscore(x, min_periods=3)
    # a: third valid value (3.0) is the first with 3 observations: mean 2, sd 1 -> 1.0;
    # then 4.0 against 1,2,3,4: mean 2.5, sd sqrt(5/3)
    np.testing.assert_allclose(z["a"], [NAN, NAN, NAN, 1.0, 1.5 / math.sqrt(5 / 3)],
                               rtol=1e-12)
    assert z["b"].isna().all()  # no spread in the past: no z-score, not inf


def test_winsorise_clips_both_tails_and_keeps_nan():
    z = pd.Series([-4.0, -3.0, 0.5, 3.2, NAN])
    np.testing.assert_array_equal(winsorise(z, 3.0), [-3.0, -3.0, 0.5, 3.0, NAN])


# --- the gate --------------------------------------------------------------------------------


def test_step_gate_amplifies_gated_components_when_depleted():
    index = pd.RangeIndex(3)
    depleted = pd.Series([False, True, True], index=index)
    factor = gate_factor("step", depleted=depleted, buffer_z=pd.Series(NAN, index=index), k=1.0,
                         center=0.0, steepness=1.0)
    np.testing.assert_array_equal(factor, [1.0, 2.0, 2.0])
    z = pd.DataFrame({"capex_yoy": [1.0, 1.0, -0.5], "sofr_iorb": [0.5, 0.5, 0.5]})
    weights = pd.Series({"capex_yoy": 1.0, "sofr_iorb": 1.0})
    gated = z.assign(capex_yoy=z["capex_yoy"] * factor)
    # by hand: (1 + 0.5) / 2, (2 * 1 + 0.5) / 2, (2 * -0.5 + 0.5) / 2
    np.testing.assert_allclose(weighted_composite(gated, weights, 1), [0.75, 1.25, -0.25])
    np.testing.assert_allclose(weighted_composite(z, weights, 1), [0.75, 0.75, 0.0])


def test_logistic_gate_by_hand():
    index = pd.RangeIndex(3)
    factor = gate_factor("logistic", depleted=pd.Series(False, index=index),
                         buffer_z=pd.Series([1.0, 2.0, NAN], index=index), k=1.0, center=1.0,
                         steepness=2.0)
    # z = centre: 1 + 1/2; z = centre + 1: 1 + 1 / (1 + e^-2); unknown buffer: no amplification
    np.testing.assert_allclose(factor, [1.5, 1.0 + 1.0 / (1.0 + math.exp(-2.0)), 1.0])
    none = gate_factor("none", depleted=pd.Series(True, index=index),
                       buffer_z=pd.Series(5.0, index=index), k=3.0, center=0.0, steepness=1.0)
    np.testing.assert_array_equal(none, [1.0, 1.0, 1.0])


def test_weighted_composite_renormalises_over_available_components():
    z = pd.DataFrame({"a": [1.0, 1.0, NAN], "b": [3.0, NAN, NAN], "c": [NAN, NAN, 2.0]})
    weights = pd.Series({"a": 1.0, "b": 3.0, "c": 1.0})
    out = weighted_composite(z, weights, 1)
    np.testing.assert_allclose(out, [(1 + 9) / 4, 1.0, 2.0])
    assert weighted_composite(z, weights, 2).isna().tolist() == [False, True, True]


# --- regimes ---------------------------------------------------------------------------------


def test_hysteresis_regimes_by_hand():
    # thresholds 0.25 / 0.75, h = 0.1: enter draining above 0.35, leave below 0.15;
    # enter scarce above 0.85, leave below 0.65
    c = [0.0, 0.3, 0.36, 0.3, 0.2, 0.14, 0.5, 0.84, 0.86, 0.7, 0.66, 0.64, NAN, 0.2, 0.1, -0.5,
         1.0]
    a, d, s = REGIMES
    expected = [a, a, d, d, d, a, d, d, s, s, s, d, None, d, a, a, s]
    regime = regimes_with_hysteresis(pd.Series(c), 0.25, 0.75, 0.1)
    assert [None if pd.isna(v) else v for v in regime] == expected
    assert list(regime.cat.categories) == list(REGIMES)
    first = regimes_with_hysteresis(pd.Series([0.8, 0.7, 0.3]), 0.25, 0.75, 0.1)
    assert list(first) == [s, s, d]  # the first day uses the plain thresholds


# --- capex and issuance ----------------------------------------------------------------------


def _capex_rows():
    rows = [
        # ticker, quarter end, capex, available_at
        ("A", "2020-03-31", 100, "2020-05-15"), ("A", "2020-06-30", 100, "2020-08-14"),
        ("A", "2020-09-30", 100, "2020-11-16"), ("A", "2020-12-31", 100, "2021-03-01"),
        ("A", "2021-03-31", 120, "2021-05-14"), ("A", "2021-06-30", 130, "2021-08-02"),
        # B misses its June 2020 quarter
        ("B", "2020-03-31", 50, "2020-05-15"), ("B", "2020-09-30", 50, "2020-11-16"),
        ("B", "2020-12-31", 50, "2021-03-01"), ("B", "2021-03-31", 60, "2021-05-14"),
        ("B", "2021-06-30", 70, "2021-08-09"),
        # C is covered late (from June 2020), with a huge quarter that has no year-ago match
        ("C", "2020-06-30", 40, "2020-08-14"), ("C", "2021-03-31", 1000, "2021-05-14"),
        ("C", "2021-06-30", 50, "2021-08-16"),
    ]
    frame = pd.DataFrame(rows, columns=["ticker", "fiscal_period_end", "capex_usd",
                                        "available_at"])
    for col in ("fiscal_period_end", "available_at"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    frame["capex_usd"] = frame["capex_usd"].astype(float)
    return frame


def test_capex_yoy_matched_names_missing_quarter_and_late_cover():
    ds = make_dataset(nyse_sessions("2020-01-02", "2021-12-31"), capex=_capex_rows())
    out = capex_frame(ds, SignalConfig())
    at = out.loc
    assert np.isnan(at["2021-05-13", "capex_yoy"])  # no year-ago pair known yet
    # 2021-05-14: A and B matched on Q1; C's Q1 has no Q1 2020, so it is left out
    assert at["2021-05-14", "capex_yoy"] == pytest.approx((120 + 60) / (100 + 50) - 1)
    assert np.isnan(at["2021-05-14", "capex_accel"])
    # 2021-08-02: A reports Q2; B has not yet and keeps its Q1 pair (one quarter behind)
    assert at["2021-08-02", "capex_yoy"] == pytest.approx((130 + 60) / (100 + 50) - 1)
    assert at["2021-08-02", "capex_accel"] == pytest.approx(130 / 100 - 120 / 100)
    # 2021-08-09: B reports Q2, but its Q2 2020 is missing: B leaves both sides
    assert at["2021-08-09", "capex_yoy"] == pytest.approx(130 / 100 - 1)
    # 2021-08-16: C finally has a matched quarter (Q2 vs Q2 2020)
    assert at["2021-08-16", "capex_yoy"] == pytest.approx((130 + 50) / (100 + 40) - 1)
    # acceleration needs Q1 2021 and Q1 2020 too: only A qualifies
    assert at["2021-08-16", "capex_accel"] == pytest.approx(130 / 100 - 120 / 100)
    # no staleness allowed: on 2021-08-02 B (still on Q1) drops out
    strict = capex_frame(ds, SignalConfig(capex_max_stale_quarters=0))
    assert strict.loc["2021-08-02", "capex_yoy"] == pytest.approx(130 / 100 - 1)


def test_issuance_trailing_sum_counts_month_deal_from_its_available_at():
    deals = pd.DataFrame({
        "date": pd.to_datetime(["2021-03-10", "2021-03-01"]).astype("datetime64[ns]"),
        "issuer": ["Alphabet", "Amazon"],
        "amount_usd": [10e9, 5e9],
        "date_precision": ["day", "month"],
    })
    deals["available_at"] = issuance_available_at(deals["date"], deals["date_precision"])
    assert list(deals["available_at"].dt.date.astype(str)) == ["2021-03-11", "2021-04-01"]
    ds = make_dataset(nyse_sessions("2021-01-04", "2021-06-30"), issuance_rows=deals)
    out = issuance(ds, SignalConfig(issuance_window=20))
    # the day deal counts for 20 sessions from 2021-03-11 (through 2021-04-08; Good Friday
    # 2021-04-02 is no session); the month deal only from 2021-04-01, through 2021-04-29
    expected = {"2021-03-10": NAN, "2021-03-11": 10.0, "2021-03-31": 10.0, "2021-04-01": 15.0,
                "2021-04-08": 15.0, "2021-04-09": 5.0, "2021-04-29": 5.0, "2021-04-30": 0.0}
    got = {day: out[day] for day in expected}
    np.testing.assert_array_equal(list(got.values()), list(expected.values()))


def test_sofr_spread_uses_same_day_policy_rate_and_drops_month_turns():
    def obs(series, dates, values, lag_days):
        dates = pd.to_datetime(dates).astype("datetime64[ns]")
        return pd.DataFrame({"series": series, "date": dates, "value": values,
                             "available_at": dates + pd.Timedelta(days=lag_days)})

    sofr_dates = ["2022-03-15", "2022-03-16", "2022-03-17", "2022-03-31", "2022-04-01"]
    macro = pd.concat([
        obs("SOFR", sofr_dates, [0.05, 0.30, 0.30, 0.60, 0.55], 1),
        obs("IORB", ["2022-03-01", "2022-03-17"], [0.15, 0.40], 0),  # hike effective 03-17
        obs("DFEDTARU", ["2022-03-01"], [0.25], 0),
    ], ignore_index=True)
    ds = make_dataset(nyse_sessions("2022-03-14", "2022-04-08"), macro=macro)
    out = sofr_iorb(ds, SignalConfig(spread_median_window=1))
    # SOFR of 03-16 (0.30) against IORB of 03-16 (0.15) = +15 bp, usable 03-17; SOFR of 03-17
    # against the new IORB 0.40 = -10 bp: no artefact from pairing across the hike
    assert out["2022-03-16"] == pytest.approx(-10.0)  # 03-15: 0.05 - 0.15
    assert out["2022-03-17"] == pytest.approx(15.0)
    assert out["2022-03-18"] == pytest.approx(-10.0)
    # 03-31 and 04-01 are month turns: dropped, the last clean value carries on
    assert out["2022-04-01"] == pytest.approx(-10.0)
    # ... but only for max_age_daily = 10 sessions after its release (03-18): then it is missing
    assert out.isna()["2022-04-04":].all()
    keep = sofr_iorb(ds, SignalConfig(spread_median_window=1, spread_exclude_turns=False))
    assert keep["2022-04-01"] == pytest.approx(20.0)


# --- the full result -------------------------------------------------------------------------


def test_result_shape_and_types(dataset, result):
    assert isinstance(result, SignalResult)
    for frame in (result.components, result.zscores):
        assert frame.index.equals(dataset.sessions)
        assert list(frame.columns) == list(COMPONENTS)
    for series in (result.composite, result.composite_ungated, result.regime,
                   result.buffer_depleted):
        assert series.index.equals(dataset.sessions)
    assert result.buffer_depleted.dtype == bool
    assert set(result.regime.dropna().unique()) <= set(REGIMES)
    assert result.zscores.abs().max().max() <= SignalConfig().z_clip
    frame = result.to_frame()
    assert {"composite", "composite_ungated", "regime", "buffer_depleted",
            "raw_capex_yoy", "z_dollar"} <= set(frame.columns)
    assert set(result.regime_code.unique()) <= {-1, 0, 1, 2}


def test_no_sessions_gives_empty_result(dataset):
    empty = compute_signal(dataset.as_of("2013-12-31"))
    assert len(empty.composite) == 0 and empty.to_frame().shape[0] == 0


def test_signal_as_of_refuses_a_date_outside_the_data_or_without_a_composite(dataset):
    with pytest.raises(DrainError, match="no data for 2010-05-03; the data covers 2014-01-02 to"):
        signal_as_of(dataset, SignalConfig(), pd.Timestamp("2010-05-03"))
    long_warm_up = SignalConfig().replace(z_min_periods=5000)
    with pytest.raises(DrainError, match="no composite value up to 2014-06-02: the z-scores "
                                         "need 5000 sessions of history; choose a later date"):
        signal_as_of(dataset, long_warm_up, pd.Timestamp("2014-06-02"))
    known, result = signal_as_of(dataset, SignalConfig(), pd.Timestamp("2025-11-28"))
    assert known.sessions[-1] == result.composite.index[-1] == pd.Timestamp("2025-11-28")


def test_gate_changes_only_depleted_days(result):
    same = ~result.buffer_depleted & result.composite.notna()
    pd.testing.assert_series_equal(result.composite[same], result.composite_ungated[same],
                                   check_names=False)
    assert (result.composite[result.buffer_depleted] !=
            result.composite_ungated[result.buffer_depleted]).any()


def test_gate_none_equals_ungated(dataset):
    out = compute_signal(dataset, SignalConfig(gate="none"))
    pd.testing.assert_series_equal(out.composite, out.composite_ungated, check_names=False)


def test_stale_dollar_drops_out_and_composite_reweights(result):
    last = result.components.index[-1]
    assert np.isnan(result.components.loc[last, "dollar"])  # DTWEXBGS ends 2025-12-26
    assert result.components["dollar"].last_valid_index() < pd.Timestamp("2026-02-01")
    assert not np.isnan(result.composite[last])


def test_compute_signal_is_fast(dataset):
    compute_signal(dataset)
    started = time.perf_counter()
    compute_signal(dataset, SignalConfig(combine="pca", gate="logistic"))
    assert time.perf_counter() - started < 2.0


# --- configuration ---------------------------------------------------------------------------


def test_default_toml_matches_code_defaults():
    path = default_config_path()
    assert SignalConfig.from_toml(path) == SignalConfig()


def test_config_round_trip_and_partial_weights():
    config = SignalConfig.from_dict({"gate": "logistic", "weights": {"dollar": 0.0}})
    assert config.weight("dollar") == 0.0
    assert config.weight("capex_yoy") == SignalConfig().weight("capex_yoy")
    assert SignalConfig.from_dict(config.to_dict()) == config
    hash(config)  # frozen and hashable: usable as a cache key in sweeps


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"z_windw": 10}, ["signal.z_windw", "z_window"]),
        ({"issuance_window": -5}, ["signal.issuance_window", ">= 1", "got -5"]),
        ({"buffer_window": 0}, ["signal.buffer_window"]),
        ({"weights": {"capex_yoy": "heavy"}}, ["signal.weights.capex_yoy"]),
        ({"weights": "equal"}, ["signal.weights"]),
        ({"weights": {"capex_yo": 1.0}}, ["signal.weights.capex_yo", "capex_yoy"]),
        ({"weights": {"capex_yoy": -1.0}}, ["signal.weights.capex_yoy"]),
        ({"components": ["capex_yoy", "vix"]}, ["signal.components", "'vix'"]),
        ({"gated_components": ["bitcoin"]}, ["signal.gated_components", "'bitcoin'"]),
        ({"gate": "sigmoid"}, ["signal.gate"]),
        ({"z_clip": "3"}, ["signal.z_clip"]),
        ({"draining_above": 1.0, "scarce_above": 0.5}, ["signal.scarce_above"]),
    ],
)
def test_bad_config_names_the_key(values, names):
    with pytest.raises(DrainError) as info:
        SignalConfig.from_dict(values)
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_bad_toml_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[signal\nz_window = 3\n")
    with pytest.raises(DrainError, match="not valid TOML"):
        SignalConfig.from_toml(broken)
    with pytest.raises(DrainError, match="does not exist"):
        SignalConfig.from_toml(tmp_path / "missing.toml")
    other = tmp_path / "other.toml"
    other.write_text("[strategy]\nleverage = 2\n")
    assert SignalConfig.from_toml(other) == SignalConfig()  # no [signal] section: defaults


# --- the CLI ---------------------------------------------------------------------------------


def _reports(tmp_path):
    root = tmp_path / "reports"
    shared = ("index.html", plotly_file_name())  # written once per reports folder
    return sorted(p.name for p in root.iterdir() if p.name not in shared) if root.exists() else []


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[signal]\ncomponents = ["capex_yoy", "moon"]\n', "signal.components"),
        ("[signal]\nrates_window = -3\n", "signal.rates_window"),
        ('[signal.weights]\nissuance = "lots"\n', "signal.weights.issuance"),
        ("[signal]\nwindow = 5\n", "signal.window"),
    ],
)
def test_cli_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, body, key):
    bad = tmp_path / "bad.toml"
    bad.write_text(body)
    assert main(["signal", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("drain: error:") and key in err
    assert _reports(tmp_path) == []


def test_cli_as_of_without_data_exits_2(tmp_path, capsys):
    assert main(["signal", "--as-of", "2010-05-03"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2010-05-03" in err
    assert main(["signal", "--as-of", "not-a-date"]) == 2
    assert _reports(tmp_path) == []


def test_cli_writes_the_run_folder(tmp_path, capsys):
    assert main(["signal", "--as-of", "2025-11-28"]) == 0
    out = capsys.readouterr().out
    assert "STLFSI4" in out and "NFCI" in out and "abundant" in out
    assert _reports(tmp_path) == ["signal-2025-11-28"]  # no temp folder left behind
    folder = tmp_path / "reports" / "signal-2025-11-28"
    assert {p.name for p in folder.iterdir()} >= {"signal.csv", "signal.html", "signal.png"}
    frame = pd.read_csv(folder / "signal.csv", index_col="date", parse_dates=["date"])
    assert frame.index[-1] == pd.Timestamp("2025-11-28")
    assert {"composite", "composite_ungated", "regime", "raw_sofr_iorb", "z_sofr_iorb"} <= set(
        frame.columns)
    html = (folder / "signal.html").read_text()
    assert "<script" in html and 'src="http' not in html  # no CDN script: a shared copy
    assert f"src='../{plotly_file_name()}'" in html
    assert html.count('"type":"rect"') >= 3  # the regime shading (plotly drops early shapes)
