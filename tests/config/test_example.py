"""config.example.toml loads, and documents every key of the schema."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from voice_tui.config.loader import load_settings
from voice_tui.config.schema import DEFAULT_PERSONA, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
# Keys without a default are shown commented out: "# key = value".
COMMENTED_KEY = re.compile(r"^# ([a-z_]+ = .*)$", re.MULTILINE)


def uncommented_example() -> dict[str, Any]:
    return tomllib.loads(COMMENTED_KEY.sub(r"\1", EXAMPLE.read_text(encoding="utf-8")))


def missing_fields(model: type[BaseModel], data: Any, where: str) -> list[str]:
    """Dotted names of schema fields absent from `data` (recursing into tables)."""
    missing: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{where}.{name}" if where else name
        if not isinstance(data, dict) or name not in data:
            missing.append(key)
            continue
        value, annotation = data[name], info.annotation
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += missing_fields(annotation, value, key)
        elif origin is list and args and issubclass(args[0], BaseModel):
            # Together the entries must show every key (optional ones need not repeat).
            union = {k: v for entry in value for k, v in entry.items()}
            missing += missing_fields(args[0], union, f"{key}[]")
        elif origin is dict and issubclass(args[1], BaseModel):
            assert value, f"{key} has no example entry"
            for entry_name, entry in value.items():
                missing += missing_fields(args[1], entry, f"{key}.{entry_name}")
    return missing


def test_the_example_loads_as_is() -> None:
    loaded = load_settings(EXAMPLE, {}, {})
    settings = loaded.settings
    assert [p.name for p in settings.personas] == [
        "Assistant",
        "Grumpy Professor",
        "The Wild Brunch",
        "Pirate Weather",
        "Quote Caller",
    ]
    assert settings.active_persona.name == "Assistant"


def test_the_example_shows_the_defaults() -> None:
    example = load_settings(EXAMPLE, {}, {}).settings
    defaults = Settings()
    for section in ("backend", "openai", "azure", "session", "audio", "ui", "local"):
        assert getattr(example, section) == getattr(defaults, section), section
    assert example.journal == defaults.journal
    assert example.tools == defaults.tools
    assert example.pricing == defaults.pricing
    assert example.personas[0] == DEFAULT_PERSONA
    assert example.personas == defaults.personas  # a first run offers the seed personas


def test_every_schema_key_is_in_the_example() -> None:
    assert missing_fields(Settings, uncommented_example(), "") == []


def test_the_commented_out_examples_are_valid_values() -> None:
    Settings.model_validate(uncommented_example())


ASSIGNMENT = re.compile(r"^(# )?[a-z_]+ = ")


def test_every_key_has_a_comment() -> None:
    """Each setting (or run of related settings) sits under a comment that explains it.

    Personas and price tables are explained once, by the comment above the first one.
    """
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    unexplained = []
    table = ""
    for number, line in enumerate(lines):
        if line.startswith("["):
            table = line
            continue
        if table.startswith(("[[personas]]", "[pricing.")) or not ASSIGNMENT.match(line):
            continue
        above = number - 1
        while above >= 0 and ASSIGNMENT.match(lines[above]):
            above -= 1
        if above < 0 or not lines[above].startswith("#"):
            unexplained.append(f"{number + 1}: {line}")
    assert unexplained == []


def test_the_seed_personas() -> None:
    settings = load_settings(EXAMPLE, {}, {}).settings
    professor = settings.find_persona("Grumpy Professor")
    assert professor is not None
    assert professor.instructions == (
        "You are very grumpy physics professor. A student is here to see you. "
        "Respond very tersely and minimally."
    )
    assert professor.voice == "shimmer"
    brunch = settings.find_persona("The Wild Brunch")
    assert brunch is not None
    assert "cowboy-themed restaurant called The Wild Brunch" in brunch.instructions
    assert (
        "Respond as succinctly as possible, ideally in just a few words, but occasionally "
        "use cowboy phrases." in brunch.instructions
    )
    assert brunch.tools == [
        "check_table_availability",
        "book_table",
        "get_current_time",
        "end_conversation",
    ]
    pirate = settings.find_persona("Pirate Weather")
    assert pirate is not None
    assert "pirate" in pirate.instructions
    assert pirate.tools == ["get_weather"]
    caller = settings.find_persona("Quote Caller")
    assert caller is not None
    assert caller.greet_first is True
    assert "mechanic" in caller.instructions
    assert caller.tools == ["record_quote", "end_conversation"]
