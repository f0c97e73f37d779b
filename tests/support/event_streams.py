"""Hypothesis strategies for hostile server event streams: malformed bytes, JSON that
is not an event, unknown types, known types with wrong or missing fields, truncated
messages, and plausible events in any order (ids drawn from a small pool, so events
of different responses and items collide and arrive out of order)."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

IDS = st.sampled_from(["r1", "r2", "i1", "i2", "c1", "", "u1"])
KNOWN_TYPES = [
    "error",
    "session.created",
    "session.updated",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed",
    "response.created",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "response.output_audio_transcript.done",
    "response.output_text.done",
    "response.function_call_arguments.done",
    "response.done",
    "rate_limits.updated",
]
TYPES = st.sampled_from(KNOWN_TYPES) | st.sampled_from(["response.future_thing", "x"])

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | IDS
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
PCM_B64 = st.binary(min_size=0, max_size=96).map(lambda b: base64.b64encode(b).decode())
TOKENS = st.integers(0, 5000) | JSON
USAGE = st.fixed_dictionaries(
    {
        "input_token_details": st.dictionaries(
            st.sampled_from(["text_tokens", "audio_tokens", "cached_tokens"]), TOKENS, max_size=3
        ),
        "output_token_details": st.dictionaries(
            st.sampled_from(["text_tokens", "audio_tokens"]), TOKENS, max_size=2
        ),
    }
)
RESPONSE_OBJ = st.fixed_dictionaries(
    {"id": IDS, "usage": st.one_of(USAGE, USAGE, JSON)},
    optional={
        "status": st.sampled_from(["completed", "cancelled", "failed", "incomplete", "weird"]),
        "status_details": st.fixed_dictionaries(
            {},
            optional={
                "reason": JSON,
                "error": st.fixed_dictionaries(
                    {},
                    optional={
                        "code": st.sampled_from(["rate_limit_exceeded", "server_error", ""]) | JSON,
                        "message": st.text(max_size=30) | JSON,
                    },
                ),
            },
        ),
    },
)
ITEM_OBJ = st.fixed_dictionaries(
    {"id": IDS},
    optional={
        "type": st.sampled_from(["message", "function_call", "other"]) | JSON,
        "call_id": IDS,
        "name": st.sampled_from(["get_current_time", "nope"]) | JSON,
        "arguments": st.sampled_from(["{}", "{bad json", "[]"]) | JSON,
    },
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "response_id": IDS | JSON,
    "item_id": IDS | JSON,
    "call_id": IDS | JSON,
    "delta": PCM_B64 | st.text(max_size=10) | JSON,
    "transcript": st.text(max_size=20) | JSON,
    "text": st.text(max_size=20) | JSON,
    "name": st.sampled_from(["get_current_time", "unknown_tool"]) | JSON,
    "arguments": st.sampled_from(["{}", "not json"]) | JSON,
    "content_index": st.integers(-3, 3) | JSON,
    "audio_start_ms": st.integers(-5, 10**6) | JSON,
    "audio_end_ms": st.integers(-5, 10**6) | JSON,
    "previous_item_id": IDS | JSON,
    "response": st.one_of(RESPONSE_OBJ, RESPONSE_OBJ, JSON),
    "item": st.one_of(ITEM_OBJ, ITEM_OBJ, JSON),
    "session": st.fixed_dictionaries({}, optional={"id": JSON}) | JSON,
    "error": st.fixed_dictionaries(
        {}, optional={"message": JSON, "code": JSON, "event_id": JSON, "param": JSON}
    )
    | JSON,
    "rate_limits": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "name": JSON,
                "limit": JSON,
                "remaining": JSON,
                "reset_seconds": JSON,
            },
        )
        | JSON,
        max_size=2,
    )
    | JSON,
}


FIELDS_OF: dict[str, tuple[str, ...]] = {
    "error": ("error",),
    "session.created": ("session",),
    "session.updated": ("session",),
    "input_audio_buffer.speech_started": ("item_id", "audio_start_ms"),
    "input_audio_buffer.speech_stopped": ("item_id", "audio_end_ms"),
    "input_audio_buffer.committed": ("item_id", "previous_item_id"),
    "conversation.item.input_audio_transcription.delta": ("item_id", "delta"),
    "conversation.item.input_audio_transcription.completed": ("item_id", "transcript"),
    "conversation.item.input_audio_transcription.failed": ("item_id", "error"),
    "response.created": ("response",),
    "response.output_item.added": ("response_id", "item"),
    "response.output_item.done": ("response_id", "item"),
    "response.output_audio.delta": ("response_id", "item_id", "delta", "content_index"),
    "response.output_audio_transcript.delta": ("response_id", "item_id", "delta"),
    "response.output_text.delta": ("response_id", "item_id", "delta"),
    "response.output_audio_transcript.done": ("response_id", "item_id", "transcript"),
    "response.output_text.done": ("response_id", "item_id", "text"),
    "response.function_call_arguments.done": (
        "response_id",
        "item_id",
        "call_id",
        "name",
        "arguments",
    ),
    "response.done": ("response",),
    "rate_limits.updated": ("rate_limits",),
}


@st.composite
def plausible_event(draw: st.DrawFn) -> dict[str, Any]:
    """An event of a known (or unknown) type with its fields, each one right, wrong
    or missing, plus a few fields that do not belong."""
    kind = draw(TYPES)
    event: dict[str, Any] = {"type": kind}
    for name in FIELDS_OF.get(kind, ()):
        if draw(st.integers(0, 9)) > 0:  # now and then a field is missing
            event[name] = draw(FIELD_VALUES[name])
    for name in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=2)):
        event.setdefault(name, draw(FIELD_VALUES[name]))
    return event


def _encode(event: Any) -> str:
    return json.dumps(event, allow_nan=True)


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    text = _encode(draw(plausible_event()))
    return text[: draw(st.integers(0, max(len(text) - 1, 0)))].encode()


MESSAGES: st.SearchStrategy[bytes | str] = st.one_of(
    plausible_event().map(_encode),
    plausible_event().map(_encode),
    plausible_event().map(_encode),
    truncated(),
    JSON.map(_encode),
    st.binary(max_size=40),
    st.text(max_size=40),
)
STREAMS = st.lists(MESSAGES, min_size=1, max_size=40)
