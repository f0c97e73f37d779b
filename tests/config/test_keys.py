"""`[ui.keys]` is checked with the rest of the config: unknown actions, key names that
do not exist and keys that would do two things are errors at file:line:col."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.keys import Keys, _character_to_key

from voice_tui.config.errors import ConfigError
from voice_tui.config.keys import DEFAULT_KEYS, NAMED_KEYS, is_key_name
from voice_tui.config.loader import load_settings
from voice_tui.ui.keys import BINDINGS

WriteConfig = Callable[..., Path]


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {}, {})
    return str(caught.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'talk = "k"',
            "unknown action 'talk' in [ui.keys]; the actions are: push_to_talk, turn_mode, "
            "mute, echo_mode, interrupt, type_message, personas, devices, theme, "
            "save_transcript, new_session, quit",
        ),
        (
            'persona = "k"',
            "unknown action 'persona' in [ui.keys] (did you mean 'personas'?); the actions are: "
            "push_to_talk, turn_mode, mute, echo_mode, interrupt, type_message, personas, "
            "devices, theme, save_transcript, new_session, quit",
        ),
        (
            'push_to_talk = "q"',
            "ui.keys.push_to_talk: 'q' is already the key of 'quit' "
            "(remap 'quit' too, or choose another key)",
        ),
        (
            'mute = "return"',
            "ui.keys.mute: 'return' is already the key of 'type_message' "
            "(remap 'type_message' too, or choose another key)",
        ),
        (
            'mute = "Enter"',
            "ui.keys.mute: 'Enter' is not a key name (did you mean 'enter'?); use a character "
            "(x, ?), a name (space, enter, escape, tab, up, f1...), with modifiers before it "
            "(ctrl+x)",
        ),
        ('mute = "f99"', "ui.keys.mute: 'f99' is not a key name (did you mean 'f9'?); use"),
        ('mute = "spacebar"', "ui.keys.mute: 'spacebar' is not a key name (did you mean"),
        ('mute = "esc"', "ui.keys.mute: 'esc' is not a key name"),
        (
            'mute = "ctlr+m"',
            "ui.keys.mute: 'ctlr+m' is not a key: 'ctlr' is not a modifier (did you mean "
            "'ctrl'?); the modifiers are: ctrl, shift, alt, meta, super, hyper",
        ),
        ('mute = " , "', "ui.keys.mute names no key"),
        ('interrupt = "ctrl+p"', "ui.keys.interrupt: 'ctrl+p' is reserved for the command palette"),
    ],
)
def test_a_bad_remapping_is_an_error_at_its_line(
    write_config: WriteConfig, entry: str, message: str
) -> None:
    path = write_config(f'[ui]\ntheme = "dark"\n\n[ui.keys]\n{entry}\n')
    assert error_of(path).startswith(f"{path}:5:1: {message}")


def test_two_remapped_actions_on_one_key_are_one_problem(write_config: WriteConfig) -> None:
    path = write_config('[ui.keys]\nmute = "z"\ninterrupt = "escape, z"\n')
    assert error_of(path) == (
        f"{path}:2:1: ui.keys.mute: 'z' is already the key of 'interrupt' "
        "(give 'interrupt' or 'mute' another key)"
    )


def test_every_problem_of_the_table_at_once(write_config: WriteConfig) -> None:
    path = write_config('[ui.keys]\npush_to_talk = "q"\ntalk = "k"\nmute = "ctlr+m"\n')
    lines = error_of(path).splitlines()
    assert lines[0] == f"{path}: 3 problems:"
    assert [line.split(": ")[0].strip() for line in lines[1:]] == [
        f"{path}:2:1",
        f"{path}:3:1",
        f"{path}:4:1",
    ]


@pytest.mark.parametrize(
    "keys",
    [
        {"push_to_talk": "f1", "interrupt": "escape,x"},  # the README's example
        {"push_to_talk": "q", "quit": "ctrl+x"},  # a swap is fine when both move
        {"mute": "question_mark", "quit": "ctrl+q"},  # quit may have Textual's quit key
        {"theme": "shift+t", "devices": "ctrl+shift+d", "new_session": "?"},
    ],
)
def test_good_remappings_load(write_config: WriteConfig, keys: dict[str, str]) -> None:
    body = "".join(f'{action} = "{key}"\n' for action, key in keys.items())
    path = write_config(f"[ui.keys]\n{body}")
    assert load_settings(path, {}, {}).settings.ui.keys == keys


def test_the_actions_and_their_keys_are_the_apps_bindings() -> None:
    bindings = {b.id: b.key for b in BINDINGS if isinstance(b, Binding)}
    assert bindings == DEFAULT_KEYS


def test_key_names_are_textuals() -> None:
    textual_names = {key.value.rpartition("+")[2] for key in Keys}
    assert textual_names >= NAMED_KEYS
    for key in Keys:  # every key Textual names is a key here too
        name = key.value
        if not name.startswith("<") and name not in ("ctrl+@", "ctrl-at"):
            assert is_key_name(name), name
    for character in string.printable.strip():
        assert is_key_name(character), character
        assert is_key_name(_character_to_key(character)), _character_to_key(character)
