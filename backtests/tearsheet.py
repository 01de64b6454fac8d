"""quantstats HTML tearsheets, with the traps of quantstats 0.0.86 handled in one place.

- quantstats annualises with 252 periods; so does the engine (vectorbt's year_freq is set to
  252 days in ``backtests.engine``), so the two agree.
- it crashes on a timezone-aware benchmark: both series are made tz-naive here.
- it asks matplotlib for Arial hundreds of times on Linux: a font that exists is configured.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd

PERIODS_PER_YEAR = 252


def _naive(series: pd.Series) -> pd.Series:
    series = series.copy()
    index = pd.DatetimeIndex(series.index)
    series.index = index.tz_localize(None) if index.tz is not None else index
    return series.astype(float)


def write_tearsheet(returns: pd.Series, benchmark: pd.Series, path: Path, title: str) -> Path:
    """Write a quantstats HTML tearsheet of ``returns`` against ``benchmark`` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    strategy = _naive(returns).rename("Strategy")
    bench = _naive(benchmark).reindex(strategy.index).fillna(0.0).rename("Benchmark")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qs.reports.html(
            strategy,
            benchmark=bench,
            output=str(path),
            title=title,
            periods_per_year=PERIODS_PER_YEAR,
            download_filename=path.name,
        )
    return path
