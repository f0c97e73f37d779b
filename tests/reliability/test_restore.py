"""What a restore must get right: tool calls in flight when the connection dropped,
a model that answers a restored conversation in text only, and giving up."""

from __future__ import annotations

from dataclasses import replace

from core.engine_support import Recorder

from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
)
from voice_tui.server.chaos import ChaosServer

from .support import FAST, Factory, until
from .test_reconnect import answer, only_session, replayed


async def drop(chaos: ChaosServer) -> None:
    await only_session(chaos).ws.close(1011, "network trouble")


async def sorry(rec: Recorder, after: int) -> TurnCompleted:
    return await rec.wait_for(
        TurnCompleted,
        lambda e: e.turn.role is Role.ASSISTANT and e.turn.text == "Sorry, that did not work.",
        after=after,
    )


async def test_a_tool_finishing_after_the_restore_delivers_its_result(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    await engine.send_text("try the slow tool")  # times out (an error result) after 1 s
    started = await rec.wait_for(ToolCallStarted)
    first = only_session(chaos)
    mark = len(rec.events)
    await drop(chaos)
    await rec.wait_for(
        ConnectionChanged, lambda e: e.state is ConnectionState.CONNECTED, after=mark
    )
    second = only_session(chaos)
    assert second is not first
    # The call was replayed before its output existed, so the output is accepted later.
    assert ("function_call", started.call_id) in replayed(chaos, second)
    finished = await rec.wait_for(ToolCallFinished)
    await sorry(rec, 0)
    outputs = [
        e["item"]
        for e in chaos.received_of(second, "conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert outputs == [
        {"type": "function_call_output", "call_id": started.call_id, "output": finished.output}
    ]
    assert not rec.of(ErrorRaised)


async def test_a_tool_finishing_while_disconnected_is_replayed_with_its_output(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    await engine.send_text("try the slow tool")
    started = await rec.wait_for(ToolCallStarted)
    chaos.faults.refuse_for(1.8)  # the tool finishes (1 s) while nobody is connected
    await drop(chaos)
    finished = await rec.wait_for(ToolCallFinished)
    assert not engine.connected
    await sorry(rec, 0)
    session = only_session(chaos)
    items = replayed(chaos, session)
    assert items[-2:] == [
        ("function_call", started.call_id),
        ("function_call_output", started.call_id),
    ]
    assert chaos.received_of(session, "response.create")  # the model was asked to answer
    call_turn = next(t for t in engine.conversation if t.tool_calls)
    assert call_turn.tool_calls[0].output == finished.output


async def test_a_text_only_reply_after_a_restore_is_asked_again_as_speech(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    assert await answer(engine, rec, "my name is Ada") == "You said: my name is Ada."
    await engine.new_session()  # a restore: the history goes in as text
    chaos.chaos.text_only_responses = 1  # ...and the model answers in text only
    mark = len(rec.events)
    assert await answer(engine, rec, "hello again") == "You said: hello again."
    session = only_session(chaos)
    creates = chaos.received_of(session, "response.create")
    assert len(creates) == 2
    insisted = creates[1]["response"]
    assert insisted["output_modalities"] == ["audio"]
    assert "speaking" in insisted["instructions"]
    assert [e for e in rec.events[mark:] if isinstance(e, AudioChunk)]
    # The text-only reply is not remembered: the answer appears once, spoken.
    answers = [t for t in engine.conversation if t.text == "You said: hello again."]
    assert len(answers) == 1 and answers[0].role is Role.ASSISTANT
    assert len(chaos.received_of(session, "response.cancel")) == 1
    (deleted,) = chaos.received_of(session, "conversation.item.delete")
    assert deleted["item_id"] not in {i.id for i in session.conversation.items}


async def test_a_text_only_reply_without_a_restore_is_left_alone(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    chaos.chaos.text_only_responses = 1  # no restore happened: not our business
    assert await answer(engine, rec, "hello there") == "You said: hello there."
    assert len(chaos.received_of(only_session(chaos), "response.create")) == 1


async def test_giving_up_after_the_last_attempt(make_engine: Factory, chaos: ChaosServer) -> None:
    engine, rec = await make_engine(policy=replace(FAST, max_attempts=3))
    chaos.faults.refuse_for(60)
    await drop(chaos)
    ended = await rec.wait_for(ConversationEnded)
    attempts = [e.attempt for e in rec.of(ConnectionChanged) if e.attempt]
    assert attempts == [1, 2, 3]
    (error,) = rec.of(ErrorRaised)
    assert error.fatal and error.message.startswith("Gave up reconnecting after 3 attempts")
    assert "unavailable (HTTP 503: " in error.message  # with what the server said
    assert ended.reason == f"error: {error.message}"
    await until(lambda: engine.ended)


async def test_a_message_typed_while_reconnecting_is_sent_once_reconnected(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    from voice_tui.core.events import Notice

    engine, rec = await make_engine()
    assert await answer(engine, rec, "my name is Ada") == "You said: my name is Ada."
    chaos.faults.refuse_for(0.8)
    mark = len(rec.events)
    await drop(chaos)
    await rec.wait_for(
        ConnectionChanged, lambda e: e.state is ConnectionState.RECONNECTING, after=mark
    )
    await engine.send_text("are you there")  # neither refused nor lost
    assert "will be sent once connected" in rec.of(Notice)[-1].message
    done = await rec.wait_for(
        TurnCompleted,
        lambda e: e.turn.role is Role.ASSISTANT and e.turn.text == "You said: are you there.",
        after=mark,
    )
    assert done.turn.text
    session = only_session(chaos)
    assert replayed(chaos, session).count(("user", "are you there")) == 1
    assert [t.text for t in engine.conversation if t.role is Role.USER] == [
        "my name is Ada",
        "are you there",
    ]


async def test_a_goodbye_across_a_drop_still_ends_the_conversation(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    chaos.faults.refuse_for(0.5)  # (the tool is done before the reconnect)
    await engine.send_text("goodbye")
    await rec.wait_for(ToolCallStarted)
    await drop(chaos)
    ended = await rec.wait_for(ConversationEnded)
    assert "ended the conversation" in ended.reason
    assert engine.conversation[-1].text == "Goodbye, partner!"
    assert engine.reconnects == 1 and not rec.of(ErrorRaised)
