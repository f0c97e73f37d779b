"""The connection drops, stalls, is refused or hits its time limit: the conversation
survives each, and the next answer is given with the restored history (the new
server session holds the replayed items)."""

from __future__ import annotations

import asyncio

from tests.support.engine import Recorder
from tests.support.reliability import FAST, Factory, answer, only_session, replayed, until
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import (
    AppEvent,
    ConnectionChanged,
    ConnectionState,
    ConversationEnded,
    ErrorRaised,
    Notice,
    TurnCompleted,
)
from voice_tui.server.chaos import ChaosServer


async def reconnected(rec: Recorder, after: int = 0) -> None:
    await rec.wait_for(
        ConnectionChanged, lambda e: e.state is ConnectionState.CONNECTED, after=after
    )


async def settled(engine: ConversationEngine) -> None:
    """Until the engine is connected and nothing is under way (the re-asked answer)."""
    await until(lambda: not engine.busy and engine.connected)


def states(rec: Recorder) -> list[tuple[ConnectionState, int]]:
    return [(e.state, e.attempt) for e in rec.of(ConnectionChanged)]


async def test_close_mid_response_reconnects_and_restores(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    assert await answer(engine, rec, "my name is Ada") == "You said: my name is Ada."
    first = only_session(chaos)
    chaos.faults.close_after_audio_deltas = 2
    mark = len(rec.events)
    await engine.send_text("hello there")
    await reconnected(rec, mark)
    assert (ConnectionState.RECONNECTING, 1) in states(rec)
    # The cut-off answer is kept as heard, and asked for again on the new session.
    again = await rec.wait_for(
        TurnCompleted,
        lambda e: e.turn.role is Role.ASSISTANT and not e.turn.interrupted,
        after=mark,
    )
    second = only_session(chaos)
    assert second is not first
    items = replayed(chaos, second)
    assert items[:3] == [
        ("user", "my name is Ada"),
        ("assistant", "You said: my name is Ada."),
        ("user", "hello there"),
    ]
    cut = next(t for t in engine.conversation if t.interrupted)
    assert cut.role is Role.ASSISTANT and items[3:] == [("assistant", cut.heard_text)]
    assert chaos.received_of(second, "response.create")  # the answer was asked for again
    assert again.turn.text.startswith("You said:")
    assert any("Reconnected" in n.message for n in rec.of(Notice))
    assert not [e for e in rec.of(ErrorRaised) if e.fatal]
    assert not engine.ended
    # and the conversation simply goes on
    assert await answer(engine, rec, "what time is it") == engine.conversation[-1].text


async def test_a_silent_server_is_noticed_and_replaced(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    chaos.faults.stall_after_audio_deltas = 1
    mark = len(rec.events)
    await engine.send_text("hello there")
    changed = await rec.wait_for(
        ConnectionChanged, lambda e: e.state is ConnectionState.RECONNECTING, after=mark
    )
    assert "sent nothing for 1 s" in changed.detail
    await reconnected(rec, mark)
    assert replayed(chaos, only_session(chaos))[0] == ("user", "hello there")
    await settled(engine)
    assert await answer(engine, rec, "are you back") == "You said: are you back."


async def test_refused_reconnects_back_off_then_succeed(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    assert await answer(engine, rec, "remember the number seven")
    chaos.faults.refuse_connections = 3
    chaos.faults.close_after_audio_deltas = 1
    mark = len(rec.events)
    await engine.send_text("hello there")
    await reconnected(rec, mark)
    attempts = [a for s, a in states(rec) if s is ConnectionState.RECONNECTING]
    assert attempts == [1, 2, 3, 4]  # three refused (HTTP 503), the fourth accepted
    assert engine.reconnects == 1
    assert ("user", "remember the number seven") in replayed(chaos, only_session(chaos))
    await settled(engine)
    assert await answer(engine, rec, "still there") == "You said: still there."


async def test_session_limit_close_is_survived_quietly(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    assert await answer(engine, rec, "hello there")

    def limit_only_once(event: AppEvent) -> None:
        if isinstance(event, ConnectionChanged) and event.state is ConnectionState.RECONNECTING:
            chaos.faults.session_max_s = None  # the new session has no limit

    engine.subscribe(limit_only_once)
    mark = len(rec.events)
    chaos.faults.session_max_s = 0.3  # sessions opened from now on are closed soon...
    await engine.new_session()  # ...like this one: 1001 "maximum duration"
    await rec.wait_for(
        ConnectionChanged, lambda e: e.state is ConnectionState.RECONNECTING, after=mark
    )
    await reconnected(rec, len(rec.events) - 1)
    notices = [n.message for n in rec.of(Notice)]
    assert any("maximum duration" in n for n in notices)
    assert not rec.of(ErrorRaised)
    assert ("user", "hello there") in replayed(chaos, only_session(chaos))
    assert await answer(engine, rec, "and now") == "You said: and now."


async def test_the_session_is_renewed_before_its_limit_at_a_turn_boundary(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    from dataclasses import replace

    engine, rec = await make_engine(policy=replace(FAST, renew_after_s=0.6))
    first = only_session(chaos)
    assert await answer(engine, rec, "my name is Ada") == "You said: my name is Ada."
    refused: list[int] = []  # microphone blocks the engine could not send

    async def microphone() -> None:  # 20 ms of silence at a time, through the renewal
        block = bytes(960)
        while engine.renewals == 0:
            if not engine.send_audio(block):
                refused.append(len(block))
            await asyncio.sleep(0.005)

    await asyncio.wait_for(microphone(), 10)
    second = only_session(chaos)
    assert second is not first
    assert not refused  # the new session was ready before the old one went
    assert chaos.received_of(first, "input_audio_buffer.append")
    assert replayed(chaos, second)[:2] == [
        ("user", "my name is Ada"),
        ("assistant", "You said: my name is Ada."),
    ]
    # Nothing the user would notice: no error, no reconnecting state, a quiet notice.
    assert not rec.of(ErrorRaised)
    assert ConnectionState.RECONNECTING not in [s for s, _ in states(rec)]
    assert any(n.message.startswith("Renewed the session") for n in rec.of(Notice))
    assert await answer(engine, rec, "and now") == "You said: and now."


async def test_no_renewal_while_a_tool_runs(make_engine: Factory, chaos: ChaosServer) -> None:
    from dataclasses import replace

    from voice_tui.core.events import ToolCallFinished

    engine, rec = await make_engine(policy=replace(FAST, renew_after_s=0.2))
    await engine.send_text("try the slow tool")  # the tool times out after 1 s
    await rec.wait_for(TurnCompleted, lambda e: e.turn.text.startswith("Sorry"), within_s=10)
    kinds = [
        "tool" if isinstance(e, ToolCallFinished) else "renewed"
        for e in rec.events
        if isinstance(e, ToolCallFinished)
        or (isinstance(e, Notice) and e.message.startswith("Renewed"))
    ]
    assert kinds[0] == "tool"  # not renewed while the tool ran (or the answer came)
    assert engine.conversation[-1].text == "Sorry, that did not work."


async def test_fatal_error_on_reconnect_stops_retrying_and_says_what_to_fix(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    engine.backend.model = "gpt-withdrawn"  # the next session asks for an unknown model
    chaos.faults.close_after_audio_deltas = 1
    await engine.send_text("hello there")
    ended = await rec.wait_for(ConversationEnded)
    fatal = [e for e in rec.of(ErrorRaised) if e.fatal]
    assert len(fatal) == 1
    assert "does not know the model" in fatal[0].message
    assert "backend.model" in fatal[0].message
    assert ended.reason == f"error: {fatal[0].message}"
    attempts = [a for s, a in states(rec) if s is ConnectionState.RECONNECTING]
    assert attempts == [1]  # no retry after a fatal answer
    assert states(rec)[-1][0] is ConnectionState.FAILED


async def test_insufficient_quota_is_fatal(make_engine: Factory, chaos: ChaosServer) -> None:
    engine, rec = await make_engine()
    chaos.faults.failure = "insufficient_quota"
    chaos.faults.fail_responses = 1
    await engine.send_text("hello there")
    await rec.wait_for(ConversationEnded)
    (error,) = [e for e in rec.of(ErrorRaised) if e.fatal]
    assert "no quota left" in error.message and "billing" in error.message
    assert ConnectionState.RECONNECTING not in [s for s, _ in states(rec)]


async def test_rate_limited_response_backs_off_says_so_and_is_asked_again(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()
    chaos.faults.failure = "rate_limit_exceeded"
    chaos.faults.fail_responses = 1
    assert await answer(engine, rec, "hello there") == "You said: hello there."
    (error,) = rec.of(ErrorRaised)
    assert not error.fatal and error.code == "rate_limit_exceeded"
    assert "rate limiting" in error.message and "asking again in 1.1 s" in error.message
    assert len(chaos.received_of(only_session(chaos), "response.create")) == 2


async def test_an_idle_pause_is_not_a_silent_server(
    make_engine: Factory, chaos: ChaosServer
) -> None:
    engine, rec = await make_engine()  # silence timeout: 1 s
    assert await answer(engine, rec, "hello there") == "You said: hello there."
    await asyncio.sleep(1.6)  # nobody says anything for longer than the timeout...
    chaos.chaos.answer_delay_s = 0.6  # ...then the server takes a while (but < 1 s)
    assert await answer(engine, rec, "still there") == "You said: still there."
    # ...and asking then is not mistaken for a server that went silent.
    assert ConnectionState.RECONNECTING not in [s for s, _ in states(rec)]
    assert engine.reconnects == 0
