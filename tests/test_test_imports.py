"""The tests' own rule: helpers come from one package, `tests.support`, under that one
name; a test module never imports another test module (or a conftest)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def wrong_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("."):
                found.append(f"line {node.lineno}: relative import {name}")
            elif (name == "tests" or name.startswith("tests.")) and not (
                name == "tests.support" or name.startswith("tests.support.")
            ):
                found.append(f"line {node.lineno}: {name}")
    return found


def test_the_check_finds_imports_of_test_modules() -> None:
    source = (
        "from tests.support.engine import Recorder\n"
        "from tests.ui.test_live import notes\n"
        "from .conftest import SIZE\n"
        "import tests.core.conftest\n"
    )
    assert wrong_imports(source) == [
        "line 2: tests.ui.test_live",
        "line 3: relative import .conftest",
        "line 4: tests.core.conftest",
    ]


def test_helpers_come_only_from_tests_support() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := wrong_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
