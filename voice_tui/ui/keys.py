"""The app's key bindings, each with an id users can remap in `[ui.keys]`.

`[ui.keys]` maps a binding id to a key (or comma-separated keys), e.g.
`push_to_talk = "space"`; Textual applies it with `App.set_keymap`.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding, BindingType

BINDINGS: list[BindingType] = [
    Binding("space", "push_to_talk", "Talk", id="push_to_talk"),
    Binding("v", "cycle_turn_mode", "Mode", id="turn_mode"),
    Binding("m", "toggle_mute", "Mute", id="mute"),
    Binding("e", "cycle_echo_mode", "Echo", id="echo_mode"),
    # Off the footer (it is full at 80 columns); in the palette and the README.
    Binding("r", "cycle_reasoning_effort", "Think", id="reasoning_effort", show=False),
    Binding("x", "interrupt", "Stop", id="interrupt"),
    Binding("enter", "type_message", "Type", id="type_message"),
    Binding("p", "personas", "Persona", id="personas"),
    Binding("d", "devices", "Devices", id="devices"),
    Binding("t", "cycle_theme", "Theme", id="theme"),
    Binding("s", "save_transcript", "Save", id="save_transcript"),
    Binding("n", "new_session", "New", id="new_session"),
    Binding("q", "request_quit", "Quit", id="quit"),
]

BINDING_IDS: frozenset[str] = frozenset(
    b.id for b in BINDINGS if isinstance(b, Binding) and b.id is not None
)


class KeymapError(ValueError):
    """`[ui.keys]` names a binding that does not exist or an empty key."""


def keymap_from_settings(keys: Mapping[str, str]) -> dict[str, str]:
    """Validate `[ui.keys]`; raise KeymapError naming every bad entry."""
    problems: list[str] = []
    keymap: dict[str, str] = {}
    for binding_id, key in keys.items():
        if binding_id not in BINDING_IDS:
            problems.append(f"unknown id {binding_id!r}")
        elif not key.strip():
            problems.append(f"{binding_id!r} has no key")
        else:
            keymap[binding_id] = key  # set_keymap normalises "?" to "question_mark"
    if problems:
        ids = ", ".join(sorted(BINDING_IDS))
        raise KeymapError(f"ui.keys: {'; '.join(problems)} (binding ids: {ids})")
    return keymap
