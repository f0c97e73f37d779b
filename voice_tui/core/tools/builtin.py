"""The always-available tools: the current time and ending the conversation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voice_tui.core.tools.registry import JsonObject, Tool, ToolContext, ToolError


def spoken_time(moment: datetime) -> str:
    """'Saturday, 21 November 2026, 7:05 AM': what a voice reads out naturally."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%A}, {moment.day} {moment:%B %Y}, {hour}:{moment:%M} {half}"


def _utc_offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(
            f"unknown timezone {name!r}; use an IANA name such as 'Europe/Paris', "
            "'America/New_York' or 'UTC'"
        ) from exc


async def get_current_time(args: JsonObject, ctx: ToolContext) -> JsonObject:
    now = ctx.now()
    zone_name = args.get("timezone")
    if zone_name:
        now = now.astimezone(_zone(zone_name))
        label = zone_name.strip()
    else:
        label = now.tzname() or "local"
    return {
        "iso": now.isoformat(timespec="seconds"),
        "spoken": spoken_time(now),
        "weekday": f"{now:%A}",
        "timezone": label,
        "utc_offset": _utc_offset(now),
    }


async def end_conversation(args: JsonObject, ctx: ToolContext) -> JsonObject:
    return {
        "ended": True,
        "instruction": "Say a short goodbye now; the conversation ends after it.",
    }


GET_CURRENT_TIME = Tool(
    name="get_current_time",
    description=(
        "Gets the current date and time, in the user's local timezone or in a given IANA "
        "timezone. Use it whenever the user asks about the time, the date or the weekday."
    ),
    parameters={
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "Optional IANA timezone, e.g. 'Europe/Paris'. Omit for local.",
            }
        },
        "additionalProperties": False,
    },
    handler=get_current_time,
)

END_CONVERSATION = Tool(
    name="end_conversation",
    description=(
        "Invoked when the user says goodbye, expresses being finished, or otherwise seems "
        "to want to stop the interaction."
    ),
    parameters={
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "Optional: why the conversation ends."}
        },
        "additionalProperties": False,
    },
    handler=end_conversation,
    ends_conversation=True,
)
