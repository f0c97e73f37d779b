"""The hand-built client events are exactly what the SDK's own types describe."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from voice_tui.config.schema import DEFAULT_PERSONA, Settings
from voice_tui.core import protocol as p
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import TurnMode
from voice_tui.core.restore import restore_items
from voice_tui.core.usage import Prices

CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)
TOOL = {
    "type": "function",
    "name": "get_current_time",
    "description": "now",
    "parameters": {"type": "object", "properties": {}},
}


def valid(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    event = CLIENT_EVENT.validate_python(data)
    # Nothing dropped: the SDK model holds every field we sent.
    assert event.to_dict(exclude_unset=True) == data
    return data


@pytest.mark.parametrize("mode", list(TurnMode))
def test_session_update_matches_the_sdk(mode: TurnMode) -> None:
    settings = Settings.model_validate(
        {"session": {"transcription_language": "fr", "max_output_tokens": 800}}
    )
    session = p.session_config(settings, DEFAULT_PERSONA, [TOOL], mode)
    data = valid(p.session_update(session, "evt_1"))
    s = data["session"]
    assert s["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert s["audio"]["input"]["transcription"] == {
        "model": "gpt-transcribe",
        "language": "fr",
    }
    assert s["audio"]["output"]["voice"] == "marin" and s["max_output_tokens"] == 800
    td = s["audio"]["input"]["turn_detection"]
    expected = {
        TurnMode.SERVER_VAD: "server_vad",
        TurnMode.SEMANTIC_VAD: "semantic_vad",
        TurnMode.PUSH_TO_TALK: None,
    }[mode]
    assert (td["type"] if td else None) == expected


def test_noise_reduction_off_is_null() -> None:
    settings = Settings.model_validate({"session": {"noise_reduction": "off"}})
    session = p.session_config(settings, DEFAULT_PERSONA, [], TurnMode.SERVER_VAD)
    assert (
        valid(p.session_update(session, "e"))["session"]["audio"]["input"]["noise_reduction"]
        is None
    )


def test_partial_updates_match_the_sdk() -> None:
    valid(p.session_update(p.turn_detection_session(Settings(), TurnMode.SEMANTIC_VAD), "e"))
    valid(p.session_update(p.persona_session(DEFAULT_PERSONA, [TOOL], "ash"), "e"))
    assert "audio" not in p.persona_session(DEFAULT_PERSONA, [], None)


def test_other_client_events_match_the_sdk() -> None:
    pcm = bytes(range(256)) * 4
    append = valid(p.audio_append(pcm))
    assert base64.b64decode(append["audio"]) == pcm
    valid(p.response_create("e"))
    valid(p.simple("input_audio_buffer.commit", "e"))
    valid(p.user_text_item("item_1", 'He said "hi" \\ ü', "e"))
    valid(p.function_output_item("call_1", '{"ok": true}', "e"))
    valid(p.truncate("item_2", 0, 1234, "e"))
    for event in restore_items(
        [Turn(Role.USER, "u", text="a"), Turn(Role.ASSISTANT, "b", text="c")]
    ):
        valid(event)


def test_history_replays_what_was_heard() -> None:
    turns = [
        Turn(Role.USER, "1", text="tell me a story"),
        Turn(
            Role.ASSISTANT, "2", text="Once upon a time there", interrupted=True, heard_text="Once"
        ),
        Turn(Role.USER, "3", text="  "),
    ]
    items = [json.loads(e)["item"] for e in restore_items(turns)]
    assert [(i["role"], i["content"][0]["text"]) for i in items] == [
        ("user", "tell me a story"),
        ("assistant", "Once"),
    ]


def test_prices_match_exact_names_only() -> None:
    settings = Settings()
    assert p.prices_for(settings, "gpt-realtime").audio_output == 64.0
    assert p.prices_for(settings, "gpt-realtime-2.1-mini").text_output == 2.4
    assert p.prices_for(settings, "gpt-realtime-2.1").text_output == 24.0
    # A snapshot without its own entry, or a deployment name: unknown, not free.
    assert p.prices_for(settings, "gpt-realtime-mini-2025-10-06") == Prices(known=False)
    assert p.prices_for(settings, "my-azure-deployment") == Prices(known=False)


def test_reading_helpers_tolerate_wrong_types() -> None:
    event = {"a": 5, "b": "x", "c": True, "d": [1], "limits": "no"}
    assert p.str_field(event, "a") == "" and p.str_field(event, "b") == "x"
    assert p.int_field(event, "c") == 0 and p.int_field(event, "a") == 5
    assert p.obj(event, "d") == {} and p.opt_str(event, "missing") is None
    assert p.rate_limits({"rate_limits": [1, {"name": "requests"}]})[0].name == "requests"
