"""Saving: dotted changes land in the file, nothing else is lost, writes are atomic."""

from __future__ import annotations

import asyncio
import difflib
import os
import stat
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import load_settings
from voice_tui.config.schema import Persona
from voice_tui.config.writer import save_settings, save_settings_async

WriteConfig = Callable[..., Path]

EXISTING = """
[session]
voice = "ash"
persona = "Helper"

[audio]
block_ms = 40

[pricing.my-model]
audio_output = 2.0

[[personas]]
name = "Helper"
instructions = "Help."
tools = ["get_current_time"]
"""


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_changes_are_applied_and_every_other_setting_kept(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    before = tomllib.loads(path.read_text())
    save_settings(path, {"ui.theme": "light", "session.voice": "coral"})
    after = tomllib.loads(path.read_text())
    assert after["ui"] == {"theme": "light"}
    assert after["session"] == {**before["session"], "voice": "coral"}
    for table in ("audio", "pricing", "personas"):
        assert after[table] == before[table]
    settings = load_settings(path, {}, {}).settings
    assert settings.ui.theme == "light"
    assert settings.session.voice == "coral"
    assert settings.audio.block_ms == 40


def test_a_new_file_is_created_private_in_a_new_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.toml"
    save_settings(path, {"session.turn_detection": "push_to_talk"})
    assert mode_of(path) == 0o600
    assert tomllib.loads(path.read_text()) == {"session": {"turn_detection": "push_to_talk"}}


def test_saving_a_key_makes_an_open_file_private(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    path.chmod(0o644)
    save_settings(path, {"ui.theme": "light"})
    assert mode_of(path) == 0o644  # no key: the user's choice of mode is kept
    save_settings(path, {"openai.api_key": SecretStr("sk-secret")})
    assert mode_of(path) == 0o600
    assert tomllib.loads(path.read_text())["openai"]["api_key"] == "sk-secret"
    assert load_settings(path, {}, {}).notices == []


def test_none_removes_a_key(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    save_settings(path, {"session.voice": None, "audio.input_device": None})
    data = tomllib.loads(path.read_text())
    assert "voice" not in data["session"]
    assert data["audio"] == {"block_ms": 40}


def test_models_and_paths_are_written_as_plain_toml(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    personas = [
        Persona(name="Helper", instructions="Help."),
        Persona(name="Pirate", instructions="Arr.", voice="ash", tools=["get_weather"]),
    ]
    save_settings(path, {"personas": personas, "tools.data_dir": Path("/srv/data")})
    data = tomllib.loads(path.read_text())
    assert data["personas"][1] == {
        "name": "Pirate",
        "description": "",
        "instructions": "Arr.",
        "voice": "ash",
        "tools": ["get_weather"],
        "greet_first": False,
    }
    assert "voice" not in data["personas"][0]
    assert data["tools"]["data_dir"] == "/srv/data"
    assert [p.name for p in load_settings(path, {}, {}).settings.personas] == ["Helper", "Pirate"]


def test_an_invalid_change_is_refused_and_the_file_untouched(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    original = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        save_settings(path, {"audio.block_ms": 1000, "ui.theme": "light"})
    assert (
        str(caught.value) == "setting audio.block_ms: audio.block_ms must be at most 100, not 1000"
    )
    with pytest.raises(ConfigError) as caught:
        save_settings(path, {"session.persona": "Nobody"})
    assert "session.persona is 'Nobody'" in str(caught.value)
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_a_broken_file_is_never_overwritten(write_config: WriteConfig) -> None:
    path = write_config('[ui]\ntheme = "dark\n# my precious notes\n')
    original = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        save_settings(path, {"ui.theme": "light"})
    assert caught.value.line == 2
    assert path.read_bytes() == original


def test_environment_values_are_not_written(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    path = write_config(EXISTING)
    save_settings(path, {"ui.theme": "light"})
    assert "sk-from-env" not in path.read_text()


def test_a_symlinked_config_is_written_through(tmp_path: Path, write_config: WriteConfig) -> None:
    real = write_config(EXISTING, name="real.toml")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    save_settings(link, {"ui.theme": "light"})
    assert link.is_symlink()
    assert tomllib.loads(real.read_text())["ui"]["theme"] == "light"


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        save_settings(blocker / "config.toml", {"ui.theme": "light"})
    assert str(caught.value).startswith(f"{blocker / 'config.toml'}: cannot write")


def test_a_bad_dotted_key_is_refused(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    with pytest.raises(ConfigError, match="not a dotted key"):
        save_settings(path, {"ui..theme": "light"})
    with pytest.raises(ConfigError, match="unknown key 'them' in \\[ui\\]"):
        save_settings(path, {"ui.them": "light"})


async def test_async_saves_from_the_event_loop_all_land(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    await asyncio.gather(
        save_settings_async(path, {"ui.theme": "light"}),
        save_settings_async(path, {"audio.jitter_ms": 80}),
        save_settings_async(path, {"session.speed": 1.25}),
    )
    settings = load_settings(path, {}, {}).settings
    assert (settings.ui.theme, settings.audio.jitter_ms, settings.session.speed) == (
        "light",
        80,
        1.25,
    )


def test_concurrent_saves_from_threads_lose_nothing(write_config: WriteConfig) -> None:
    path = write_config(EXISTING)
    models = [f"model-{i}" for i in range(16)]
    threads = [
        threading.Thread(
            target=save_settings, args=(path, {f"pricing.{model}.text_input": float(i)})
        )
        for i, model in enumerate(models)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pricing = load_settings(path, {}, {}).settings.pricing
    assert {m: pricing[m].text_input for m in models} == {m: float(i) for i, m in enumerate(models)}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_old_file_survives_a_failure_during_the_write(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(EXISTING)
    original = path.read_bytes()

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ConfigError, match="No space left on device"):
        save_settings(path, {"ui.theme": "light"})
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


COMMENTED = """\
# My voice-tui setup -- do not lose these notes!

[session]
voice = "ash"      # ash suits me
persona = "Helper" # the one I use at work

# Audio: the USB headset, tuned by hand.
[audio]
block_ms = 40
# input_device = "USB"   (kept for when I travel)

# My own persona.
[[personas]]
name = "Helper"
instructions = "Help."  # short and sweet
"""


def test_a_saved_choice_keeps_every_comment_blank_line_and_the_order(
    write_config: WriteConfig,
) -> None:
    path = write_config(COMMENTED)
    save_settings(
        path,
        {
            "session.persona": "Helper",  # unchanged value: the line stays as it is
            "session.voice": "coral",
            "session.turn_detection": "push_to_talk",
            "audio.input_device": "Headset Mic",
            "audio.echo": "off",
            "ui.theme": "light",
        },
    )
    assert (
        path.read_text()
        == """\
# My voice-tui setup -- do not lose these notes!

[session]
voice = "coral"      # ash suits me
persona = "Helper" # the one I use at work
turn_detection = "push_to_talk"

# Audio: the USB headset, tuned by hand.
[audio]
block_ms = 40
input_device = "Headset Mic"
echo = "off"
# input_device = "USB"   (kept for when I travel)

# My own persona.
[[personas]]
name = "Helper"
instructions = "Help."  # short and sweet

[ui]
theme = "light"
"""
    )
    save_settings(path, {"audio.echo": None, "audio.input_device": None, "ui.theme": None})
    assert path.read_text() == (
        COMMENTED.replace('voice = "ash"', 'voice = "coral"').replace(
            "work\n", 'work\nturn_detection = "push_to_talk"\n'
        )
        + "\n[ui]\n"
    )  # removing a key removes its line, nothing else


def test_dotted_keys_and_inline_tables_are_edited_where_they_are(
    write_config: WriteConfig,
) -> None:
    path = write_config(
        'session.persona = "Helper"  # dotted\n'
        'ui = { theme = "dark" }  # inline\n'
        "\n"
        "[[personas]]\n"
        'name = "Helper"\ninstructions = "Help."\n'
        "[[personas]]\n"
        'name = "Other"\ninstructions = "Other."\n'
    )
    save_settings(path, {"session.persona": "Other", "ui.theme": "light"})
    lines = path.read_text().splitlines()
    assert lines[:2] == [
        'session.persona = "Other"  # dotted',
        'ui = { theme = "light" }  # inline',
    ]
    assert load_settings(path, {}, {}).settings.active_persona.name == "Other"


def test_every_app_choice_saved_into_the_example_config_loses_no_line(tmp_path: Path) -> None:
    """The README's way to start: copy config.example.toml, then choose in the app."""
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
    path = tmp_path / "config.toml"
    path.write_text(example)
    choices = {
        "session.persona": "Pirate Weather",
        "session.turn_detection": "semantic_vad",
        "audio.input_device": "USB Mic",
        "audio.output_device": 3,
        "audio.echo": "half-duplex",
        "ui.theme": "light",
    }
    save_settings(path, choices)
    after = path.read_text().splitlines()
    changed = [
        line[2:].split("=")[0].strip()
        for line in difflib.ndiff(example.splitlines(), after)
        if line.startswith(("- ", "+ "))
    ]
    # Only lines of the chosen settings changed: replaced in place or added to their table.
    assert changed and set(changed) <= {dotted.split(".")[1] for dotted in choices}
    comments = [line for line in example.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in after if line.lstrip().startswith("#")] == comments
    settings = load_settings(path, {}, {}).settings
    assert settings.active_persona.name == "Pirate Weather"
    assert (settings.audio.input_device, settings.audio.output_device) == ("USB Mic", 3)


def test_a_new_file_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_settings(path, {"ui.theme": "light"})
    text = path.read_text()
    assert text.startswith("# voice-tui settings (config.example.toml lists every one")
    assert text.endswith('\n[ui]\ntheme = "light"\n')
