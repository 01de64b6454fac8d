"""Checks shared by the subcommands' options: the config file, dates and run-folder names, as
one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from drain_core.errors import DrainError

if TYPE_CHECKING:  # pandas is imported on use: the CLI starts before its heavy imports
    import pandas as pd

    from backtests.run.config import RunConfig
    from backtests.tune.config import TuneConfig
    from thesis.config import ThesisConfig


@dataclass(frozen=True)
class CommandConfig:
    """Every section of one config file, typed, and the file it was read from."""

    path: Path
    run: RunConfig  # [signal], [strategy], [backtest]
    tune: TuneConfig  # the file's [tune] over the shipped one
    thesis: ThesisConfig


def load_config(path: str | None, default: Path | None = None) -> CommandConfig:
    """The config file ``path`` (``default``, else the shipped ``default.toml``, when None),
    every known section checked, keys and types included, whichever command reads it: a typo
    in a section this command does not use is refused as the command that uses it would."""
    from backtests.run.config import RunConfig
    from backtests.tune.config import TuneConfig
    from drain_core.config import read_config
    from thesis import ThesisConfig

    document = read_config(path, default)
    return CommandConfig(path=document.path, run=RunConfig.from_dict(document.sections),
                         tune=TuneConfig.load(document.section("tune")),
                         thesis=ThesisConfig.from_dict(document.section("thesis")))


def parse_date(text: str | None, option: str) -> pd.Timestamp | None:
    """``text`` as a tz-naive midnight timestamp (None stays None); anything else is an error."""
    if text is None:
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT or stamp.tzinfo is not None:
        raise DrainError(f"{option}: {text!r} is not a date; use YYYY-MM-DD")
    return stamp.normalize()


def parse_date_range(start: str | None, end: str | None) -> tuple[pd.Timestamp | None,
                                                                  pd.Timestamp | None]:
    """``--start`` and ``--end`` as dates, checked before any data is loaded: each a date,
    the start not after the end, the start not in the future."""
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first is not None and last is not None and first > last:
        raise DrainError(f"--start {first.date()} is after --end {last.date()}; "
                         f"give the earlier date as --start")
    if first is not None:
        import pandas as pd

        today = pd.Timestamp.now("UTC").tz_localize(None).normalize()
        if first > today:
            raise DrainError(f"--start {first.date()} is in the future (today is "
                             f"{today.date()}); give a past date")
    return first, last


MAX_RUN_NAME = 100  # the temp folder beside it adds ~15 characters; file systems allow 255


def run_name(name: str | None, default: str | None) -> str | None:
    """The run folder name, checked before any work: ``default`` when none is given; else a
    plain folder name of at most MAX_RUN_NAME characters, not starting with '.', not a file
    the reports folder itself gets. The reports folder must be one (or be free to make: a file
    in its way is an environment fault), and the run's place in it not a file."""
    from drain_core.fs import no_file_in_the_way
    from drain_core.paths import reports_root

    root = no_file_in_the_way(reports_root(), "write into the reports folder")
    chosen = default if name is None else _checked_name(name)
    if chosen is not None and (root / chosen).exists() and not (root / chosen).is_dir():
        raise DrainError(f"{root / chosen} is a file, not a run folder; move it away or pass "
                         f"another --name")
    return chosen


def _checked_name(name: str) -> str:
    from drain_core.paths import root_file_names

    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise DrainError(f"--name: {name!r} is not a plain folder name (no '/', no leading '.')")
    if len(name) > MAX_RUN_NAME:
        raise DrainError(f"--name is {len(name)} characters long; use at most {MAX_RUN_NAME}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise DrainError(f"--name: {name!r} holds a control character; use a plain folder name")
    reserved = root_file_names()
    if name.lower() in {file.lower() for file in reserved}:
        raise DrainError(f"--name: {name!r} is reserved by the reports folder "
                         f"({', '.join(sorted(reserved))}); choose another name")
    return name
