"""Rebuild the embedded snapshot (drain_data/snapshot/*.parquet) from the shared CSV snapshot.

Usage: python scripts/build_snapshot.py ../shared/data

Values are copied unmodified; only the layout changes (one long table per kind of data).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "drain_data" / "snapshot"


def _prices(src: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((src / "prices").glob("*.csv")):
        raw = pd.read_csv(path, parse_dates=["date"])
        column = "adj_close" if "adj_close" in raw.columns else "close"
        frames.append(
            pd.DataFrame({"ticker": path.stem, "date": raw["date"], "close": raw[column]})
        )
    return pd.concat(frames, ignore_index=True)


def _macro(src: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((src / "macro").glob("*.csv")):
        raw = pd.read_csv(path, parse_dates=["date"])
        frames.append(
            pd.DataFrame({"series": path.stem, "date": raw["date"], "value": raw["value"]})
        )
    return pd.concat(frames, ignore_index=True)


def main(src: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tables = {
        "prices": _prices(src),
        "macro": _macro(src),
        "capex": pd.read_csv(src / "capex" / "hyperscaler_capex_quarterly.csv",
                             parse_dates=["fiscal_period_end"]),
        "issuance": pd.read_csv(src / "capex" / "bond_issuance_events.csv", parse_dates=["date"]),
    }
    for name, table in tables.items():
        for col in table.columns:
            if pd.api.types.is_datetime64_any_dtype(table[col]):
                table[col] = table[col].astype("datetime64[ns]")
        table.to_parquet(OUT / f"{name}.parquet", index=False, compression="zstd")
        print(f"{name}: {len(table)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
