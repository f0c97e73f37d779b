"""Themes as TOML files, loaded into Textual themes.

A theme file holds the Textual colour slots (`primary`, `background`, ...), `dark`,
and a `[variables]` table for the app's own colours (the status lights and the mic
meter, see `APP_VARIABLES`). A broken file is reported and skipped, never fatal.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

# The repository's themes/ folder (a source checkout or an editable install).


def _builtin_theme_dir() -> Path:
    """`themes/` beside the package in a checkout (or editable install); in a wheel
    install, where pyproject's data-files put it: `<prefix>/share/voice-tui/themes`."""
    checkout = Path(__file__).resolve().parents[2] / "themes"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "voice-tui" / "themes"


BUILTIN_THEME_DIR = _builtin_theme_dir()

COLOUR_SLOTS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)

# The app's own variables, with defaults that read on both dark and light backgrounds.
APP_VARIABLES: dict[str, str] = {
    "vt-idle": "#8a8f98",
    "vt-listening": "#2e9bdb",
    "vt-user-speaking": "#2fbf71",
    "vt-thinking": "#d6a21e",
    "vt-assistant-speaking": "#a56de2",
    "vt-tool-running": "#e07a2f",
    "vt-muted": "#7d7d7d",
    "vt-connecting": "#5c7c99",
    "vt-reconnecting": "#c76b98",
    "vt-offline": "#b0413e",
    "vt-error": "#e5484d",
    "vt-meter-low": "#2fbf71",
    "vt-meter-high": "#d6a21e",
    "vt-meter-clip": "#e5484d",
    "vt-user-title": "#2e9bdb",
    "vt-assistant-title": "#a56de2",
}

_ALLOWED_KEYS = {"name", "dark", "luminosity_spread", "text_alpha", "variables", *COLOUR_SLOTS}


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedThemes:
    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _colour(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: {key} must be a colour string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: {key} = {value!r} is not a colour") from None
    return value


def load_theme_file(path: Path) -> Theme:
    """Read one theme file; raise ThemeFileError saying what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: {exc}") from None
    unknown = sorted(set(data) - _ALLOWED_KEYS)
    if unknown:
        raise ThemeFileError(f"{path}: unknown keys {', '.join(unknown)}")
    if "primary" not in data:
        raise ThemeFileError(f"{path}: primary is missing")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path}: name must be a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{path}: dark must be true or false")
    colours = {k: _colour(path, k, data[k]) for k in COLOUR_SLOTS if k in data}
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{path}: [variables] must be a table")
    merged = dict(APP_VARIABLES)
    for key, value in variables.items():
        # App colours are checked; other Textual variables are passed through.
        merged[key] = _colour(path, f"variables.{key}", value) if key in APP_VARIABLES else value
    extra: dict[str, float] = {}
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            if not isinstance(data[key], int | float):
                raise ThemeFileError(f"{path}: {key} must be a number")
            extra[key] = float(data[key])
    return Theme(
        name=name.strip(),
        dark=dark,
        variables=merged,
        luminosity_spread=extra.get("luminosity_spread", 0.15),
        text_alpha=extra.get("text_alpha", 0.95),
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
    )


def load_themes(*folders: Path) -> LoadedThemes:
    """Every `*.toml` theme in the folders, in order; later files win on equal names."""
    loaded = LoadedThemes()
    by_name: dict[str, Theme] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                loaded.problems.append(str(exc))
                continue
            by_name[theme.name] = theme
    loaded.themes = list(by_name.values())
    return loaded
