"""The Wild Brunch, a cowboy-themed restaurant: table availability and bookings.

Bookings live in a JSON file under the tools' data dir, so they survive restarts and
two conversations see the same tables. Capacity is per day: `restaurant_tables` tables of
`restaurant_seats_per_table` seats; a party larger than a table takes several tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from voice_tui.core.tools.registry import JsonObject, Tool, ToolContext, ToolError
from voice_tui.core.tools.store import Document, JsonFileStore

BOOKINGS_FILE = "wild_brunch_bookings.json"
MAX_PARTY = 500  # beyond any restaurant; a schema bound against absurd numbers

_DATE = {
    "type": "string",
    "format": "date",
    "pattern": r"^\d{4}-\d{2}-\d{2}$",
    "description": "The day, as YYYY-MM-DD.",
}
_PARTY = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_PARTY,
    "description": "Number of people, including the caller.",
}


@dataclass(frozen=True, slots=True)
class Availability:
    day: date
    party_size: int
    tables_needed: int
    tables_free: int
    tables_total: int
    seats_per_table: int

    @property
    def available(self) -> bool:
        return self.tables_needed <= self.tables_free

    def reason(self) -> str | None:
        if self.tables_needed > self.tables_total:
            most = self.tables_total * self.seats_per_table
            return (
                f"The Wild Brunch has {self.tables_total} tables of {self.seats_per_table} "
                f"seats: at most {most} guests on one day"
            )
        if not self.available:
            return (
                f"not enough tables left on {self.day.isoformat()}: {self.tables_free} free, "
                f"a party of {self.party_size} needs {self.tables_needed}"
            )
        return None

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "date": self.day.isoformat(),
            "weekday": f"{self.day:%A}",
            "party_size": self.party_size,
            "available": self.available,
            "tables_needed": self.tables_needed,
            "tables_free": self.tables_free,
            "tables_total": self.tables_total,
            "seats_per_table": self.seats_per_table,
        }
        reason = self.reason()
        if reason:
            out["reason"] = reason
        return out


class WildBrunch:
    def __init__(self, ctx: ToolContext) -> None:
        self.store = JsonFileStore(ctx.data_dir / BOOKINGS_FILE, "bookings")
        self.tables = ctx.settings.restaurant_tables
        self.seats = ctx.settings.restaurant_seats_per_table

    def _availability(self, document: Document, day: date, party_size: int) -> Availability:
        used = sum(
            int(b.get("tables", 0))
            for b in document["bookings"]
            if b.get("date") == day.isoformat()
        )
        return Availability(
            day=day,
            party_size=party_size,
            tables_needed=math.ceil(party_size / self.seats),
            tables_free=max(self.tables - used, 0),
            tables_total=self.tables,
            seats_per_table=self.seats,
        )

    async def check_table_availability(self, args: JsonObject, ctx: ToolContext) -> JsonObject:
        day = _future_day(args["date"], None, ctx.now())
        document = await self.store.read()
        return self._availability(document, day, args["party_size"]).to_json()

    async def book_table(self, args: JsonObject, ctx: ToolContext) -> JsonObject:
        at = _parse_time(args.get("time"))
        now = ctx.now()
        day = _future_day(args["date"], at, now)
        party_size: int = args["party_size"]
        name = " ".join(str(args["customer_name"]).split())
        if not name:
            raise ToolError("customer_name is empty; ask the caller for their name")

        def add(document: Document) -> JsonObject:
            availability = self._availability(document, day, party_size)
            if not availability.available:
                raise ToolError(
                    f"cannot book: {availability.reason()}", availability=availability.to_json()
                )
            same_day = [b for b in document["bookings"] if b.get("date") == day.isoformat()]
            sequence = 1 + max((int(b.get("sequence", 0)) for b in same_day), default=0)
            booking: dict[str, Any] = {
                "reference": f"WB-{day:%Y%m%d}-{sequence:02d}",
                "sequence": sequence,
                "date": day.isoformat(),
                "time": at.strftime("%H:%M") if at else None,
                "party_size": party_size,
                "tables": availability.tables_needed,
                "customer_name": name,
                "booked_at": now.isoformat(timespec="seconds"),
            }
            document["bookings"].append(booking)
            return booking

        booking = await self.store.update(add)
        return {
            "booked": True,
            "reference": booking["reference"],
            "date": booking["date"],
            "weekday": f"{day:%A}",
            "time": booking["time"],
            "party_size": party_size,
            "customer_name": name,
            "tables": booking["tables"],
        }


def _parse_time(value: str | None) -> time | None:
    if not value:
        return None
    hours, minutes = value.split(":")  # the schema's pattern guarantees HH:MM
    return time(int(hours), int(minutes))


def _future_day(value: str, at: time | None, now: datetime) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:  # the schema checks too; this is the last word
        raise ToolError(f"{value!r} is not a date; use YYYY-MM-DD") from exc
    today = now.date()
    if day < today or (day == today and at is not None and at <= now.time()):
        raise ToolError(
            f"{value}{' ' + at.strftime('%H:%M') if at else ''} is in the past; "
            f"today is {today.isoformat()} ({today:%A})"
        )
    return day


def restaurant_tools(ctx: ToolContext) -> list[Tool]:
    brunch = WildBrunch(ctx)
    return [
        Tool(
            name="check_table_availability",
            description=(
                "Checks whether The Wild Brunch has a table free on a given date for a given "
                "number of people."
            ),
            parameters={
                "type": "object",
                "properties": {"date": _DATE, "party_size": _PARTY},
                "required": ["date", "party_size"],
                "additionalProperties": False,
            },
            handler=brunch.check_table_availability,
        ),
        Tool(
            name="book_table",
            description=(
                "Books a table at The Wild Brunch and returns the booking reference. Check "
                "availability first and confirm the details with the caller."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "date": _DATE,
                    "party_size": _PARTY,
                    "customer_name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 120,
                        "description": "The name the booking is under.",
                    },
                    "time": {
                        "type": "string",
                        "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$",
                        "description": "Optional arrival time, 24-hour HH:MM.",
                    },
                },
                "required": ["date", "party_size", "customer_name"],
                "additionalProperties": False,
            },
            handler=brunch.book_table,
        ),
    ]
