"""The tearsheet's year-by-year bars, drawn here: quantstats 0.0.86 misplaces them.

Its ``plots.yearly_returns`` puts the bars at the years' dates but the labels at positions
0, 1, 2, ... of the same axis, so the labels crowd at the left and the bars sit at the right
(or ten years of bars sit under five labels). Here every year is one category position with its
label under it, strategy and benchmark bars side by side, and the strategy's mean year dashed.
The signature is quantstats' own, so the tearsheet calls it in the same place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

STRATEGY_COLOUR = "#348dc1"  # quantstats' own strategy and benchmark colours
BENCHMARK_COLOUR = "#fedd78"


def calendar_year_returns(returns: pd.Series) -> pd.Series:
    """Compounded return of each calendar year present in ``returns`` (index: the year)."""
    r = returns.fillna(0.0)
    return (1.0 + r).groupby(r.index.year).prod() - 1.0


def yearly_returns(returns: pd.Series, benchmark: pd.Series | None = None, *,
                   figsize: tuple[float, float] = (8, 4), savefig: dict | str | None = None,
                   show: bool = False, **_ignored: Any):
    """Bars of each calendar year's compounded return, benchmark beside, labels under bars."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    years = calendar_year_returns(returns)
    bench = calendar_year_returns(benchmark).reindex(years.index) if benchmark is not None \
        else None
    fig, ax = plt.subplots(figsize=figsize)
    x = np.arange(len(years))
    width = 0.4 if bench is not None else 0.7
    if bench is not None:
        ax.bar(x - width / 2, bench.to_numpy(), width, color=BENCHMARK_COLOUR,
               label=str(benchmark.name or "Benchmark"))
    ax.bar(x + (width / 2 if bench is not None else 0.0), years.to_numpy(), width,
           color=STRATEGY_COLOUR, label=str(returns.name or "Strategy"))
    ax.axhline(float(years.mean()), color="red", lw=1.2, ls="--",
               label=f"{returns.name or 'Strategy'} mean")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(x, [str(y) for y in years.index])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title("EOY Returns vs Benchmark" if bench is not None else "EOY Returns",
                 fontweight="bold")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    if savefig:
        fig.savefig(**savefig) if isinstance(savefig, dict) else fig.savefig(savefig)
    if show:
        plt.show()
    plt.close(fig)
    return None
