"""``reports/index.html``: one row per run folder of any kind, linking to its main page."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

from drain_core.fs import write_text

# kind -> (main page, second page, file with headline numbers)
KINDS = {
    "backtest": ("report.html", "tearsheet.html", "stats.json"),
    "tune": ("overfitting.html", "oos_tearsheet.html", "summary.json"),
    "thesis": ("index.html", None, "thesis.json"),
    "signal": ("signal.html", "signal.png", None),
}


def _kind(run_dir: Path) -> str | None:
    for kind, (main, _, numbers) in KINDS.items():
        if (run_dir / main).exists() and (numbers is None or (run_dir / numbers).exists()):
            return kind
    return None


def _headline(kind: str, run_dir: Path) -> str:
    def pct(value) -> str:
        return "-" if value is None else f"{value:.1%}"

    def num(value) -> str:
        return "-" if value is None else f"{value:.2f}"

    if kind == "backtest":
        s = json.loads((run_dir / "stats.json").read_text()).get("strategy", {})
        return (f"CAGR {pct(s.get('cagr'))}, Sharpe {num(s.get('sharpe'))}, "
                f"max drawdown {pct(s.get('max_drawdown'))}")
    if kind == "tune":
        s = json.loads((run_dir / "summary.json").read_text())
        return (f"{s.get('n_trials', '?')} trials, OOS Sharpe {num(s.get('oos_sharpe'))}, "
                f"DSR {num(s.get('dsr'))}, PBO {pct(s.get('pbo'))}")
    return ""


def update_index(root: Path) -> Path:
    """Rewrite ``root/index.html`` (atomically) from the run folders found under ``root``."""
    rows = []
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        kind = _kind(run_dir)
        if kind is None:
            continue
        main, second, _ = KINDS[kind]
        when = datetime.fromtimestamp((run_dir / main).stat().st_mtime, UTC)
        try:
            headline = _headline(kind, run_dir)
        except (OSError, ValueError, AttributeError, TypeError):  # a damaged sibling run
            headline = "unreadable headline numbers (damaged run folder)"
        name = html.escape(run_dir.name)
        extra = f"<a href='{name}/{second}'>{second}</a>" if second else ""
        rows.append(
            f"<tr><td><a href='{name}/{main}'>{name}</a></td><td>{kind}</td>"
            f"<td>{when:%Y-%m-%d %H:%M}</td><td>{html.escape(headline)}</td>"
            f"<td>{extra}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset='utf-8'><title>liquidity-drain runs</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;"
        "border-bottom:1px solid #ddd;text-align:left}</style><h1>liquidity-drain runs</h1>"
        "<table><tr><th>run</th><th>kind</th><th>written (UTC)</th><th>headline</th><th></th>"
        f"</tr>{''.join(rows)}</table>"
    )
    return write_text(root / "index.html", page, "write the runs index")
