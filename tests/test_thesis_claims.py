"""Claims on synthetic data: point-in-time event windows, planted effects, missing data, report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from drain_data.store import Dataset
from tests.test_thesis_data import SPEC, Plant, synthetic_dataset, synthetic_signal
from thesis import (
    CLAIMS,
    ThesisConfig,
    against_capex_surges,
    build_inputs,
    capex_stimulus,
    crowding_out,
    crypto_gauge,
    duration,
    run_claims,
    write_report,
)
from thesis.result import INSUFFICIENT, SUPPORTED

FAST = ThesisConfig(bootstrap_reps=100)


@pytest.fixture(scope="module")
def default_run():
    """Every claim on the default synthetic data (no planted effect), computed once."""
    return run_claims(_inputs())


def _inputs(plant=None, *, crypto=True, config=FAST):
    dataset, signal = synthetic_dataset(plant=plant, crypto=crypto)
    return build_inputs(dataset, signal=signal, config=config)


def _jumps_around_deals(offset: int, size: float) -> dict[str, list]:
    dataset, _ = synthetic_dataset()
    sessions = dataset.sessions
    days = []
    for avail in dataset.issuance["available_at"]:
        days.append((sessions[sessions.get_loc(avail) + offset], size))
    return {ticker: days for ticker in SPEC}


# --- event windows are point in time ---------------------------------------------------------


def test_day0_is_available_at_and_coarse_dates_mark_the_pre_window_uncertain():
    inputs = _inputs()
    deals = capex_stimulus.deal_table(inputs)
    month = deals[deals["date_precision"] == "month"]
    assert pd.Timestamp("2017-12-01") in set(month["available_at"])  # deal dated 2017-11-02
    assert deals["pre_window_uncertain"].tolist() == (deals["date_precision"] != "day").tolist()
    result = capex_stimulus.run(inputs)
    per_event = result.stats["per_event"]
    assert (per_event["day0"] == per_event["available_at"]).all()
    table = result.tables["each deal (pre = -5..0, post = +1..+20)"]
    assert table.loc[month.index, "pre_window_uncertain"].all()


def test_a_jump_on_the_session_before_available_at_is_not_post_event():
    inputs = _inputs(Plant(jumps=_jumps_around_deals(-1, 0.20)))
    result = capex_stimulus.run(inputs)
    per = result.stats["per_event"]
    spec = per[per["asset"] == "speculative"]
    assert abs(spec["car_post"].mean()) < 0.03
    assert spec["car_pre"].mean() > 0.15


def test_a_jump_after_available_at_is_recovered_as_post_event():
    inputs = _inputs(Plant(jumps=_jumps_around_deals(+2, 0.20)))
    result = capex_stimulus.run(inputs)
    summary = result.stats["car_summary"]
    row = summary[(summary["asset"] == "speculative") & (summary["group"] == "all deals")].iloc[0]
    assert abs(row["caar"] - 0.20) < 0.04 and row["t"] > 2
    spec_test = result.subtests[1]
    assert spec_test.estimate > 0.15 and spec_test.verdict == SUPPORTED


# --- planted effects through whole claims ----------------------------------------------------


def test_duration_claim_is_supported_when_planted_and_not_otherwise():
    planted = Plant(drain_drift_spec=-0.003, drain_drift_cash=0.001, beta_spec=-0.05,
                    beta_cash=0.02)
    result = duration.run(_inputs(planted))
    assert result.verdict == SUPPORTED, [(s.name, s.verdict) for s in result.subtests]
    betas = result.tables["assets ranked by drain beta"]
    assets = betas[betas["group"] != "basket"]
    assert set(assets.head(len(SPEC))["group"]) == {"speculative"}  # most negative first
    null = duration.run(_inputs())
    assert null.verdict != SUPPORTED


def test_crypto_beta_is_found_when_planted():
    result = crypto_gauge.run(_inputs(Plant(beta_spec=-0.08)))
    beta = result.subtests[0]
    assert beta.estimate < 0 and beta.verdict == SUPPORTED
    assert "break_test" in result.stats


def test_depletion_date_needs_the_buffer_to_have_been_full():
    days = pd.bdate_range("2018-01-01", periods=400)
    rrp = pd.Series(np.r_[np.full(100, 20.0), np.full(150, 1500.0), np.full(150, 30.0)],
                    index=days)
    date = crowding_out.first_depletion(rrp, 1000.0, 100.0, 63)
    assert date == days[250 + 31]  # the 63-session median crosses once 32 low values are in
    assert crowding_out.first_depletion(rrp[:250], 1000.0, 100.0, 63) is None


def test_crowding_out_splits_at_the_configured_date():
    inputs = _inputs(config=FAST.replace(depletion_date="2020-01-02"))
    result = crowding_out.run(inputs)
    assert result.stats["split_date"] == pd.Timestamp("2020-01-02")
    assert result.verdict != INSUFFICIENT
    assert "2020-01-02" in result.headline


# --- missing data ----------------------------------------------------------------------------


def _cut(dataset: Dataset, signal, sessions: int):
    last = dataset.sessions[sessions - 1]
    short = dataset.as_of(last)
    cut = synthetic_signal(short.sessions)
    del signal
    return short, cut


def test_a_dataset_of_forty_sessions_is_insufficient_everywhere_without_crashing(tmp_path):
    dataset, signal = synthetic_dataset()
    short, cut = _cut(dataset, signal, 40)
    run = run_claims(build_inputs(short, signal=cut, config=FAST))
    assert len(run.claims) == 8
    for claim in run.claims:
        assert claim.verdict == INSUFFICIENT, claim.key
        assert claim.reason, claim.key
    write_report(run.claims, tmp_path, run.meta())
    document = json.loads((tmp_path / "thesis.json").read_text())
    assert all(c["verdict"] == INSUFFICIENT for c in document["claims"])


def test_without_crypto_only_the_crypto_claim_is_insufficient():
    run = run_claims(_inputs(crypto=False))
    verdicts = {c.key: c for c in run.claims}
    assert verdicts["crypto_gauge"].verdict == INSUFFICIENT
    assert "BTC-USD" in verdicts["crypto_gauge"].reason
    assert verdicts["duration"].verdict != INSUFFICIENT
    assert verdicts["capex_stimulus"].verdict != INSUFFICIENT


def test_no_bond_deals_makes_claim_one_insufficient():
    dataset, signal = synthetic_dataset()
    empty = Dataset(prices=dataset.prices, macro=dataset.macro, capex=dataset.capex,
                    issuance=dataset.issuance.iloc[:0])
    run = run_claims(build_inputs(empty, signal=signal, config=FAST), (CLAIMS["capex_stimulus"],))
    claim = run.claims[0]
    assert claim.verdict == INSUFFICIENT and "bond deals" in claim.reason


# --- the report ------------------------------------------------------------------------------


def test_report_is_self_contained_json_has_no_nan(tmp_path, default_run):
    from plotly.offline import get_plotlyjs

    run = default_run
    shared = tmp_path / "shared"
    shared.mkdir()
    write_report(run.claims, shared, run.meta())  # plotly.js from the reports folder
    assert "<script src='../plotly-" in (shared / "index.html").read_text()
    write_report(run.claims, tmp_path, run.meta(), self_contained=True)
    text = (tmp_path / "index.html").read_text()
    assert text.count(get_plotlyjs()[:200]) == 1  # plotly.js inlined exactly once
    assert "<script src=" not in text  # nothing fetched at read time
    figures = sum(len(c.figures) for c in run.claims)
    assert figures >= 10 and text.count("Plotly.newPlot") == figures
    raw = (tmp_path / "thesis.json").read_text()
    assert "NaN" not in raw and "Infinity" not in raw
    document = json.loads(raw)
    assert {c["key"] for c in document["claims"]} == {c.key for c in run.claims}
    assert document["rule"]["subtest"].startswith("Each sub-test")
    for claim in document["claims"]:
        assert claim["verdict"] in ("supported", "mixed", "not supported", "insufficient data")


@pytest.mark.parametrize("key", ["capex_stimulus", "funding_costs", "capex_surges"])
def test_each_claim_reports_sample_sizes(key, default_run):
    claim = next(c for c in default_run.claims if c.key == key)
    assert claim.subtests and all(s.n > 0 or s.reason for s in claim.subtests)


def test_capex_surges_use_only_releases_inside_the_window():
    dataset, signal = synthetic_dataset()
    inputs = build_inputs(dataset, signal=signal, config=FAST, start="2019-01-02")
    result = against_capex_surges.run(inputs)
    used = result.stats["events"].dropna(subset=["excess"])
    assert len(used) and (used["available_at"] >= pd.Timestamp("2019-01-02")).all()
