"""Truncation invariance: the signal computed from ``Dataset.as_of(t)`` equals the full-data
signal on every session up to ``t``, for every component, z-score, composite and regime."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drain_data import load_dataset
from signals import SignalConfig, compute_signal

CONFIGS = {
    "default": SignalConfig(),
    "pca-logistic": SignalConfig(combine="pca", gate="logistic", pca_min_periods=252),
    "rolling": SignalConfig(standardise="rolling", z_window=504, issuance_window=63,
                            spread_exclude_turns=False, spread_median_window=3),
}

DATES = st.dates(min_value=dt.date(2014, 1, 2), max_value=dt.date(2026, 7, 31))
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def full(dataset):
    return {name: compute_signal(dataset, config) for name, config in CONFIGS.items()}


def _assert_prefix_equal(truncated, full, t):
    t = pd.Timestamp(t)
    for field in ("components", "zscores"):
        left = getattr(truncated, field)
        right = getattr(full, field).loc[:t]
        for column in right.columns:  # one component at a time, for a readable failure
            pd.testing.assert_series_equal(left[column], right[column], check_exact=True,
                                           obj=f"{field}[{column}] as of {t.date()}")
    for field in ("composite", "composite_ungated", "regime", "buffer_depleted"):
        pd.testing.assert_series_equal(getattr(truncated, field), getattr(full, field).loc[:t],
                                       check_exact=True, obj=f"{field} as of {t.date()}")


@pytest.mark.parametrize("name", list(CONFIGS))
@SETTINGS
@given(t=DATES)
@example(t=dt.date(2021, 7, 29))  # first IORB day
@example(t=dt.date(2025, 10, 31))  # month-end SOFR spike of the 2025 squeeze
@example(t=dt.date(2026, 1, 20))  # DTWEXBGS going stale
def test_signal_as_of_t_equals_full_signal_up_to_t(dataset, full, name, t):
    truncated = compute_signal(dataset.as_of(t), CONFIGS[name])
    _assert_prefix_equal(truncated, full[name], t)


def test_macro_history_before_the_prices_warms_up_the_zscores(dataset, full):
    # Prices start 2014-01-02; macro from 2010. The expanding z-scores of the macro components
    # are warmed up on 2010-2013, so the composite exists from the first price session.
    result = full["default"]
    assert dataset.sessions[0] == pd.Timestamp("2014-01-02")
    assert result.composite.first_valid_index() == dataset.sessions[0]
    assert not pd.isna(result.zscores.loc["2014-01-02", "dgs2_change"])
    # Price-based components cannot warm up on data that does not exist: HYG vs IEF needs a
    # credit window (63) plus a year of z-score history (252) of 2014+ prices.
    assert result.zscores["hy_credit"].first_valid_index() > pd.Timestamp("2015-01-01")
