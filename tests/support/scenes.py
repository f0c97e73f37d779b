"""Deterministic scenes for snapshots and demos: real engine events, fixed values."""

from __future__ import annotations

from voice_tui.core import events as ev
from voice_tui.core.events import ConnectionState, Phase, TurnMode
from voice_tui.core.usage import TurnUsage, UsageTotals

LAST_TURN = TurnUsage(
    input_text_tokens=412,
    input_audio_tokens=230,
    input_cached_tokens=128,
    output_text_tokens=38,
    output_audio_tokens=190,
    cost_usd=0.01911,
)
TOTALS = UsageTotals(turns=2, input_tokens=1180, output_tokens=402, cost_usd=0.03342)

CONVERSATION: list[ev.AppEvent] = [
    ev.ConnectionChanged(ConnectionState.CONNECTED, "local"),
    ev.SessionReady(
        session_id="sess_snapshot",
        backend="local",
        model="gpt-realtime",
        voice="marin",
        persona="Assistant",
        turn_mode=TurnMode.SERVER_VAD,
        output_modality="audio",
    ),
    ev.SpeechStarted("u1", 0),
    ev.UserTurnStarted("u1", None),
    ev.AssistantTurnStarted("a1", "r1", "u1"),
    ev.ToolCallStarted("c1", "get_current_time", "{}"),
    ev.UserTranscriptFinal("u1", "What time is it in [brackets]?"),
    ev.ToolCallFinished(
        "c1",
        "get_current_time",
        "{}",
        '{"time": "09:26", "weekday": "Saturday"}',
        ok=True,
        error=None,
        duration_s=0.004,
    ),
    ev.AssistantDelta("a1", "It is **09:26** on Saturday."),
    ev.AssistantFinal("a1", "It is **09:26** on Saturday."),
    ev.ResponseFinished("r1", "completed", LAST_TURN, TOTALS),
    ev.LatencyMeasured(0.412),
    ev.UserTextSent("u2", "Tell me about the Wild Brunch."),
    ev.AssistantTurnStarted("a2", "r2", "u2"),
    ev.AssistantDelta("a2", "The Wild Brunch serves brunch every day from nine until three, "),
    ev.AssistantInterrupted(
        "a2",
        heard_ms=2100,
        received_ms=4800,
        heard_text="The Wild Brunch serves brunch every day",
        unheard_text="from nine until three, with tables for up to six.",
        truncate_sent=True,
    ),
    ev.SpeechStarted("u3", 5000),
    ev.UserTurnStarted("u3", "a2"),
    ev.UserTranscriptDelta("u3", "book a table for"),
    ev.PhaseChanged(Phase.USER_SPEAKING),
]

ERROR_MESSAGE = (
    "The server rejected the session: model 'gpt-nope' does not exist "
    "(set backend.model in the config)."
)
ERROR_STATE: list[ev.AppEvent] = [
    ev.ConnectionChanged(ConnectionState.CONNECTED, "local"),
    ev.UserTextSent("u1", "hello"),
    ev.ErrorRaised(ERROR_MESSAGE, code="invalid_model", fatal=True),
    ev.ConnectionChanged(ConnectionState.FAILED, "the session was rejected"),
]
