"""``drain signal``: compute the liquidity-drain signal, write its CSV and plots, print a summary.

Writes ``reports/signal-<as-of date or latest>/`` (or ``--name``) atomically: ``signal.csv``,
``signal.html`` (plotly, self-contained), ``signal.png`` (matplotlib) and ``config.json``. Prints
the latest reading per component, the composite's correlation with STLFSI4 and NFCI (published
stress indices: a comparison only, never an input) and the share of days in each regime.
"""

from __future__ import annotations

import argparse
from importlib import resources

from drain_data.errors import DrainError

REGIME_COLOURS = {"abundant": "#2ca02c", "draining": "#ff7f0e", "scarce": "#d62728"}
PLOT_START = "2014-01-01"
COMPARISONS = ("STLFSI4", "NFCI")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --as-of, --name."""
    parser.add_argument("--config", metavar="F",
                        help="TOML file whose [signal] section sets the parameters "
                             "(default: drain_cli/configs/default.toml)")
    parser.add_argument("--as-of", metavar="DATE", dest="as_of",
                        help="compute with only what was known at the close of DATE (YYYY-MM-DD)")
    parser.add_argument("--name", metavar="NAME",
                        help="output folder under the reports root "
                             "(default: signal-<as-of date> or signal-latest)")


def _load_config(path: str | None):
    from signals import SignalConfig

    if path:
        return SignalConfig.from_toml(path, section="signal")
    default = resources.files("drain_cli") / "configs" / "default.toml"
    if default.is_file():
        with resources.as_file(default) as real:
            return SignalConfig.from_toml(real, section="signal")
    return SignalConfig()


def _parse_as_of(text: str | None):
    import pandas as pd

    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise DrainError(f"--as-of: {text!r} is not a date; use YYYY-MM-DD") from None
    if stamp is pd.NaT or stamp.tzinfo is not None:
        raise DrainError(f"--as-of: {text!r} is not a plain date; use YYYY-MM-DD")
    return stamp.normalize()


def _folder_name(name: str | None, as_of) -> str:
    if name is None:
        return f"signal-{as_of.date().isoformat()}" if as_of is not None else "signal-latest"
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise DrainError(f"--name: {name!r} is not a plain folder name")
    return name


def run(args: argparse.Namespace) -> int:
    """Load config and data, compute the signal, write the run folder, print the summary."""
    import json
    import time

    from drain_data import load_dataset
    from drain_data.paths import atomic_run_dir, reports_root
    from signals import compute_signal

    started = time.perf_counter()
    config = _load_config(args.config)  # a bad config fails before any data or output
    as_of = _parse_as_of(args.as_of)
    folder = _folder_name(args.name, as_of)

    dataset = load_dataset()
    if as_of is not None:
        first, last = dataset.sessions[0], dataset.sessions[-1]
        if as_of < first or as_of > last:
            raise DrainError(
                f"--as-of: no data for {as_of.date()}; the data covers {first.date()} to "
                f"{last.date()}"
            )
        dataset = dataset.as_of(as_of)
    result = compute_signal(dataset, config)
    frame = result.to_frame()
    if frame["composite"].notna().sum() == 0:
        raise DrainError(
            f"no composite value up to {dataset.sessions[-1].date()}: the z-scores need "
            f"{config.z_min_periods} sessions of history; choose a later --as-of"
        )
    comparisons = _comparisons(dataset, result)

    with atomic_run_dir(folder) as tmp:
        frame.to_csv(tmp / "signal.csv", date_format="%Y-%m-%d")
        _plot_html(dataset, result, tmp / "signal.html")
        _plot_png(dataset, result, tmp / "signal.png")
        manifest = {
            "as_of": str(dataset.sessions[-1].date()),
            "dataset_fingerprint": dataset.fingerprint(),
            "config": config.to_dict(),
        }
        (tmp / "config.json").write_text(json.dumps(manifest, indent=2) + "\n")

    _print_summary(result, config, comparisons, reports_root() / folder,
                   time.perf_counter() - started)
    return 0


# --- comparisons ----------------------------------------------------------------------------


def _comparisons(dataset, result):
    """Correlation of the composite with the published stress indices on weekly samples.

    The indices are aligned by ``Dataset.macro_daily`` (the value published by each session's
    close); values more than two weeks past an index's last release are dropped, not held.
    The sample is the last session of each week. Reported: correlation of levels and of
    4-week changes, with the number of weeks.
    """
    import pandas as pd

    rows = []
    known = set(dataset.macro["series"])
    names = [n for n in COMPARISONS if n in known]
    if not names:
        return pd.DataFrame(columns=["index", "signal", "level", "change_4w", "weeks"])
    ref = dataset.macro_daily(names)
    for name in names:
        last = dataset.macro.loc[dataset.macro["series"] == name, "available_at"].max()
        ref.loc[ref.index > last + pd.Timedelta(days=14), name] = float("nan")
    both = pd.concat(
        [result.composite.rename("composite"),
         result.composite_ungated.rename("composite_ungated"), ref], axis=1
    )
    week = both.index.to_period("W-FRI")
    weekly = both.groupby(week).tail(1)
    for name in names:
        for signal in ("composite", "composite_ungated"):
            pair = weekly[[signal, name]].dropna()
            change = pair.diff(4).dropna()
            rows.append({
                "index": name,
                "signal": signal,
                "level": pair[signal].corr(pair[name]) if len(pair) > 2 else float("nan"),
                "change_4w": (change[signal].corr(change[name]) if len(change) > 2
                              else float("nan")),
                "weeks": len(pair),
                "first": pair.index.min(),
                "last": pair.index.max(),
            })
    return pd.DataFrame(rows)


# --- plots ----------------------------------------------------------------------------------


def _regime_runs(regime):
    """(start, end, regime) for each run of one regime; end = the next run's first day."""
    values = [None if v != v else v for v in regime.astype(object).tolist()]
    index = regime.index
    runs = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            if values[start] is not None:
                runs.append((index[start], index[min(i, len(values) - 1)], values[start]))
            start = i
    return runs


