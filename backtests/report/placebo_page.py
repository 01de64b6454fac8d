"""``drain placebo``'s run folder: the placebo study of one configuration and its page.

``placebo.html`` (plotly, self-contained): one histogram per placebo family and statistic with
the actual value marked, and the table of percentiles and p-values. ``placebo.json``: the
table, the actual statistics and the settings (seed, sizes, pool, window, data fingerprint);
``placebo_draws.csv``: every placebo's statistics, so anyone can recompute the table.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtests.evidence.placebo import (
    FAMILY_LABELS,
    FAMILY_NAMES,
    STAT_LABELS,
    STATS,
    PlaceboResult,
    PlaceboSetup,
    run_placebos,
)
from backtests.report.data_notes import no_notes, notes_html, prepared_run_notes
from backtests.run.config import RunConfig
from backtests.run.prepare import prepare_run
from drain_core.pages import figure_div, write_page
from drain_core.paths import atomic_run_dir, reports_root


def placebo_figure(result: PlaceboResult) -> go.Figure:
    """Histograms: a row per placebo family, a column per statistic, the actual as a red line
    (its value and p-value in the panel's title)."""
    families = list(result.draws)
    table = result.table().set_index(["family", "statistic"])
    titles = []
    for family in families:
        for stat in STATS:
            row = table.loc[(family, stat)]
            titles.append(f"{FAMILY_NAMES[family]}: {STAT_LABELS[stat]}<br>actual "
                          f"{row['actual']:.3g}, p = {row['p_value']:.3f}")
    fig = make_subplots(rows=len(families), cols=len(STATS), vertical_spacing=0.16,
                        subplot_titles=titles)
    for row, family in enumerate(families, start=1):
        for col, stat in enumerate(STATS, start=1):
            values = result.draws[family][stat].dropna()
            fig.add_trace(go.Histogram(x=values, nbinsx=40, marker_color="#8da0cb",
                                       showlegend=False, name=f"{family} {stat}"),
                          row=row, col=col)
            actual = result.actual[stat]
            if math.isfinite(actual):
                fig.add_vline(x=actual, line_color="#d62728", line_width=2, row=row, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=340 * len(families), width=1200, template="plotly_white",
                      margin={"t": 70, "l": 50, "r": 30, "b": 40})
    return fig


def _fmt(value, stat: str) -> str:
    if not isinstance(value, float):
        return html.escape(str(value))
    if not math.isfinite(value):
        return "-"
    return f"{value:.1%}" if stat in ("cagr", "max_drawdown") else f"{value:.3f}"


def _table_html(result: PlaceboResult) -> str:
    table = result.table()
    head = ("<tr><th>placebo family</th><th>statistic</th><th>actual</th><th>placebo median"
            "</th><th>5%-95%</th><th>percentile</th><th>p-value (MC s.e.)</th><th>N</th></tr>")
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            f"<tr><td>{html.escape(FAMILY_LABELS[r.family])}</td>"
            f"<td>{STAT_LABELS[r.statistic]}</td><td>{_fmt(r.actual, r.statistic)}</td>"
            f"<td>{_fmt(r.placebo_median, r.statistic)}</td>"
            f"<td>{_fmt(r.placebo_p05, r.statistic)} to {_fmt(r.placebo_p95, r.statistic)}</td>"
            f"<td>{r.percentile:.1f}</td><td>{r.p_value:.4f} ({r.p_value_se:.4f})</td>"
            f"<td>{r.n}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _notes(result: PlaceboResult) -> list[str]:
    s = result.settings
    first, last, sessions = s["window"]
    notes = [
        f"Sessions {first} to {last} ({sessions}); seed {s['seed']}; every placebo and the "
        f"actual run on the fast kernel (which agrees with the vectorbt engine to about 1e-13).",
        f"Sharpe ratios are of daily returns in excess of the cash rate the engine credits "
        f"({html.escape(s['cash_rate_ticker'])}, the 13-week T-bill, known at the previous "
        f"close, ACT/360); CAGR and drawdown are of total returns.",
        "p-value = (1 + #{placebo >= actual}) / (N + 1), one-sided (higher is better for all "
        "three statistics; a drawdown is negative), with its Monte-Carlo standard error "
        "sqrt(p (1 - p) / N); percentile = share of placebos below the actual (ties count half).",
    ]
    if "mean_block" in s:
        notes.append(f"Block bootstrap: stationary bootstrap of the composite's known path, "
                     f"mean block {s['mean_block']:g} sessions, regimes re-derived with the "
                     f"configured thresholds and hysteresis (a surrogate's regime starts from "
                     f"the plain thresholds on the first session).")
    if "min_shift" in s:
        notes.append(f"Circular shift: the composite's known path rotated by {s['min_shift']} "
                     f"sessions or more (drawn without replacement), regimes re-derived.")
    if "basket_pool" in s:
        pool = s["basket_pool"]
        notes.append(f"Random baskets: long and short baskets of the configured sizes "
                     f"({s['basket_sizes'][0]} and {s['basket_sizes'][1]} names), disjoint, "
                     f"drawn from the {len(pool)} tickers priced on the first and last session "
                     f"and on at least 99% of the others, with an annualised volatility of at "
                     f"least {s['min_volatility']:.0%} there (the hedge asset, index levels, "
                     f"cash, short bond, credit and dollar funds left out: they would swamp an "
                     f"inverse-volatility basket): {html.escape(', '.join(pool))}. The actual "
                     f"baskets need not meet that rule (members may join or leave inside the "
                     f"window).")
    return notes


def write_placebo_page(result: PlaceboResult, path: Path, title: str,
                       notes: list[str] | None = None) -> None:
    """The HTML page (plotly.js shared with the reports folder, see ``drain_core.pages``), with
    the actual run's data ``notes`` (``backtests.report.data_notes``)."""
    figure = figure_div(placebo_figure(result))
    settings = "".join(f"<li>{n}</li>" for n in _notes(result))
    css = ("body{font-family:sans-serif;margin:24px;max-width:1250px}"
           "table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;"
           "padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}")
    body = (
        f"<h1>{html.escape(title)}</h1>"
        "<p>Would a signal without this timing, or baskets picked at random, have done as "
        "well? Each placebo keeps everything else of the configuration.</p>"
        f"{_table_html(result)}<ul>{settings}</ul>{notes_html(notes or [])}{figure}"
    )
    write_page(path, title, body, css=css)


def save_placebo_run(result: PlaceboResult, name: str, config: RunConfig,
                     notes: dict[str, list] | None = None) -> Path:
    """Write the run folder atomically; return its final path. ``notes`` are the actual run's
    data notes (``backtests.report.data_notes.data_notes``)."""
    notes = notes or no_notes()
    with atomic_run_dir(name) as tmp:
        write_placebo_page(result, tmp / "placebo.html", f"Placebo backtests: {name}",
                           notes["data_notes"])
        draws = pd.concat([frame.assign(family=family, placebo=range(len(frame)))
                           for family, frame in result.draws.items()], ignore_index=True)
        draws[["family", "placebo", *STATS]].to_csv(tmp / "placebo_draws.csv", index=False)
        manifest = {"actual": result.actual, "table": result.table().to_dict(orient="records"),
                    "settings": result.settings, "config": config.to_dict(), **notes}
        (tmp / "placebo.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return reports_root() / name


def placebo_report(config: RunConfig, name: str, *, kind: str = "both", n: int = 1000,
                   seed: int = 0, start: str | None = None, end: str | None = None,
                   dataset=None, executor=None) -> tuple[PlaceboResult, Path]:
    """Prepare the configuration's run, run its placebos, write the run folder (with the
    actual run's data notes: a ticker whose data ends inside the window)."""
    prepared = prepare_run(config, dataset, start=start, end=end)
    result = run_placebos(PlaceboSetup.from_prepared(prepared), kind=kind, n=n, seed=seed,
                          executor=executor)
    return result, save_placebo_run(result, name, config, prepared_run_notes(prepared))
