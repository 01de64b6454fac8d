"""The one reader of a config file: a TOML document whose top-level tables are the sections.

Every command reads its file with ``read_config``: a missing or malformed file, a section no
stage knows (with a did-you-mean) and a section that is not a table are one-line errors before
anything else happens. Each stage then builds its own section's typed config from the document
(``RunConfig.from_dict`` for [signal], [strategy] and [backtest]; [thesis] and [tune] by their
commands), so unknown keys inside a section are refused by the stage that knows its keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drain_core.configs import default_config_path
from drain_core.errors import DrainError
from drain_core.schema import did_you_mean, require_table
from drain_core.tomlfile import read_toml

KNOWN_SECTIONS: tuple[str, ...] = ("signal", "strategy", "backtest", "tune", "thesis")


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


def read_config(path: str | Path | None = None) -> dict[str, Any]:
    """The parsed, section-checked document at ``path`` (the shipped default when None)."""
    return check_sections(read_toml(path if path is not None else default_config_path()))
