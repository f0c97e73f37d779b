"""Themes from TOML files: loaded with the app's variables; broken files reported, skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ui import SIZE, detached_app
from voice_tui.ui.themes import (
    APP_VARIABLES,
    BUILTIN_THEME_DIR,
    ThemeFileError,
    load_theme_file,
    load_themes,
)


def test_builtin_dark_and_light_themes_load_with_app_variables() -> None:
    loaded = load_themes(BUILTIN_THEME_DIR)
    assert loaded.problems == []
    by_name = {t.name: t for t in loaded.themes}
    assert {"dark", "light"} <= set(by_name)
    assert by_name["dark"].dark and not by_name["light"].dark
    for theme in by_name.values():
        assert set(APP_VARIABLES) <= set(theme.variables)
    assert by_name["dark"].variables["vt-listening"] != by_name["light"].variables["vt-listening"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('primary = "#fff', "Unterminated string"),  # TOML syntax error
        ('primary = "#ffffff"\nsparkles = true', "unknown keys sparkles"),
        ('primary = "not a colour"', "primary = 'not a colour' is not a colour"),
        ('background = "#000000"', "primary is missing"),
        ('primary = "#ffffff"\n[variables]\nvt-error = "nope"', "variables.vt-error"),
        ('primary = "#ffffff"\ndark = "yes"', "dark must be true or false"),
    ],
)
def test_broken_theme_files_say_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThemeFileError) as caught:
        load_theme_file(path)
    assert problem.lower() in str(caught.value).lower()
    assert str(path) in str(caught.value)


async def test_broken_files_are_reported_once_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "a-broken.toml").write_text("primary = [", encoding="utf-8")
    (tmp_path / "b-broken.toml").write_text('primary = "#12"', encoding="utf-8")
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\nprimary = "#336699"\ndark = true\n[variables]\nvt-idle = "#010203"\n',
        encoding="utf-8",
    )
    app = detached_app(theme_dirs=[BUILTIN_THEME_DIR, tmp_path])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        warnings = [n for n in app._notifications if n.title == "Theme files skipped"]
        assert len(warnings) == 1
        assert "a-broken.toml" in warnings[0].message and "b-broken.toml" in warnings[0].message
        assert "mine" in app.available_themes and "dark" in app.available_themes
        assert app.theme == "dark"
        app.theme = "mine"
        await pilot.pause()
        assert app.theme_variables["vt-idle"] == "#010203"


async def test_unknown_configured_theme_falls_back_with_a_notice() -> None:
    from tests.support.ui import quiet_settings

    app = detached_app(quiet_settings(theme="no-such-theme"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


async def test_theme_key_switches_live() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "dark"
        await pilot.press("t")
        assert app.theme == "light"
        await pilot.press("t")
        assert app.theme == "dark"


async def test_user_themes_next_to_the_config_file_are_loaded(tmp_path: Path) -> None:
    from tests.support.ui import fixed_clock, quiet_settings
    from voice_tui.ui.app import VoiceApp

    config = tmp_path / "config.toml"
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "solar.toml").write_text(
        'name = "solar"\nprimary = "#b58900"\ndark = false\n', encoding="utf-8"
    )
    settings = quiet_settings(theme="solar")
    app = VoiceApp(settings, connect=None, config_path=config, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "solar"
        seen = []
        for _ in range(3):
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == ["dark", "light", "solar"]  # the user's theme is in the cycle
