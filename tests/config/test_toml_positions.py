"""The key scanner finds every key of real TOML documents, whatever their values hold."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_tui.config.toml_positions import KeyPath, key_positions

names = st.text(st.sampled_from("abcxyz_-. \"'#=[]"), min_size=1, max_size=6)
# Strings full of the characters that could fool a scanner: quotes, brackets, #, =.
tricky_text = st.text(st.sampled_from("ab \"'#=[]{}\\\n\t,."), max_size=12)
scalars = st.one_of(st.integers(), st.booleans(), tricky_text, st.floats(allow_nan=False))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)
tables = st.recursive(
    st.dictionaries(names, values, max_size=4),
    lambda inner: st.dictionaries(names, st.one_of(values, inner), max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(
    names,
    st.one_of(values, tables, st.lists(tables.filter(bool), min_size=1, max_size=3)),
    max_size=5,
)


def leaf_paths(data: dict[str, Any], prefix: KeyPath = ()) -> list[KeyPath]:
    paths: list[KeyPath] = []
    for key, value in data.items():
        path = (*prefix, key)
        paths.append(path)
        if isinstance(value, dict):
            paths += leaf_paths(value, path)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, entry in enumerate(value):
                paths += leaf_paths(entry, (*path, index))
    return paths


@settings(max_examples=60, deadline=None)
@given(documents)
def test_every_key_written_by_tomli_w_is_found_on_its_own_line(data: dict[str, Any]) -> None:
    text = tomli_w.dumps(data)
    assert tomllib.loads(text) == data
    found = key_positions(text)
    lines = text.split("\n")
    for path in leaf_paths(data):
        assert path in found.positions, (path, text)
        where = found.positions[path]
        at = lines[where.line - 1][where.column - 1 :]
        last = path[-1]
        if isinstance(last, str):
            # The key itself (bare, or quoted when it must be), or its table's header.
            assert at.startswith((last, '"', "[")), (path, at)
        else:
            # An element of an array of tables: its [[header]] or its inline table.
            assert at.startswith(("[[", "{")), (path, at)
    assert found.first_duplicate is None


def test_positions_of_a_hand_written_document() -> None:
    text = """# comment [not.a.table]
[backend]
kind = "x"  # trailing [comment]
[audio]
"input device" = 3
x.y = '''multi
[fake]
z = 1
'''
arr = [ 1, # a comment ]
  "]" ]
inline = { a = 1, b = [1, 2] }
[[personas]]
name = 'a'
[[personas]]
  name = "b"
[pricing."gpt.4"]
text_input = 1
"""
    positions = key_positions(text).positions
    expected = {
        ("backend", "kind"): (3, 1),
        ("audio", "input device"): (5, 1),
        ("audio", "x", "y"): (6, 3),
        ("audio", "arr"): (10, 1),
        ("audio", "inline"): (12, 1),
        ("personas", 0): (13, 1),
        ("personas", 0, "name"): (14, 1),
        ("personas", 1, "name"): (16, 3),
        ("pricing", "gpt.4", "text_input"): (18, 1),
    }
    assert {k: (positions[k].line, positions[k].column) for k in expected} == expected
    assert ("audio", "z") not in positions
    assert ("fake",) not in positions


def test_duplicates_and_the_nearest_written_ancestor() -> None:
    found = key_positions("[a]\nb = 1\n[c]\nd = 2\n[a]\n")
    assert found.first_duplicate is not None
    assert (found.first_duplicate.line, found.first_duplicate.column) == (5, 1)
    hit = found.find(("c", "d", 0, "deeper"))
    assert hit is not None
    assert (hit[0].line, hit[1]) == (4, ("c", "d"))
    assert found.find(("nowhere",)) is None


def test_broken_text_gives_what_was_found_before_the_break() -> None:
    positions = key_positions('a = 1\nb = "unterminated\nc = 3\n').positions
    assert ("a",) in positions
    assert ("c",) not in positions
