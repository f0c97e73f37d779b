"""get_current_time and end_conversation."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.tools import FIXED_NOW, call
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.tools.builtin import spoken_time


async def test_time_in_the_local_zone(registry: ToolRegistry) -> None:
    result, out = await call(registry, "get_current_time", {})
    assert result.ok
    assert out == {
        "iso": "2026-06-01T12:00:00+02:00",
        "spoken": "Monday, 1 June 2026, 12:00 PM",
        "weekday": "Monday",
        "timezone": "CEST",
        "utc_offset": "+02:00",
    }


async def test_time_in_another_zone(registry: ToolRegistry) -> None:
    result, out = await call(registry, "get_current_time", {"timezone": "America/New_York"})
    assert result.ok
    assert out["iso"] == "2026-06-01T06:00:00-04:00"
    assert out["spoken"] == "Monday, 1 June 2026, 6:00 AM"
    assert out["timezone"] == "America/New_York"
    assert out["utc_offset"] == "-04:00"


async def test_time_across_the_date_line(registry: ToolRegistry) -> None:
    _, out = await call(registry, "get_current_time", {"timezone": "Pacific/Kiritimati"})
    assert out["weekday"] == "Tuesday"
    assert out["utc_offset"] == "+14:00"


async def test_unknown_timezone_is_a_clear_error(registry: ToolRegistry) -> None:
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd"):
        result, out = await call(registry, "get_current_time", {"timezone": bad})
        assert not result.ok
        assert out["error"].startswith(f"unknown timezone {bad!r}; use an IANA name")


async def test_real_clock_by_default(tmp_path: object) -> None:
    from voice_tui.config.schema import Settings, ToolsSettings
    from voice_tui.core.tools import build_registry

    registry = build_registry(Settings(tools=ToolsSettings(data_dir=str(tmp_path))))
    before = datetime.now().astimezone()
    _, out = await call(registry, "get_current_time", {"timezone": "UTC"})
    after = datetime.now().astimezone()
    moment = datetime.fromisoformat(out["iso"])
    assert before - timedelta(seconds=1) <= moment <= after


def test_spoken_time_uses_a_twelve_hour_clock() -> None:
    assert spoken_time(FIXED_NOW.replace(hour=0, minute=5)) == "Monday, 1 June 2026, 12:05 AM"
    assert spoken_time(FIXED_NOW.replace(hour=23, minute=59)) == "Monday, 1 June 2026, 11:59 PM"


async def test_end_conversation_ends_after_the_goodbye(registry: ToolRegistry) -> None:
    result, out = await call(registry, "end_conversation", {"reason": "user said bye"})
    assert result.ok and result.ends_conversation
    assert out["ended"] is True
    assert "goodbye" in out["instruction"]


async def test_end_conversation_with_bad_arguments_does_not_end(registry: ToolRegistry) -> None:
    result, _ = await call(registry, "end_conversation", "not json")
    assert not result.ok and not result.ends_conversation


def test_end_conversation_description_is_the_seeds_finish_tool(registry: ToolRegistry) -> None:
    [definition] = registry.definitions(["end_conversation"])
    assert definition["description"].startswith("Invoked when the user says goodbye")
