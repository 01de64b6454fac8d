"""Read a TOML config file, turning a missing or malformed file into a one-line user error."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from drain_core.errors import DrainError


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a one-line DrainError."""
    path = Path(path)
    if not path.is_file():
        raise DrainError(f"config file {path} does not exist; pass an existing TOML file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise DrainError(f"config file {path} is not valid TOML: {exc}") from None


def write_toml(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` as TOML (None values are left out: TOML has no null)."""
    import tomli_w

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, tuple | list):
            return [clean(v) for v in value]
        return value

    path = Path(path)
    path.write_text(tomli_w.dumps(clean(data)))
    return path

