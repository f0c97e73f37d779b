"""record_quote: quotes appended to quotes.json under the data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.tools import FIXED_NOW, RegistryFactory, call
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.tools.quotes import QUOTES_FILE

QUOTE = {
    "provider": "Dusty Trail Motors",
    "vehicle": "2019 Toyota Corolla",
    "service": "annual service",
    "price": 249.5,
    "currency": "usd",
    "availability": "next Tuesday morning",
}


def saved_quotes(data_dir: Path) -> list[dict[str, Any]]:
    quotes: list[dict[str, Any]] = json.loads((data_dir / QUOTES_FILE).read_text(encoding="utf-8"))[
        "quotes"
    ]
    return quotes


async def test_a_quote_is_recorded_with_a_reference(registry: ToolRegistry, data_dir: Path) -> None:
    result, out = await call(registry, "record_quote", {**QUOTE, "notes": "includes  oil"})
    assert result.ok, out
    assert out == {
        "recorded": True,
        "reference": "Q-0001",
        "provider": "Dusty Trail Motors",
        "vehicle": "2019 Toyota Corolla",
        "service": "annual service",
        "availability": "next Tuesday morning",
        "price": 249.5,
        "currency": "USD",
        "notes": "includes oil",
    }
    [saved] = saved_quotes(data_dir)
    assert saved["reference"] == "Q-0001"
    assert saved["recorded_at"] == FIXED_NOW.isoformat(timespec="seconds")


async def test_quotes_accumulate_across_registries(
    make_registry: RegistryFactory, data_dir: Path
) -> None:
    await call(make_registry(), "record_quote", QUOTE)
    result, out = await call(
        make_registry(), "record_quote", {**QUOTE, "provider": "Gulch Garage", "price": 199}
    )
    assert result.ok and out["reference"] == "Q-0002"
    assert [q["provider"] for q in saved_quotes(data_dir)] == [
        "Dusty Trail Motors",
        "Gulch Garage",
    ]


async def test_incomplete_or_wrong_quotes_are_refused(
    registry: ToolRegistry, data_dir: Path
) -> None:
    missing = {k: v for k, v in QUOTE.items() if k != "availability"}
    result, out = await call(registry, "record_quote", missing)
    assert not result.ok
    assert out["problems"] == ["'availability' is a required property"]
    result, out = await call(registry, "record_quote", {**QUOTE, "price": -5, "currency": "$"})
    assert not result.ok
    assert out["problems"] == [
        "currency: '$' does not match '^[A-Za-z]{3}$'",
        "price: -5 is less than the minimum of 0",
    ]
    result, out = await call(registry, "record_quote", {**QUOTE, "provider": "  "})
    assert not result.ok
    assert out["error"] == "provider must not be blank; ask the provider"
    assert not (data_dir / QUOTES_FILE).exists()
