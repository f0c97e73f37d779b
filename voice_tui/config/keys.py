"""`[ui.keys]`: which actions can be remapped, and which key names exist.

The app's bindings (`voice_tui/ui/keys.py`) are built with Textual; the config checks
remappings without importing it, so this module holds the action ids with their
default keys (a test keeps the two equal) and Textual's names of keys. A remapping is
checked when the config loads, with the other config errors: an unknown action id, a
key name that does not exist, and a key that would then do two things.
"""

from __future__ import annotations

import difflib
import itertools
import unicodedata
from collections.abc import Mapping
from typing import Any

from voice_tui.config.problems import Problem
from voice_tui.config.toml_positions import KeyPath

# Action id -> its default key, in the order of the footer.
DEFAULT_KEYS: dict[str, str] = {
    "push_to_talk": "space",
    "turn_mode": "v",
    "mute": "m",
    "echo_mode": "e",
    "interrupt": "x",
    "type_message": "enter",
    "personas": "p",
    "devices": "d",
    "theme": "t",
    "save_transcript": "s",
    "new_session": "n",
    "quit": "q",
}

# Keys the app keeps for itself whatever the config says (Textual's own bindings),
# with the action that may have them too.
RESERVED_KEYS: dict[str, tuple[str, str | None]] = {
    "ctrl+q": ("quitting (it asks first)", "quit"),
    "ctrl+c": ("Textual's hint on how to quit", None),
    "ctrl+p": ("the command palette", None),
}

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")

# Textual's names of keys that are not characters (textual.keys.Keys; a test compares).
NAMED_KEYS = frozenset(
    {
        "space",
        "enter",
        "return",
        "tab",
        "escape",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)

# Where Textual's name of a character is not its Unicode name (textual.keys).
_SHORT_NAMES = {
    "slash": "/",
    "backslash": "\\",
    "at": "@",
    "minus": "-",
    "plus": "+",
    "underscore": "_",
}
# Two names, one key: bindings that differ only so still clash.
_SAME_KEY = {"return": "enter", "ctrl+m": "enter", "ctrl+i": "tab", "ctrl+j": "newline"}


def key_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every problem of `[ui.keys]` in the merged config data (none when it is absent or
    not a table of strings: the schema reports that)."""
    ui = data.get("ui")
    keys = ui.get("keys") if isinstance(ui, Mapping) else None
    if not isinstance(keys, Mapping):
        return []
    problems: list[Problem] = []
    effective = dict(DEFAULT_KEYS)
    for action, value in keys.items():
        where: KeyPath = ("ui", "keys", str(action))
        if action not in DEFAULT_KEYS:
            hint = _did_you_mean(str(action), list(DEFAULT_KEYS))
            problems.append(
                Problem(
                    [where],
                    f"unknown action '{action}' in [ui.keys]{hint}; "
                    f"the actions are: {', '.join(DEFAULT_KEYS)}",
                )
            )
            continue
        if not isinstance(value, str):
            continue  # the schema says it must be a string
        bad = [k for k in _split(value) if not is_key_name(k)]
        if not _split(value):
            problems.append(Problem([where], f"ui.keys.{action} names no key"))
        elif bad:
            problems.append(Problem([where], _bad_key_message(str(action), bad[0])))
        else:
            effective[str(action)] = value
    return problems + _clashes(effective, keys)


def is_key_name(key: str) -> bool:
    """A key as Textual names it: optional modifiers, then a named key, a character or
    the name of one (`question_mark`), e.g. `f1`, `ctrl+x`, `?`, `shift+tab`."""
    *modifiers, name = key.split("+") if key != "+" else ["+"]
    if any(m not in MODIFIERS for m in modifiers) or len(set(modifiers)) != len(modifiers):
        return False
    if name in NAMED_KEYS or name in _SHORT_NAMES:
        return True
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    return _character_named(name) is not None


def _character_named(name: str) -> str | None:
    """`question_mark` -> `?`: Textual names a character by its Unicode name, with
    spaces and hyphens as underscores (`less_than_sign`); the name itself, not an alias
    (`esc` is not a key)."""
    words = name.split("_")
    if name != name.lower() or not all(w.isalnum() for w in words) or len(words) > 8:
        return None
    for joins in itertools.product(" -", repeat=len(words) - 1):
        candidate = words[0] + "".join(j + w for j, w in zip(joins, words[1:], strict=True))
        try:
            character = unicodedata.lookup(candidate)
        except KeyError:
            continue
        spelled = unicodedata.name(character, "").lower().replace("-", "_").replace(" ", "_")
        if spelled == name and character.isprintable() and not character.isspace():
            return character
    return None


def _canonical(key: str) -> str:
    """One spelling per key, so `?` and `question_mark`, `return` and `enter` clash."""
    *modifiers, name = key.split("+") if key != "+" else ["+"]
    character = _SHORT_NAMES.get(name) or _character_named(name)
    if character is not None and len(name) > 1:
        name = character
    joined = "+".join([*sorted(modifiers), name])
    return _SAME_KEY.get(joined, joined)


def _clashes(effective: Mapping[str, str], written: Mapping[str, Any]) -> list[Problem]:
    """A key bound to two actions, or to one of the app's own: one problem per clash,
    placed where the user wrote the action that causes it."""
    holders: dict[str, list[str]] = {}
    for action, value in effective.items():
        for key in _split(value):
            holders.setdefault(_canonical(key), []).append(action)
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for action in written:
        if action not in DEFAULT_KEYS or effective[action] != written[action]:
            continue  # unknown or invalid: reported already
        where: list[KeyPath] = [("ui", "keys", action)]
        for key in _split(effective[action]):
            canonical = _canonical(key)
            if canonical in RESERVED_KEYS:
                purpose, allowed = RESERVED_KEYS[canonical]
                if action != allowed:
                    reason = f"is reserved for {purpose}"
                    problems.append(Problem(where, f"ui.keys.{action}: '{key}' {reason}"))
                continue
            for other in holders[canonical]:
                pair = frozenset({action, other})
                if other == action or pair in reported:
                    continue
                reported.add(pair)
                fix = (
                    f"give '{other}' or '{action}' another key"
                    if other in written
                    else f"remap '{other}' too, or choose another key"
                )
                clash = f"'{key}' is already the key of '{other}'"
                problems.append(Problem(where, f"ui.keys.{action}: {clash} ({fix})"))
    return problems


def _bad_key_message(action: str, key: str) -> str:
    known = [*NAMED_KEYS, *_SHORT_NAMES]
    *modifiers, name = key.split("+") if key else [""]
    wrong = [m for m in modifiers if m not in MODIFIERS]
    if wrong:
        return (
            f"ui.keys.{action}: '{key}' is not a key: '{wrong[0]}' is not a modifier"
            f"{_did_you_mean(wrong[0], list(MODIFIERS))}; the modifiers are: "
            f"{', '.join(MODIFIERS)}"
        )
    return (
        f"ui.keys.{action}: '{key}' is not a key name{_did_you_mean(name, known)}; "
        "use a character (x, ?), a name (space, enter, escape, tab, up, f1...), "
        "with modifiers before it (ctrl+x)"
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
