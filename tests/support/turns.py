"""A conversation-shaped set of turns the journal tests write and read back."""

from __future__ import annotations

import json

from voice_tui.core.conversation import Role, ToolCallRecord, Turn
from voice_tui.core.usage import Prices, TurnUsage

T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC


def usage(text_in: int, audio_in: int, text_out: int, audio_out: int) -> TurnUsage:
    raw = {
        "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in},
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }
    return TurnUsage.from_response_usage(
        raw,
        Prices(
            text_input=4,
            text_cached_input=0.4,
            text_output=16,
            audio_input=32,
            audio_cached_input=0.4,
            audio_output=64,
        ),
    )


def sample_turns() -> list[Turn]:
    return [
        Turn(
            Role.USER,
            "item_u1",
            "Can you book a table for four on Saturday?",
            started_at=T0,
            finished_at=T0 + 2,
        ),
        Turn(
            Role.ASSISTANT,
            "item_a1",
            "Done: a table for four on Saturday at noon.",
            tool_calls=[
                ToolCallRecord(
                    "call_1",
                    "book_table",
                    json.dumps({"date": "2026-11-21", "people": 4, "time": "12:00"}),
                    json.dumps({"booked": True, "table": 3, "note": "```fenced```"}),
                    ok=True,
                    duration_s=0.25,
                ),
                ToolCallRecord(
                    "call_2",
                    "get_weather",
                    "{not json",
                    '{"error": "bad args"}',
                    ok=False,
                    error="invalid JSON arguments",
                    duration_s=0.0,
                ),
            ],
            usage=usage(120, 40, 20, 200),
            started_at=T0 + 3,
            finished_at=T0 + 6,
        ),
        Turn(
            Role.USER,
            "item_u2",
            "What's the time?\nAnd [brackets] too",
            typed=True,
            started_at=T0 + 10,
            finished_at=T0 + 10,
        ),
        Turn(
            Role.ASSISTANT,
            "item_a2",
            "It is ten past nine in the morning, and the weather is fine.",
            interrupted=True,
            heard_text="It is ten past nine",
            usage=usage(200, 60, 10, 90),
            started_at=T0 + 11,
            finished_at=T0 + 12,
        ),
    ]