def _markets(dataset):
    import pandas as pd

    cols = [c for c in ("SPY", "BTC-USD") if c in dataset.prices.columns]
    return dataset.prices[cols].loc[pd.Timestamp(PLOT_START):] if cols else None


def _plot_html(dataset, result, path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    z = result.zscores.loc[PLOT_START:]
    composite = result.composite.loc[PLOT_START:]
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.4, 0.35, 0.25],
        subplot_titles=("Liquidity-drain composite (shaded by regime)",
                        "Component z-scores (expanding, winsorised; higher = more drain)",
                        "SPY and BTC-USD (log scale)"),
    )
    for start, end, regime in _regime_runs(result.regime.loc[PLOT_START:]):
        fig.add_vrect(x0=start, x1=end, fillcolor=REGIME_COLOURS[regime], opacity=0.15,
                      line_width=0, layer="below", row=1, col=1)
    fig.add_trace(go.Scatter(x=composite.index, y=composite, name="composite (gated)",
                             line={"color": "black", "width": 1.4}), row=1, col=1)
    fig.add_trace(go.Scatter(x=composite.index, y=result.composite_ungated.loc[PLOT_START:],
                             name="composite (ungated)",
                             line={"color": "#1f77b4", "width": 1, "dash": "dot"}), row=1, col=1)
    for regime, colour in REGIME_COLOURS.items():  # legend entries for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=regime,
                                 marker={"color": colour, "symbol": "square", "size": 12,
                                         "opacity": 0.4}), row=1, col=1)
    fig.add_trace(go.Heatmap(x=z.index, y=list(z.columns), z=z.T.to_numpy(), zmin=-3, zmax=3,
                             colorscale="RdBu", reversescale=True, showscale=True,
                             colorbar={"title": "z", "len": 0.33, "y": 0.47}, name="z-scores"),
                  row=2, col=1)
    markets = _markets(dataset)
    if markets is not None:
        for col, colour in zip(markets.columns, ("#1f77b4", "#ff7f0e"), strict=False):
            series = markets[col].dropna()
            fig.add_trace(go.Scatter(x=series.index, y=series, name=col,
                                     line={"color": colour, "width": 1}), row=3, col=1)
        fig.update_yaxes(type="log", row=3, col=1)
    fig.update_xaxes(range=[PLOT_START, str(result.composite.index[-1].date())])
    fig.update_layout(height=1000, template="plotly_white", hovermode="x unified",
                      title=f"liquidity-drain signal as of {result.composite.index[-1].date()}")
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def _plot_png(dataset, result, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from matplotlib.patches import Patch

    z = result.zscores.loc[PLOT_START:]
    composite = result.composite.loc[PLOT_START:]
    fig, axes = plt.subplots(3, 1, figsize=(14, 12), sharex=True,
                             gridspec_kw={"height_ratios": [4, 4, 2.5]})
    ax = axes[0]
    for start, end, regime in _regime_runs(result.regime.loc[PLOT_START:]):
        ax.axvspan(start, end, color=REGIME_COLOURS[regime], alpha=0.18, lw=0)
    ax.plot(composite.index, composite, color="black", lw=1.0, label="composite (gated)")
    ax.plot(composite.index, result.composite_ungated.loc[PLOT_START:], color="#1f77b4", lw=0.8,
            ls=":", label="composite (ungated)")
    ax.axhline(0, color="grey", lw=0.5)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=c, alpha=0.3, label=r) for r, c in REGIME_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=8, ncol=5)
    ax.set_title(f"Liquidity-drain composite, as of {result.composite.index[-1].date()} "
                 f"(shaded by regime)")
    ax = axes[1]
    # one image column per calendar day (each session's z held to the next session): imshow is
    # an order of magnitude faster than a 47,000-cell pcolormesh and the time axis stays exact
    days = z.reindex(pd.date_range(z.index[0], z.index[-1] + pd.Timedelta(days=1)), method="ffill")
    extent = (mdates.date2num(days.index[0]), mdates.date2num(days.index[-1]), len(z.columns), 0)
    mesh = ax.imshow(days.T.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3,
                     extent=extent, interpolation="nearest")
    ax.set_yticks(np.arange(len(z.columns)) + 0.5, labels=list(z.columns), fontsize=8)
    ax.set_title("Component z-scores (expanding, winsorised; red = more drain)")
    fig.colorbar(mesh, cax=ax.inset_axes([1.005, 0.0, 0.012, 1.0]), label="z")
    ax = axes[2]
    markets = _markets(dataset)
    if markets is not None:
        for col, colour in zip(markets.columns, ("#1f77b4", "#ff7f0e"), strict=False):
            series = markets[col].dropna()
            ax.plot(series.index, series, lw=0.9, color=colour, label=col)
        ax.set_yscale("log")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title("SPY and BTC-USD (log scale)")
    ax.set_xlim(np.datetime64(PLOT_START), result.composite.index[-1])
    for a in axes:
        a.grid(alpha=0.3, lw=0.5)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# --- console summary ------------------------------------------------------------------------


