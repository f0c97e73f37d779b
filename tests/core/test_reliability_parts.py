"""The pure parts of staying connected: backoff timing, failure kinds, retry-after,
and what a restore replays."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from voice_tui.core.conversation import Role, ToolCallRecord, Turn
from voice_tui.core.reliability import (
    FailureKind,
    ReconnectPolicy,
    backoff_delays,
    failure_kind,
    retry_after_s,
)
from voice_tui.core.restore import PendingCall, restore_items

CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)


def test_backoff_grows_is_capped_and_jittered_within_bounds() -> None:
    policy = ReconnectPolicy(first_delay_s=0.5, max_delay_s=4.0, factor=2.0, jitter=0.25,
                             max_attempts=8)  # fmt: skip
    delays = list(backoff_delays(policy, random.Random(7)))
    assert len(delays) == 8
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    for delay, base in zip(delays, nominal, strict=True):
        assert base * 0.75 <= delay <= base * 1.25
    # Jitter: two clients dropped together do not retry in lockstep.
    assert delays != list(backoff_delays(policy, random.Random(8)))


def test_without_jitter_the_delays_are_exact() -> None:
    policy = ReconnectPolicy(first_delay_s=1.0, max_delay_s=3.0, jitter=0.0, max_attempts=4)
    assert list(backoff_delays(policy)) == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("code", "type_", "kind"),
    [
        ("rate_limit_exceeded", "tokens", FailureKind.RATE_LIMITED),
        ("", "requests", FailureKind.RATE_LIMITED),
        ("insufficient_quota", "insufficient_quota", FailureKind.FATAL),
        ("invalid_api_key", "", FailureKind.FATAL),
        ("model_not_found", "", FailureKind.FATAL),
        ("server_error", "server_error", FailureKind.OTHER),
        ("", "", FailureKind.OTHER),
    ],
)
def test_failure_kinds(code: str, type_: str, kind: FailureKind) -> None:
    assert failure_kind(code, type_) is kind


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Rate limit reached ... Please try again in 1.05s. Visit ...", 1.05),
        ("Please try again in 350ms.", 0.35),
        ("Please TRY AGAIN IN 20 s", 20.0),
        ("Rate limit reached.", None),
    ],
)
def test_retry_after(message: str, seconds: float | None) -> None:
    assert retry_after_s(message) == seconds


def test_restore_replays_text_heard_parts_tool_calls_and_pending_calls() -> None:
    call = ToolCallRecord("call_1", "get_current_time", "{}", '{"iso": "x"}', True)
    turns = [
        Turn(Role.USER, "u1", text="what time is it"),
        Turn(Role.ASSISTANT, "a1", tool_calls=[call]),  # a call, no words
        Turn(Role.ASSISTANT, "a2", text="It is noon, and then", interrupted=True,
             heard_text="It is noon"),
        Turn(Role.USER, "u2", text=" "),  # nothing understood
    ]  # fmt: skip
    events = restore_items(turns, [PendingCall("call_2", "book_table", '{"people": 2}')])
    for event in events:
        CLIENT_EVENT.validate_json(event)  # what the SDK itself would accept
    items = [json.loads(e)["item"] for e in events]
    assert items == [
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "what time is it"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_current_time",
         "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"iso": "x"}'},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "It is noon"}]},
        {"type": "function_call", "call_id": "call_2", "name": "book_table",
         "arguments": '{"people": 2}'},
    ]  # fmt: skip
    assert len({json.loads(e)["event_id"] for e in events}) == len(events)
