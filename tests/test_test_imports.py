"""The tests' own rule: helpers come from one package, `tests.support`, under that one
name; a test module never imports another test module (or a conftest)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _installed_elsewhere(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and TESTS not in Path(spec.origin or "").parents


# A test folder imported by its bare name ("from common.x", "from server.support") works
# only while pytest happens to put tests/ on sys.path: the same module under two names.
# (A folder that shares its name with an installed package, like mcp, is that package.)
TEST_FOLDERS = frozenset(
    p.name
    for p in TESTS.iterdir()
    if p.is_dir() and p.name != "support" and not _installed_elsewhere(p.name)
)


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
            elif name.split(".")[0] in TEST_FOLDERS | {"common"}:
                found.append(f"line {node.lineno}: bare test folder {name}")
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
        "from common.tones import tone\n"
        "from server.support import Client\n"
    )
    assert wrong_imports(source) == [
        "line 2: tests.ui.test_live",
        "line 3: relative import .conftest",
        "line 4: tests.core.conftest",
        "line 5: bare test folder common.tones",
        "line 6: bare test folder server.support",
    ]


def test_helpers_come_only_from_tests_support() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := wrong_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
