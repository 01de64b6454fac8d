"""Read a TOML config file, turning a missing, non-UTF-8 or malformed file into a one-line user
error."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from drain_core.errors import DrainError, EnvironmentFault


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a UTF-8 TOML file (a leading byte-order mark allowed); a missing file, other bytes
    (latin-1, binary) or malformed TOML is a one-line DrainError."""
    path = Path(path)
    if path.is_dir():
        raise DrainError(f"config file {path} is a folder; pass a TOML file")
    if not path.is_file():
        raise DrainError(f"config file {path} does not exist; pass an existing TOML file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnvironmentFault(f"cannot read config file {path} ({exc.strerror}); make it "
                               f"readable or pass another") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DrainError(f"config file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                         f"on line {line}); a config must be UTF-8 TOML: save it as UTF-8"
                         ) from None
    try:
        return tomllib.loads(text)
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

