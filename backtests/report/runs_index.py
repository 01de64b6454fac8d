"""``reports/index.html``: every run folder, newest first, with its kind, window, variant,
headline statistic and a link to each of its pages.

A run folder that cannot be read (a damaged JSON file, a missing key) is listed with a note
saying why, and never stops the index from being written.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

from drain_core.fs import write_text
from drain_core.paths import RUNS_INDEX

# kind -> (main page, file with headline numbers)
KINDS = {
    "backtest": ("report.html", "stats.json"),
    "tune": ("overfitting.html", "summary.json"),
    "thesis": ("index.html", "thesis.json"),
    "signal": ("signal.html", None),
    "placebo": ("placebo.html", "placebo.json"),
}
CSS = ("body{font-family:sans-serif;margin:2em;font-size:14px}td,th{padding:4px 10px;"
       "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
       ".links a{margin-right:.7em}.note{color:#a00}")


def _kind(run_dir: Path) -> str | None:
    for kind, (main, numbers) in KINDS.items():
        if (run_dir / main).exists() and (numbers is None or (run_dir / numbers).exists()):
            return kind
    return None


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _headline(kind: str, run_dir: Path) -> str:
    if kind == "backtest":
        stats = _json(run_dir / "stats.json")
        s = stats.get("statistics", stats).get("strategy", {})
        return (f"CAGR {_pct(s.get('cagr'))}, Sharpe {_num(s.get('sharpe'))}, "
                f"max drawdown {_pct(s.get('max_drawdown'))}")
    if kind == "tune":
        s = _json(run_dir / "summary.json")
        return (f"{s.get('n_trials', '?')} trials, OOS Sharpe {_num(s.get('oos_sharpe'))}, "
                f"DSR {_num(s.get('dsr'))}, PBO {_pct(s.get('pbo'))}")
    if kind == "thesis":
        claims = _json(run_dir / "thesis.json").get("claims", [])
        verdicts = [c.get("verdict") for c in claims]
        return ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts)) or ""
    if kind == "placebo":
        rows = _json(run_dir / "placebo.json").get("table", [])
        sharpe = [r for r in rows if isinstance(r, dict) and r.get("statistic") == "sharpe"]
        return ", ".join(f"{r.get('family')}: Sharpe p {_num(r.get('p_value'))}" for r in sharpe)
    return ""


def _details(kind: str, run_dir: Path) -> tuple[str, str, datetime]:
    """The run's window, variant and when it was written (manifest, else the main page)."""
    manifest = _json(run_dir / "manifest.json")
    meta = _json(run_dir / "thesis.json").get("meta", {}) if kind == "thesis" else {}
    start = manifest.get("start") or meta.get("start")
    end = manifest.get("end") or meta.get("end")
    window = f"{start} to {end}" if start or end else "–"
    config = manifest.get("config", {})
    strategy = config.get("strategy", {}) if isinstance(config, dict) else {}
    variant = strategy.get("variant") or manifest.get("variant") or "–"
    created = manifest.get("created_at")
    when = (datetime.fromisoformat(created) if created else
            datetime.fromtimestamp((run_dir / KINDS[kind][0]).stat().st_mtime, UTC))
    return window, str(variant), when if when.tzinfo else when.replace(tzinfo=UTC)


def _pages(run_dir: Path, main: str) -> list[str]:
    """Every HTML page of the run (subfolders included), the main page first."""
    pages = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.html")
                   if not any(part.startswith(".") for part in p.relative_to(run_dir).parts))
    return [main] + [p for p in pages if p != main]


def _row(run_dir: Path, kind: str) -> tuple[datetime, str]:
    window, variant, when = _details(kind, run_dir)
    headline = _headline(kind, run_dir)
    name = html.escape(run_dir.name)
    links = "".join(f"<a href='{name}/{html.escape(p)}'>{html.escape(p)}</a>"
                    for p in _pages(run_dir, KINDS[kind][0]))
    return when, (f"<tr><td><a href='{name}/{KINDS[kind][0]}'>{name}</a></td><td>{kind}</td>"
                  f"<td>{when:%Y-%m-%d %H:%M}</td><td>{html.escape(window)}</td>"
                  f"<td>{html.escape(variant)}</td><td>{html.escape(headline)}</td>"
                  f"<td class='links'>{links}</td></tr>")


def update_index(root: Path) -> Path:
    """Rewrite ``root/index.html`` (``RUNS_INDEX``, atomically) from the run folders under
    ``root``."""
    rows, damaged = [], []
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        kind = _kind(run_dir)
        if kind is None:
            continue
        try:
            rows.append(_row(run_dir, kind))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            damaged.append(f"<li>{html.escape(run_dir.name)}: skipped, it cannot be read "
                           f"({html.escape(type(exc).__name__)}: {html.escape(str(exc)[:120])})"
                           f"</li>")
    rows.sort(key=lambda row: row[0], reverse=True)
    notes = f"<p class='note'>Damaged run folders:</p><ul class='note'>{''.join(damaged)}</ul>" \
        if damaged else ""
    page = (
        "<!doctype html><meta charset='utf-8'><title>liquidity-drain runs</title>"
        f"<style>{CSS}</style><h1>liquidity-drain runs</h1><p>Newest first. A backtest's Sharpe "
        "is of returns in excess of the cash rate it credited (named on its pages).</p>"
        "<table><tr><th>run</th><th>kind</th><th>written (UTC)</th><th>window</th>"
        "<th>variant</th><th>headline</th><th>pages</th></tr>"
        f"{''.join(row for _, row in rows)}</table>{notes}"
    )
    return write_text(root / RUNS_INDEX, page, "write the runs index")
