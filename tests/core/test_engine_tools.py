"""Tool round trips: the model calls, the engine runs the tool, answers, and asks for
the follow-up only once no response is active."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.engine import EngineFactory, ScriptedPlayback
from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    ConversationEnded,
    ErrorRaised,
    Phase,
    PhaseChanged,
    ResponseFinished,
    ResponseStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
)


async def test_tool_success(make_engine: EngineFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voice_tui.core.engine")
    engine, rec = await make_engine()
    await engine.send_text("what time is it")
    finished = await rec.wait_for(ToolCallFinished)
    assert finished.name == "get_current_time" and finished.ok
    assert "iso" in json.loads(finished.output)
    answer = await rec.wait_for(
        TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text)
    )
    assert answer.turn.text.startswith("The tool says {")
    assert rec.of(ToolCallStarted)[0].call_id == finished.call_id
    # Two responses (the call, then the answer), never overlapping.
    started = [e for e in rec.events if isinstance(e, ResponseStarted | ResponseFinished)]
    assert [type(e) for e in started] == [ResponseStarted, ResponseFinished] * 2
    assert not rec.of(ErrorRaised)
    assert "refused while a response was active" not in caplog.text
    call_turn = next(t for t in engine.conversation if t.tool_calls)
    assert call_turn.tool_calls[0].output == finished.output
    assert Phase.TOOL_RUNNING in [e.phase for e in rec.of(PhaseChanged)]
    assert engine.totals.turns == 2


async def test_tool_failure_reaches_the_model_as_an_error(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    await engine.send_text("please use the broken tool")
    finished = await rec.wait_for(ToolCallFinished)
    assert not finished.ok and finished.error
    assert "error" in json.loads(finished.output)
    answer = await rec.wait_for(TurnCompleted, lambda e: e.turn.text.startswith("Sorry"))
    assert answer.turn.text == "Sorry, that did not work."
    assert not rec.of(ErrorRaised)  # a failed tool is the model's business, not an error


async def test_tool_timeout(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()  # tool_timeout_s = 1.0 in the test settings
    await engine.send_text("try the slow tool")
    finished = await rec.wait_for(ToolCallFinished)
    assert not finished.ok
    assert finished.error and "did not finish within 1" in finished.error
    assert json.loads(finished.output)["error"] == finished.error
    await rec.wait_for(TurnCompleted, lambda e: e.turn.text.startswith("Sorry"))


async def test_end_conversation_ends_after_the_goodbye_is_played(
    make_engine: EngineFactory,
) -> None:
    playback = ScriptedPlayback()
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("goodbye")
    await rec.wait_for(TurnCompleted, lambda e: e.turn.text == "Goodbye, partner!")
    # The goodbye is still "playing": the conversation must not end yet.
    assert not engine.ended
    playback.playing = False
    engine.playback_finished(playback.chunks[-1].item_id)
    ended = await rec.wait_for(ConversationEnded)
    assert "ended the conversation" in ended.reason
    assert await engine.wait_ended() == ended.reason
    assert [c.name for t in engine.conversation for c in t.tool_calls] == ["end_conversation"]


async def test_each_response_s_usage_lands_on_its_own_turn(make_engine: EngineFactory) -> None:
    engine, rec = await make_engine()
    await engine.send_text("what time is it")
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text))
    call_done, answer_done = rec.of(ResponseFinished)
    call_turn, answer_turn = [t for t in engine.conversation if t.role is Role.ASSISTANT]
    assert call_turn.tool_calls and not answer_turn.tool_calls
    assert call_turn.usage == call_done.usage and call_turn.usage is not None
    assert answer_turn.usage == answer_done.usage and answer_turn.usage is not None
    assert call_turn.usage != answer_turn.usage
    assert all(t.finished_at >= t.started_at > 0 for t in engine.conversation)


async def test_closing_mid_answer_still_stamps_the_turn(make_engine: EngineFactory) -> None:
    from voice_tui.core.events import AssistantDelta

    engine, rec = await make_engine()
    await engine.send_text("what time is it")
    await rec.wait_for(AssistantDelta)  # the spoken answer has begun
    await engine.close()
    turns = [e.turn for e in rec.of(TurnCompleted)]
    assert [id(t) for t in turns] == [id(t) for t in engine.conversation]
    assert all(t.finished_at > 0 for t in turns)
