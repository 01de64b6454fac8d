"""The one reader of a config file: a TOML document whose top-level tables are the sections.

``read_config`` reads a file (the shipped default when none is given) and returns its sections
with the path it resolved: a missing or malformed file, a section no stage knows (with a
did-you-mean) and a section that is not a table are one-line errors before anything else
happens. The typed config of each section checks its keys, types and ranges: the commands build
every known section of the file at once (``drain_cli.args.load_config``), so no command runs on
a file another command would refuse; the library's ``from_toml``/``load`` helpers build theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drain_core.configs import default_config_path
from drain_core.errors import DrainError
from drain_core.schema import did_you_mean, require_table
from drain_core.tomlfile import read_toml

KNOWN_SECTIONS: tuple[str, ...] = ("signal", "strategy", "backtest", "tune", "thesis")


@dataclass(frozen=True)
class ConfigDocument:
    """The sections of one config file, checked by name and shape, and the file they came from."""

    path: Path
    sections: dict[str, Any]

    def section(self, name: str) -> Any:
        """The ``[name]`` table (an empty one when the file has none)."""
        return self.sections.get(name, {})


def check_sections(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` if every top-level entry is a known section and a table."""
    for name, value in document.items():
        if name not in KNOWN_SECTIONS:
            hint = did_you_mean(name, KNOWN_SECTIONS).replace("'", "")
            hint = hint.replace("mean ", "mean [").replace("?)", "]?)") if hint else ""
            raise DrainError(f"unknown config section [{name}]{hint}; known sections: "
                             f"{', '.join(KNOWN_SECTIONS)}")
        require_table(name, value)
    return document


def read_config(path: str | Path | None = None, default: Path | None = None) -> ConfigDocument:
    """The section-checked document at ``path``; when ``path`` is None, at ``default`` (the
    shipped ``default.toml`` unless given)."""
    resolved = Path(path) if path is not None else (default or default_config_path())
    return ConfigDocument(resolved, check_sections(read_toml(resolved)))
