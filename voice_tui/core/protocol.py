"""Realtime (GA) client-event builders and server-event reading helpers.

Client events are built as plain JSON text: the audio append path runs 50 times a
second and must stay cheap, so nothing here goes through pydantic. Server events are
read defensively (`str_field` & co.): a malformed event must never crash the engine.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Sequence
from typing import Any

from voice_tui.config.schema import Persona, Settings
from voice_tui.core.events import RateLimit, TurnMode
from voice_tui.core.usage import Prices

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # pcm16 mono
PCM_FORMAT = {"type": "audio/pcm", "rate": SAMPLE_RATE}

_event_counter = itertools.count(1)


def new_event_id(prefix: str = "evt_vt") -> str:
    """Client event ids let an `error` event be matched to what caused it."""
    return f"{prefix}{next(_event_counter)}"


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- client events


def audio_append(pcm: bytes) -> str:
    # Hot path: no dict, no json.dumps, base64 text needs no escaping.
    return (
        '{"type":"input_audio_buffer.append","audio":"'
        + base64.b64encode(pcm).decode("ascii")
        + '"}'
    )


def simple(event_type: str, event_id: str | None = None) -> str:
    event: dict[str, Any] = {"type": event_type}
    if event_id:
        event["event_id"] = event_id
    return dumps(event)


def turn_detection(settings: Settings, mode: TurnMode) -> dict[str, Any] | None:
    s = settings.session
    if mode is TurnMode.PUSH_TO_TALK:
        return None
    if mode is TurnMode.SEMANTIC_VAD:
        return {"type": "semantic_vad", "eagerness": s.semantic_eagerness}
    return {
        "type": "server_vad",
        "threshold": s.vad_threshold,
        "prefix_padding_ms": s.prefix_padding_ms,
        "silence_duration_ms": s.silence_duration_ms,
    }


def persona_voice(settings: Settings, persona: Persona, override: str | None = None) -> str:
    """An explicit `--voice` beats the persona's voice, which beats session.voice."""
    return override or persona.voice or settings.session.voice


def session_config(
    settings: Settings,
    persona: Persona,
    tools: Sequence[dict[str, Any]],
    mode: TurnMode,
    *,
    include_voice: bool = True,
    voice_override: str | None = None,
) -> dict[str, Any]:
    """The `session` object of a full `session.update`."""
    s = settings.session
    audio_input: dict[str, Any] = {
        "format": PCM_FORMAT,
        "noise_reduction": None if s.noise_reduction == "off" else {"type": s.noise_reduction},
        "turn_detection": turn_detection(settings, mode),
    }
    if s.transcription_model:
        transcription: dict[str, Any] = {"model": s.transcription_model}
        if s.transcription_language:
            transcription["language"] = s.transcription_language
        audio_input["transcription"] = transcription
    audio_output: dict[str, Any] = {"format": PCM_FORMAT, "speed": s.speed}
    if include_voice:
        audio_output["voice"] = persona_voice(settings, persona, voice_override)
    session: dict[str, Any] = {
        "type": "realtime",
        "instructions": persona.instructions,
        "output_modalities": [s.output_modality],
        "audio": {"input": audio_input, "output": audio_output},
        "tools": list(tools),
        "tool_choice": "auto",
        "max_output_tokens": s.max_output_tokens,
    }
    if s.reasoning_effort is not None:  # None: the model does not reason
        session["reasoning"] = {"effort": s.reasoning_effort}
        session["parallel_tool_calls"] = s.parallel_tool_calls
    return session


def reasoning_session(effort: str) -> dict[str, Any]:
    """A partial session: only the reasoning effort changes."""
    return {"type": "realtime", "reasoning": {"effort": effort}}


def session_update(session: dict[str, Any], event_id: str) -> str:
    return dumps({"type": "session.update", "event_id": event_id, "session": session})


def turn_detection_session(settings: Settings, mode: TurnMode) -> dict[str, Any]:
    """A partial session: only the turn detection changes."""
    return {
        "type": "realtime",
        "audio": {"input": {"turn_detection": turn_detection(settings, mode)}},
    }


def persona_session(
    persona: Persona, tools: Sequence[dict[str, Any]], voice: str | None
) -> dict[str, Any]:
    """A partial session for a persona switch; `voice` None keeps the current one."""
    session: dict[str, Any] = {
        "type": "realtime",
        "instructions": persona.instructions,
        "tools": list(tools),
        "tool_choice": "auto",
    }
    if voice is not None:
        session["audio"] = {"output": {"voice": voice}}
    return session


def response_create(event_id: str) -> str:
    return simple("response.create", event_id)


def response_create_with(response: dict[str, Any], event_id: str) -> str:
    """response.create with per-response overrides (e.g. output_modalities)."""
    return dumps({"type": "response.create", "event_id": event_id, "response": response})


def user_text_item(item_id: str, text: str, event_id: str) -> str:
    return dumps(
        {
            "type": "conversation.item.create",
            "event_id": event_id,
            "item": {
                "id": item_id,
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )


def function_output_item(call_id: str, output: str, event_id: str) -> str:
    return dumps(
        {
            "type": "conversation.item.create",
            "event_id": event_id,
            "item": {"type": "function_call_output", "call_id": call_id, "output": output},
        }
    )


def item_delete(item_id: str, event_id: str) -> str:
    return dumps({"type": "conversation.item.delete", "event_id": event_id, "item_id": item_id})


def truncate(item_id: str, content_index: int, audio_end_ms: int, event_id: str) -> str:
    return dumps(
        {
            "type": "conversation.item.truncate",
            "event_id": event_id,
            "item_id": item_id,
            "content_index": content_index,
            "audio_end_ms": audio_end_ms,
        }
    )


# ---------------------------------------------------------------- server events


def obj(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def str_field(event: dict[str, Any], key: str, default: str = "") -> str:
    value = event.get(key)
    return value if isinstance(value, str) else default


def opt_str(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


def int_field(event: dict[str, Any], key: str, default: int = 0) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _counts(details: Any) -> dict[str, Any]:
    if not isinstance(details, dict):
        return {}
    out: dict[str, Any] = {k: v for k, v in details.items() if _is_count(v)}
    cached = details.get("cached_tokens_details")
    if isinstance(cached, dict):
        out["cached_tokens_details"] = {k: v for k, v in cached.items() if _is_count(v)}
    return out


def usage(response: dict[str, Any]) -> dict[str, Any] | None:
    """`response.usage` keeping only the token counts that are counts."""
    raw = response.get("usage")
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {
        "input_token_details": _counts(raw.get("input_token_details")),
        "output_token_details": _counts(raw.get("output_token_details")),
    }
    if _is_count(raw.get("output_tokens")):
        out["output_tokens"] = raw["output_tokens"]
    return out


def rate_limits(event: dict[str, Any]) -> tuple[RateLimit, ...]:
    out: list[RateLimit] = []
    raw = event.get("rate_limits")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        reset = item.get("reset_seconds")
        out.append(
            RateLimit(
                name=str_field(item, "name"),
                limit=int_field(item, "limit"),
                remaining=int_field(item, "remaining"),
                reset_seconds=float(reset) if isinstance(reset, int | float) else 0.0,
            )
        )
    return tuple(out)


def prices_for(settings: Settings, model: str) -> Prices:
    """The exact model id's prices from `[pricing]` (voice_tui/config/models.py has the
    table, its date and its source); a model without an entry is priced as unknown,
    never as free: `gpt-realtime-2.1-mini` is not `gpt-realtime-2.1`."""
    match = settings.pricing.get(model)
    if match is None:
        return Prices(known=False)
    return Prices(**match.model_dump())
