"""The layout's two promises, checked on the source: stages import only earlier stages, and the
conventions every stage shares are written once (in ``drain_core.conventions``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Pipeline order: a module may import its own stage and earlier ones, never a later one.
STAGES = ("drain_core", "drain_data", "signals", "strategies", "backtests.stats", "backtests.sim",
          "backtests.run", "backtests.evidence", "backtests.tune", "backtests.report", "thesis",
          "drain_cli")
LIBRARY = ("drain_core", "drain_data", "signals", "strategies", "backtests", "thesis")


def _stage(module: str) -> int | None:
    found = None
    for rank, stage in enumerate(STAGES):
        if module == stage or module.startswith(stage + "."):
            found = rank
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in (*LIBRARY, "drain_cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out.append((name, path))
    return out


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_every_package_is_placed_in_a_stage():
    unplaced = [name for name, _ in _modules()
                if _stage(name) is None and name not in ("backtests",)]
    assert unplaced == []


def test_no_module_imports_a_later_stage():
    late = [f"{name} imports {target}" for name, path in _modules()
            if (own := _stage(name)) is not None
            for target in _imports(path)
            if (rank := _stage(target)) is not None and rank > own]
    assert late == []


def test_the_checker_sees_a_late_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from backtests.report.plots import run_figure\n")
    assert _stage("signals.plots") < _stage(_imports(probe)[-1])


def _code_constants(path: Path) -> list[tuple[int, object]]:
    """Every constant in ``path``'s code, docstrings left out, with its line number."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    sizes = {id(node.value) for node in ast.walk(tree)  # figure sizes in pixels
             if isinstance(node, ast.keyword) and node.arg in ("height", "width")}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in docstrings | sizes]


def _string_tuples(path: Path) -> list[tuple[int, tuple]]:
    """Every tuple, list or set of string literals in ``path``, and every dict's string keys."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]  # None: a ``**`` unpacking
        else:
            continue
        strings = tuple(e.value for e in items
                        if isinstance(e, ast.Constant) and isinstance(e.value, str))
        if strings and (isinstance(node, ast.Dict) or len(strings) == len(items)):
            out.append((node.lineno, strings))
    return out


FLAG = re.compile(r"(?<![\w-])--(start|end|since|as-of|sample|grid|name|config|tickers|series|n"
                  r"|workers|scheduler)(?![\w-])")
# A fix spelled as a whole command ("fetch it with 'drain data update --tickers X'") may name
# its options: from 'drain <subcommand>' to the end of that clause.
COMMAND = re.compile(r"\bdrain (data update|data show|signal|backtest|report|tune|placebo|thesis)"
                     r"\b[^;'\"`]*")


def _names_an_option(text: str) -> bool:
    return (FLAG.search(COMMAND.sub("", text)) is not None
            and not re.fullmatch(r"--[a-z-]+", text))  # an option alone, put into a command


def test_no_library_module_names_a_cli_option():
    hits = [f"{path.relative_to(ROOT)}:{line}" for name, path in _modules()
            if not name.startswith("drain_cli")
            for line, value in _code_constants(path)
            if isinstance(value, str) and _names_an_option(value)]
    assert hits == []


@pytest.mark.parametrize(("text", "names"), [
    ("pick an earlier --since or try later", True),
    ("drain regimes hold; widen --start/--end", True),
    ("drain backtest failed; pick another --as-of", True),
    ("give --n 100 or more", True),
    ("fetch it with 'drain data update --tickers ", False),
    ("Run it: drain backtest --config best.toml", False),
    ("--tickers", False),
    ("pick an earlier start date", False),
    ("the --n-jobs of joblib", False),
])
def test_the_option_checker(text, names):
    assert _names_an_option(text) is names


@pytest.mark.parametrize(("number", "what"), [(252, "the annualisation"), (360, "the day count")])
def test_conventions_are_written_once(number, what):
    hits = [f"{path.relative_to(ROOT)}:{line}" for name, path in _modules()
            if name != "drain_core.conventions"
            for line, value in _code_constants(path)
            if type(value) in (int, float) and value == number]
    assert hits == [], f"{what} ({number}) written outside drain_core.conventions"


def test_regime_names_are_written_once():
    from drain_core.conventions import REGIMES

    hits = [f"{path.relative_to(ROOT)}:{line}" for name, path in _modules()
            if name != "drain_core.conventions"
            for line, names in _string_tuples(path)
            if set(names) >= set(REGIMES)]
    assert hits == []


def test_the_checker_sees_regime_names_as_dict_keys(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("COLOURS = {'abundant': 1, 'draining': 2, 'scarce': 3, **{}}\n"
                     "NAMES = ['abundant', 'draining', 'scarce']\n")
    assert [names for _, names in _string_tuples(probe)] == [
        ("abundant", "draining", "scarce"), ("abundant", "draining", "scarce")]
