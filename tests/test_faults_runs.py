"""Fault corpus, run half: bad run names and date ranges, damaged run folders handed to
``drain report``, and file-system faults while a run or its reports are written.

One warm ``drain backtest`` (module scope) is copied and damaged for the ``drain report``
cases. Each case asserts the exit status (2 a mistake to fix, 1 a fault of the environment),
one or two ``drain:`` lines naming the problem, no traceback, and unchanged reports and cache
folders (hidden entries included). See tests/faults_kit.py.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from backtests.report.integrity import checked_manifest
from drain_cli.main import main
from drain_core.errors import DrainError
from drain_core.pages import plotly_file_name
from tests.faults_kit import expect_fault, listing
from tests.runs_kit import backtest_into

START = "2025-06-02"


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory) -> Path:
    return backtest_into(tmp_path_factory.mktemp("warm-reports"), "warm", START)


def _roots(tmp_path: Path) -> list[Path]:
    return [tmp_path / "reports", tmp_path / "cache"]


# ------------------------------------------------------------------- names and date ranges

BAD_NAMES = {
    "250-characters": ("n" * 250, "at most 100"),
    "101-characters": ("n" * 101, "at most 100"),
    "runs-index": ("index.html", "reserved"),
    "runs-index-upper-case": ("INDEX.HTML", "reserved"),
    "runs-index-temp-file": (".index.html.k2x9q0.tmp", "leading '.'"),
    "plotly-asset": (plotly_file_name(), "reserved"),
    "plotly-asset-upper-case": (plotly_file_name().upper(), "reserved"),
    "hidden": (".hidden", "leading '.'"),
    "dot-dot": ("..", "leading '.'"),
    "a-path": ("a/b", "no '/'"),
    "a-windows-path": ("a\\b", "no '/'"),
    "empty": ("", "not a plain folder name"),
    "tab": ("tab\tname", "control character"),
    "newline": ("line\nbreak", "control character"),
}


@pytest.mark.parametrize("case", BAD_NAMES)
def test_bad_run_name_is_refused(tmp_path, capsys, case):
    name, words = BAD_NAMES[case]
    expect_fault(capsys, ["backtest", "--name", name], 2, ["--name", words], _roots(tmp_path))


# every command that writes a run folder, as it is run with its name (None: its default)
WRITERS = {
    "backtest": lambda name: ["backtest", "--start", START, *_named(name)],
    "tune": lambda name: ["tune", "--no-progress", *_named(name)],
    "signal": lambda name: ["signal", *_named(name)],
    "placebo": lambda name: ["placebo", "--n", "1", *_named(name)],
    "thesis": lambda name: ["thesis", "--no-progress", *_named(name)],
}


def _named(name: str | None) -> list[str]:
    return [] if name is None else ["--name", name]


@pytest.fixture
def no_data_load(monkeypatch):
    """Loading the data is refused (in this process and a sidecar forked from it): a command
    that gets as far fails with another status and message."""
    from drain_data import store

    def refused(*args, **kwargs):
        raise DrainError("the data was loaded before the check")

    monkeypatch.setattr(store, "price_observations", refused)


# files a reports folder may hold beside its runs: a user's note, an older plotly.js
STRAY_FILES = ("notes.txt", "plotly-5.24.1.min.js", "results")


@pytest.mark.parametrize("file", STRAY_FILES)
@pytest.mark.parametrize("command", WRITERS)
def test_a_run_name_that_is_a_file_in_the_reports_folder(tmp_path, capsys, no_data_load,
                                                          command, file):
    """Refused before the data loads, the file kept."""
    root = tmp_path / "reports"
    root.mkdir()
    (root / file).write_text("mine")
    expect_fault(capsys, WRITERS[command](file), 2, [str(root / file), "is a file", "--name"],
                 _roots(tmp_path))


BAD_RANGES = {
    "start-after-end": (["--start", "2024-03-01", "--end", "2024-01-31"], "is after --end"),
    "start-in-the-future": (["--start", "2099-01-04"], "in the future"),
    "start-not-a-date": (["--start", "2024-13-01"], "not a date"),
    "end-in-words": (["--end", "yesterday"], "not a date"),
    "start-with-time-zone": (["--start", "2024-01-02T00:00+05:00"], "not a date"),
}


@pytest.mark.parametrize("case", BAD_RANGES)
def test_bad_date_range_is_refused_before_the_data_loads(tmp_path, capsys, monkeypatch, case):
    from drain_cli.sidecar import Sidecar

    sent: list[str] = []
    submit = Sidecar.submit

    def recording(self, fn, /, *args, **kwargs):
        sent.append(fn.__name__)
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(Sidecar, "submit", recording)
    argv, words = BAD_RANGES[case]
    expect_fault(capsys, ["backtest", *argv], 2, words, _roots(tmp_path))
    assert "prepare_run" not in sent  # the data load was never asked for


# ------------------------------------------------------------------ damaged run folders


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _manifest(edit):
    def damage(run: Path) -> None:
        path = run / "manifest.json"
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return damage


def _without_checksums(then):
    def damage(run: Path) -> None:
        _manifest(lambda m: {k: v for k, v in m.items() if k != "checksums"})(run)
        then(run)
    return damage


def _unlisted(file: str, then):
    """The run as saved before ``file`` was checksummed (the manifest does not list it), then
    damaged by ``then``: read by ``integrity.read_run_csv`` all the same."""
    def damage(run: Path) -> None:
        _manifest(lambda m: {**m, "checksums": {k: v for k, v in m["checksums"].items()
                                                if k != file}})(run)
        then(run)
    return damage


def _flip_a_digit(path: Path) -> None:
    text = path.read_text()
    k = text.index("0.", 200)
    path.write_text(text[:k] + ("1" if text[k] != "1" else "2") + text[k + 1:])


DAMAGED_RUNS = {
    "returns-empty": (lambda r: (r / "returns.csv").write_text(""), "returns.csv changed"),
    "returns-garbage": (lambda r: (r / "returns.csv").write_text("not,a\ncsv at all"),
                        "sha256 mismatch"),
    "returns-truncated": (lambda r: _truncate(r / "returns.csv"), "returns.csv changed"),
    "weights-one-digit-changed": (lambda r: _flip_a_digit(r / "weights.csv"), "weights.csv"),
    "signal-empty": (lambda r: (r / "signal.csv").write_text(""), "signal.csv changed"),
    "contributions-garbage": (lambda r: (r / "contributions.csv").write_bytes(b"\x00\xff" * 99),
                              "contributions.csv changed"),
    "config-edited": (lambda r: (r / "config.toml").write_text("[strategy]\nlag = 3\n"),
                      "config.toml changed"),
    "equity-deleted": (lambda r: (r / "equity.csv").unlink(), "missing equity.csv"),
    "manifest-truncated": (lambda r: _truncate(r / "manifest.json"), "not valid JSON"),
    "manifest-empty": (lambda r: (r / "manifest.json").write_text(""), "not valid JSON"),
    "manifest-binary": (lambda r: (r / "manifest.json").write_bytes(b"\xff\xfe\x00"),
                        "not valid JSON"),
    "manifest-a-list": (lambda r: (r / "manifest.json").write_text("[1, 2]"), "holds a list"),
    "manifest-a-number": (lambda r: (r / "manifest.json").write_text("3"), "holds a int"),
    "manifest-without-name": (_manifest(lambda m: {k: v for k, v in m.items() if k != "name"}),
                              "lacks name"),
    "manifest-without-start": (_manifest(lambda m: {k: v for k, v in m.items()
                                                    if k != "start"}), "lacks start"),
    "manifest-without-end": (_manifest(lambda m: {k: v for k, v in m.items() if k != "end"}),
                             "lacks end"),
    "manifest-without-config": (_manifest(lambda m: {k: v for k, v in m.items()
                                                     if k != "config"}), "lacks config"),
    "manifest-checksums-a-list": (_manifest(lambda m: {**m, "checksums": ["x"]}),
                                  "checksums is not an object"),
    "manifest-checksum-of-a-missing-file": (
        _manifest(lambda m: {**m, "checksums": {**m["checksums"], "extra.csv": "0" * 64}}),
        "extra.csv is missing"),
    "baskets-empty": (lambda r: (r / "baskets.csv").write_text(""), "baskets.csv changed"),
    "baskets-garbage": (lambda r: (r / "baskets.csv").write_bytes(b"\x00\xff" * 99),
                        "baskets.csv changed"),
    "baskets-truncated": (lambda r: _truncate(r / "baskets.csv"), "baskets.csv changed"),
    "baskets-deleted": (lambda r: (r / "baskets.csv").unlink(), "baskets.csv is missing"),
    "unlisted-baskets-empty": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                         .write_text("")), "baskets.csv is not a CSV"),
    "unlisted-baskets-garbage": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                           .write_bytes(b"\x00\xff" * 99)), "baskets.csv is not"),
    "unlisted-baskets-latin-1": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                           .write_bytes(b"date,caf\xe9\n2024-01-02,1\n")),
                                 "baskets.csv is not a CSV"),
    "unlisted-baskets-truncated": (_unlisted("baskets.csv", lambda r: _truncate(
        r / "baskets.csv")), "baskets.csv is cut short"),
    "unlisted-baskets-header-only": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                               .write_text("date,a,b\n")), "has no rows"),
    "unlisted-baskets-dates-only": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                              .write_text("date\n2024-01-02\n")),
                                    "baskets.csv has no columns besides its dates"),
    "unlisted-baskets-text": (_unlisted("baskets.csv", lambda r: (r / "baskets.csv")
                                        .write_text("date,a\n2024-01-02,up\n")), "not numbers"),
    "legacy-baskets-garbage": (_without_checksums(
        lambda r: (r / "baskets.csv").write_text("not,a\ncsv at all")), "baskets.csv is not"),
    "legacy-returns-truncated": (_without_checksums(lambda r: _truncate(r / "returns.csv")),
                                 "returns.csv is cut short"),
    "legacy-returns-garbage": (_without_checksums(
        lambda r: (r / "returns.csv").write_text("not,a\ncsv at all")), "not a CSV"),
    "legacy-returns-empty": (_without_checksums(lambda r: (r / "returns.csv").write_text("")),
                             "not a CSV"),
    "legacy-returns-header-only": (_without_checksums(
        lambda r: (r / "returns.csv").write_text("date,strategy,SPY,turnover\n")), "no rows"),
    "legacy-returns-lacks-spy": (_without_checksums(
        lambda r: (r / "returns.csv").write_text("date,strategy,turnover\n2024-01-02,0.1,0\n")),
        "lacks columns SPY"),
    "legacy-dates-unordered": (_without_checksums(
        lambda r: (r / "equity.csv").write_text("date,strategy\n2024-01-03,1\n2024-01-02,1\n")),
        "unordered"),
    "legacy-dates-garbage": (_without_checksums(
        lambda r: (r / "equity.csv").write_text("date,strategy\nmonday,1\n")), "unparseable"),
    "legacy-values-text": (_without_checksums(
        lambda r: (r / "equity.csv").write_text("date,strategy\n2024-01-02,one\n")),
        "not numbers"),
}


@pytest.mark.parametrize("case", DAMAGED_RUNS)
def test_damaged_run_folder_is_refused(warm_run, tmp_path, capsys, case):
    damage, words = DAMAGED_RUNS[case]
    run = tmp_path / "reports" / "copy"
    shutil.copytree(warm_run, run)
    damage(run)
    expect_fault(capsys, ["report", str(run)], 2, words, _roots(tmp_path))


def test_every_csv_a_run_writes_is_checksummed(warm_run):
    listed = json.loads((warm_run / "manifest.json").read_text())["checksums"]
    assert {p.name for p in warm_run.glob("*.csv")} | {"config.toml"} == set(listed)


def test_report_of_something_else_is_refused(tmp_path, capsys):
    stray = tmp_path / "reports" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("hello")
    expect_fault(capsys, ["report", str(stray)], 2, "is not a folder", _roots(tmp_path))
    expect_fault(capsys, ["report", str(tmp_path / "nope")], 2, "is not a folder",
                 _roots(tmp_path))


def test_an_intact_run_rebuilds_beside_a_damaged_sibling(warm_run, tmp_path, capsys):
    """The checksums still match after a rebuild; a sibling's truncated stats.json no longer
    breaks the runs index."""
    root = tmp_path / "reports"
    shutil.copytree(warm_run, root / "good")
    shutil.copytree(warm_run, root / "sibling")
    _truncate(root / "sibling" / "stats.json")
    assert main(["report", str(root / "good")]) == 0
    page = (root / "index.html").read_text()
    assert "sibling: skipped, it cannot be read" in page and "good/report.html" in page
    assert checked_manifest(root / "good")["name"] == "warm"
    assert not [p for p in root.rglob(".*")]


# ---------------------------------------------------------------------- file-system faults


@contextmanager
def _file_size_limit(limit: int):
    """This process may write no file beyond ``limit`` bytes (EFBIG, as a full disk would
    refuse; SIGXFSZ ignored so the write fails instead of killing the process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_during_a_rebuild_leaves_the_run_as_it_was(warm_run, tmp_path, capsys):
    run = tmp_path / "reports" / "copy"
    shutil.copytree(warm_run, run)
    before = listing(run)
    with _file_size_limit(1 << 20):  # report.html (plotly inline) is several MB
        code = main(["report", str(run)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "file too large" in err, err
    assert "Traceback" not in err and listing(run) == before


@pytest.mark.parametrize("below", ["", "reports"], ids=["the-folder", "a-folder-above"])
@pytest.mark.parametrize("name", [None, "x"], ids=["default-name", "named"])
@pytest.mark.parametrize("command", WRITERS)
def test_a_reports_folder_that_is_a_file(tmp_path, monkeypatch, capsys, no_data_load, command,
                                         name, below):
    """Said up front, before the data loads or any work runs."""
    blocker = tmp_path / "reports-file"
    blocker.write_text("in the way")
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(blocker / below))
    expect_fault(capsys, WRITERS[command](name), 1, [str(blocker), "is a file"],
                 [blocker, *_roots(tmp_path)])



@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (chmod cannot "
                    "make a folder unwritable for root); RLIMIT_FSIZE and a path that is a file "
                    "cover the write faults instead")
def test_a_read_only_reports_folder(warm_run, tmp_path, monkeypatch, capsys):
    root = tmp_path / "reports"
    root.mkdir()
    root.chmod(0o555)
    try:
        expect_fault(capsys, ["report", str(warm_run)], 1, "permission denied", [root])
    finally:
        root.chmod(0o755)


def test_temp_folders_of_dead_owners_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    """The next run removes what a killed run left; a folder still being written stays."""
    from drain_core import fs, paths

    root = tmp_path / "reports"
    root.mkdir()
    dead, live, unclaimed = root / ".run.dead1234", root / ".run.live5678", root / ".x.sweep"
    for folder in (dead, live, unclaimed):
        folder.mkdir()
    (dead / fs.OWNER_FILE).write_text("999999999 12345\n")  # no such pid
    fs.claim(live)
    (root / ".torn.abcd1234").mkdir()
    (root / ".torn.abcd1234" / fs.OWNER_FILE).write_text("12")  # its writer died mid-write
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(root))
    with paths.atomic_run_dir("new") as tmp:
        (tmp / "a.txt").write_text("a")
    names = sorted(p.name for p in root.iterdir())
    assert names == [".run.live5678", ".x.sweep", "new"]
    assert sorted(p.name for p in (root / "new").iterdir()) == ["a.txt"]


def test_a_failure_inside_the_run_folder_leaves_nothing(tmp_path, monkeypatch):
    from drain_core import paths

    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path / "reports"))
    with (pytest.raises(DrainError, match="could not write the run folder.*no space left"),
          paths.atomic_run_dir("x") as tmp):
        (tmp / "a.txt").write_text("a")
        raise OSError(28, "No space left on device")
    assert list((tmp_path / "reports").iterdir()) == []
