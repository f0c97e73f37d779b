"""Tool results as short spoken sentences: the built-in responder never reads JSON aloud.

The built-in tools get sentences written for them ("Saturday the 5th has room for four:
eight tables free."); any other tool's JSON is summarised from its first few plain
fields ("Done: the status is shipped, and the count is 3."). An error becomes an
apology that says what went wrong. The tool log keeps the JSON; only the reply is
turned into words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

_MAX_FIELDS: Final = 3
_MAX_CHARS: Final = 160
NUMBER_WORDS: Final = tuple(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
    ]
)


def ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def count(n: int) -> str:
    """Small counts read better as words ("four" rather than "4")."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def _day(value: Any, weekday: Any = None) -> str:
    """'Saturday the 5th' from an ISO date (and its weekday, if given)."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    name = str(weekday) if weekday else f"{day:%A}"
    return f"{name} the {ordinal(day.day)}"


def _clock(value: Any) -> str:
    try:
        hours, minutes = (int(part) for part in str(value).split(":")[:2])
    except ValueError:
        return str(value)
    when = datetime(2000, 1, 1, hours, minutes)
    return when.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")


def _availability(result: dict[str, Any]) -> str:
    day = _day(result.get("date"), result.get("weekday"))
    party = count(int(result.get("party_size", 0)))
    if result.get("available"):
        free = int(result.get("tables_free", 0))
        tables = f"{count(free)} table{'s' if free != 1 else ''} free"
        return f"{day} has room for {party}: {tables}."
    reason = str(result.get("reason") or "")
    if "at most" in reason:
        most = re.search(r"at most (\d+) guests", reason)
        limit = f" We seat at most {most.group(1)} guests a day." if most else ""
        return f"Sorry, a party of {party} is more than we can seat.{limit}"
    return f"Sorry, {day} is full for a party of {party}."


def _booking(result: dict[str, Any]) -> str:
    day = _day(result.get("date"), result.get("weekday"))
    party = count(int(result.get("party_size", 0)))
    at = f" at {_clock(result['time'])}" if result.get("time") else ""
    name = result.get("customer_name") or result.get("name")
    under = f" under {name}" if name else ""
    reference = result.get("reference")
    ref = f" Your reference is {reference}." if reference else ""
    return f"You're booked for {party} on {day}{at}{under}.{ref}"


def _weather(result: dict[str, Any]) -> str:
    place = str(result.get("location") or "there").split(",")[0]
    unit = "degrees" + (" Fahrenheit" if result.get("unit") == "fahrenheit" else "")
    temperature = result.get("temperature")
    conditions = str(result.get("conditions") or "").lower()
    now = f"{conditions}, " if conditions else ""
    sentence = f"In {place} it's {now}{_round(temperature)} {unit}"
    today = result.get("today")
    if isinstance(today, dict) and today.get("high") is not None:
        sentence += f", with a high of {_round(today['high'])}"
    return sentence + "."


def _quote(result: dict[str, Any]) -> str:
    price, currency = result.get("price"), str(result.get("currency") or "")
    provider = result.get("provider")
    by = f" from {provider}" if provider else ""
    return f"Noted: the quote{by} is {_round(price)} {currency}".rstrip() + "."


def _time(result: dict[str, Any]) -> str | None:
    iso = result.get("iso")
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return None
    clock = when.strftime("%I:%M %p").lstrip("0")
    return f"It's {clock} on {when:%A, %B} {ordinal(when.day)}."


def _round(value: Any) -> str:
    if isinstance(value, float):
        return str(round(value)) if abs(value) >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)


_KNOWN: Final[dict[str, Callable[[dict[str, Any]], str | None]]] = {
    "check_table_availability": _availability,
    "book_table": _booking,
    "get_weather": _weather,
    "record_quote": _quote,
    "get_current_time": _time,
}


def _label(name: str) -> str:
    return name.replace("_", " ").strip() or "the tool"


def _plain(value: Any) -> str | None:
    """A value that reads well aloud, or None (nested structures are left out)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _round(value)
    if isinstance(value, str) and value.strip() and len(value) <= 80:
        return value.strip()
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return None


def _generic(name: str, result: Any) -> str:
    if isinstance(result, dict):
        parts = []
        for key, value in result.items():
            plain = _plain(value)
            if plain is not None:
                parts.append(f"the {_label(str(key))} is {plain}")
            if len(parts) == _MAX_FIELDS:
                break
        if not parts:
            return f"Done: {_label(name)} finished."
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f", and {parts[-1]}"
        return f"From {_label(name)}: {listed}."[:_MAX_CHARS]
    plain = _plain(result)
    if plain is None:
        return f"Done: {_label(name)} finished."
    return f"From {_label(name)}: {plain}."[:_MAX_CHARS]


def spoken_result(name: str, output: str) -> str:
    """One or two short sentences that say what a tool's output means."""
    try:
        result: Any = json.loads(output)
    except ValueError:
        text = " ".join(output.split())
        return f"From {_label(name)}: {text[:_MAX_CHARS]}." if text else "Done."
    if isinstance(result, dict) and result.get("error"):
        message = str(result["error"]).rstrip(".")
        return f"Sorry, {_label(name)} didn't work: {message[:_MAX_CHARS]}."
    known = _KNOWN.get(name)
    if known is not None and isinstance(result, dict):
        try:
            sentence = known(result)
        except (TypeError, ValueError, KeyError):
            sentence = None
        if sentence:
            return sentence
    return _generic(name, result)
