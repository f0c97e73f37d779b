"""Each object of the conversation core owns its fields: nothing in voice_tui/core
assigns an attribute of another object; it calls that object's method instead. (The
engine once was mixins over one bag of shared fields, written from three files.)"""

from __future__ import annotations

import ast
from pathlib import Path

import voice_tui.core

CORE = Path(voice_tui.core.__file__).parent


def foreign_writes(source: str) -> list[str]:
    """`x.field = ...` (also `+=` and annotated) where `x` is not `self` or `cls`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for part in ast.walk(target):
                if not (isinstance(part, ast.Attribute) and isinstance(part.ctx, ast.Store)):
                    continue
                owner = part.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    found.append(f"line {node.lineno}: {ast.unparse(target)}")
    return found


def test_the_check_finds_a_write_to_another_object() -> None:
    source = "def f(turn, self):\n    self.a = 1\n    turn.text += 'x'\n    a.b.c = 2\n"
    assert foreign_writes(source) == ["line 3: turn.text", "line 4: a.b.c"]


def test_core_objects_write_only_their_own_fields() -> None:
    offenders = {
        str(path.relative_to(CORE)): writes
        for path in sorted(CORE.rglob("*.py"))
        if (writes := foreign_writes(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
