"""record_quote: the quote-collecting caller stores what a provider offered.

Quotes are appended to a JSON file under the tools' data dir, each with a reference the
assistant can read back, so the user can compare them after the calls.
"""

from __future__ import annotations

from typing import Any

from voice_tui.core.tools.registry import JsonObject, Tool, ToolContext, ToolError
from voice_tui.core.tools.store import Document, JsonFileStore

QUOTES_FILE = "quotes.json"

_TEXT_FIELDS = ("provider", "vehicle", "service", "availability")


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": 500, "description": description}


class QuoteBook:
    def __init__(self, ctx: ToolContext) -> None:
        self.store = JsonFileStore(ctx.data_dir / QUOTES_FILE, "quotes")

    async def record_quote(self, args: JsonObject, ctx: ToolContext) -> JsonObject:
        fields = {key: " ".join(str(args[key]).split()) for key in _TEXT_FIELDS}
        empty = [key for key, value in fields.items() if not value]
        if empty:
            raise ToolError(f"{', '.join(empty)} must not be blank; ask the provider")
        price = float(args["price"])
        currency = str(args["currency"]).upper()
        notes = " ".join(str(args.get("notes", "")).split())
        recorded_at = ctx.now().isoformat(timespec="seconds")

        def append(document: Document) -> str:
            number = 1 + max((int(q.get("number", 0)) for q in document["quotes"]), default=0)
            reference = f"Q-{number:04d}"
            document["quotes"].append(
                {
                    "reference": reference,
                    "number": number,
                    **fields,
                    "price": price,
                    "currency": currency,
                    "notes": notes,
                    "recorded_at": recorded_at,
                }
            )
            return reference

        reference = await self.store.update(append)
        return {
            "recorded": True,
            "reference": reference,
            **fields,
            "price": price,
            "currency": currency,
            "notes": notes,
        }


def quote_tools(ctx: ToolContext) -> list[Tool]:
    book = QuoteBook(ctx)
    return [
        Tool(
            name="record_quote",
            description=(
                "Records a service quote once the provider has given every detail: who they "
                "are, the vehicle, the service, the price with its currency, and when they "
                "can do it. Returns a reference for the quote."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "provider": _text("The business giving the quote."),
                    "vehicle": _text("The vehicle, e.g. '2019 Toyota Corolla'."),
                    "service": _text("The service quoted, e.g. 'annual service'."),
                    "price": {
                        "type": "number",
                        "minimum": 0,
                        "description": "The quoted price, a number without currency sign.",
                    },
                    "currency": {
                        "type": "string",
                        "pattern": "^[A-Za-z]{3}$",
                        "description": "ISO 4217 currency code, e.g. 'USD' or 'EUR'.",
                    },
                    "availability": _text("When the provider can do it, e.g. 'next Tuesday'."),
                    "notes": {
                        "type": "string",
                        "maxLength": 2000,
                        "description": "Optional: anything else worth remembering.",
                    },
                },
                "required": ["provider", "vehicle", "service", "price", "currency", "availability"],
                "additionalProperties": False,
            },
            handler=book.record_quote,
        )
    ]