def _fmt(value, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def _print_summary(result, config, comparisons, out_dir, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from signals import PILLARS

    console = Console()
    pillar_of = {c: p for p, names in PILLARS.items() for c in names}
    last = result.composite.index[-1]
    table = Table(title=f"Latest reading per component (as of {last.date()})")
    for col, justify in (("component", "left"), ("pillar", "left"), ("raw", "right"),
                         ("z", "right"), ("last value on", "left"), ("weight", "right"),
                         ("gated", "left")):
        table.add_column(col, justify=justify)
    for name in result.components.columns:
        raw = result.components[name]
        valid = raw.dropna()
        table.add_row(
            name, pillar_of.get(name, ""), _fmt(raw.iloc[-1]), _fmt(result.zscores[name].iloc[-1]),
            str(valid.index[-1].date()) if len(valid) else "never",
            _fmt(config.weight(name)), "yes" if name in config.gated_components else "",
        )
    console.print(table)
    valid = result.composite.dropna()
    latest = valid.index[-1]
    console.print(
        f"composite {_fmt(valid.iloc[-1])} (ungated {_fmt(result.composite_ungated[latest])}) "
        f"on {latest.date()}: regime [bold]{result.regime[latest]}[/bold], buffer "
        f"{'depleted' if result.buffer_depleted[latest] else 'not depleted'} "
        f"(gate {config.gate}, combine {config.combine})"
    )

    corr = Table(title="Correlation with published stress indices (comparison only, weekly)")
    for col in ("index", "composite", "levels", "4-week changes", "weeks", "sample"):
        left = col in ("index", "composite", "sample")
        corr.add_column(col, justify="left" if left else "right")
    for row in comparisons.itertuples(index=False):
        sample = f"{row.first.date()} to {row.last.date()}" if row.weeks else ""
        corr.add_row(row.index, row.signal.replace("composite_", "").replace("composite", "gated"),
                     _fmt(row.level), _fmt(row.change_4w),
                     str(row.weeks), sample)
    console.print(corr)

    regimes = Table(title="Share of days in each regime")
    for col in ("regime", "days", "share"):
        regimes.add_column(col, justify="left" if col == "regime" else "right")
    counts = result.regime.value_counts(sort=False)
    total = int(counts.sum())
    for regime, days in counts.items():
        regimes.add_row(str(regime), str(int(days)), f"{days / total:.1%}" if total else "-")
    regimes.add_row("(no composite)", str(int(result.regime.isna().sum())), "")
    console.print(regimes)
    console.print(f"wrote {out_dir}/ (signal.csv, signal.html, signal.png, config.json) "
                  f"in {seconds:.1f}s")
