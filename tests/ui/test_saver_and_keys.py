"""Saving UI choices to the config, and validating remapped keys."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest

from voice_tui.config.errors import ConfigError
from voice_tui.ui.keys import BINDING_IDS, KeymapError, keymap_from_settings
from voice_tui.ui.saver import ChoiceSaver


def test_changes_from_many_threads_merge_and_the_newest_wins(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[ui]\nshow_timestamps = false\n[session]\nvoice = "ash"\n', encoding="utf-8")
    saver = ChoiceSaver(path)

    def choose(i: int) -> None:
        saver.add({"ui.theme": f"theme-{i}"})
        saver.write_pending()

    threads = [threading.Thread(target=choose, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saver.add({"ui.theme": "light", "session.turn_detection": "push_to_talk"})
    saver.write_pending()
    saved = tomllib.loads(path.read_text(encoding="utf-8"))
    assert saved["ui"] == {"show_timestamps": False, "theme": "light"}  # others kept
    assert saved["session"] == {"voice": "ash", "turn_detection": "push_to_talk"}


def test_an_invalid_choice_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntheme = "dark"\n', encoding="utf-8")
    saver = ChoiceSaver(path)
    saver.add({"session.turn_detection": "telepathy"})
    with pytest.raises(ConfigError):
        saver.write_pending()
    assert path.read_text(encoding="utf-8") == '[ui]\ntheme = "dark"\n'


def test_keymap_accepts_known_ids_and_names_every_bad_one() -> None:
    assert keymap_from_settings({"push_to_talk": "k", "quit": "ctrl+x"}) == {
        "push_to_talk": "k",
        "quit": "ctrl+x",
    }
    with pytest.raises(KeymapError) as caught:
        keymap_from_settings({"talk": "k", "mute": " ", "personas": "o"})
    message = str(caught.value)
    assert "'talk'" in message and "'mute' has no key" in message
    assert all(binding_id in message for binding_id in BINDING_IDS)  # the valid ids listed


USERS_CONFIG = """\
# Mine. Hands off my notes!
[ui]
theme = "dark"   # easy on the eyes at night
show_timestamps = false

# Headphones at the desk.
[audio]
enabled = false
echo = "off"
"""


async def test_a_choice_made_in_the_app_keeps_the_users_comments(tmp_path: Path) -> None:
    """The app's own path: press `t`, the theme is saved, the rest of the file as it was."""
    from tests.ui.conftest import SIZE, fixed_clock
    from voice_tui.config.loader import load_settings
    from voice_tui.ui.app import VoiceApp

    path = tmp_path / "config.toml"
    path.write_text(USERS_CONFIG, encoding="utf-8")
    loaded = load_settings(path, {}, {})
    app = VoiceApp(loaded.settings, connect=None, config_path=path, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        assert app.theme == "light"
        await app.workers.wait_for_complete()
    assert path.read_text(encoding="utf-8") == USERS_CONFIG.replace(
        'theme = "dark"', 'theme = "light"'
    )
