"""Barge-in: the assistant is cut at what the user heard, and the server is told."""

from __future__ import annotations

from tests.support.engine import EngineFactory, ScriptedPlayback, phrase_tone, silence, speak, tone
from voice_tui.core.conversation import Role
from voice_tui.core.events import (
    AssistantInterrupted,
    ErrorRaised,
    Phase,
    ResponseFinished,
    TurnAmended,
    TurnCompleted,
    UserTranscriptFinal,
)
from voice_tui.server.app import LocalServer


def _server_item_audio_ms(server: LocalServer, item_id: str) -> int:
    (session,) = server.sessions
    return session.conversation.find(item_id).audio_ms(0)


async def test_speech_over_the_assistant_truncates_at_what_was_heard(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    playback = ScriptedPlayback()
    playback.heard_ms = 120
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    assert playback.is_playing()
    item_id = playback.chunks[-1].item_id
    full_ms = playback.received_ms(item_id)
    assert full_ms == 25 * len("You said: hello there.")

    await speak(engine, tone(phrase_tone("what time is it"), 600) + silence(500))
    cut = await rec.wait_for(AssistantInterrupted)
    assert (cut.item_id, cut.heard_ms, cut.received_ms) == (item_id, 120, full_ms)
    assert cut.truncate_sent
    assert cut.heard_text and cut.unheard_text
    assert f"{cut.heard_text} {cut.unheard_text}" == "You said: hello there."
    assert playback.interrupts >= 1 and not playback.is_playing()

    # The server kept only what was heard, and the next turn goes on normally.
    await rec.wait_for(UserTranscriptFinal)
    assert _server_item_audio_ms(server, item_id) == 120
    turn = next(t for t in engine.conversation if t.item_id == item_id)
    assert turn.interrupted and turn.heard_text == cut.heard_text
    assert turn.spoken_text == cut.heard_text
    assert not rec.of(ErrorRaised)


async def test_interrupt_key_cuts_and_clamps_to_the_audio_received(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    playback = ScriptedPlayback()
    playback.heard_ms = 10_000  # a sink overestimating: clamp to what was received
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    item_id = playback.chunks[-1].item_id
    received = playback.received_ms(item_id)
    await engine.interrupt()
    cut = await rec.wait_for(AssistantInterrupted)
    assert cut.heard_ms == received and cut.unheard_text == ""
    await engine.send_text("hello there")  # the session is still fine
    await rec.wait_for(ResponseFinished, after=rec.events.index(cut))
    assert _server_item_audio_ms(server, item_id) == received
    assert not rec.of(ErrorRaised)


async def test_a_cut_after_the_answer_was_done_amends_the_announced_turn(
    make_engine: EngineFactory,
) -> None:
    """Generation finished (the turn was announced, so journaled) while the audio still
    played: the interrupt key cuts it, and the turn is announced again as amended, now
    interrupted with the part the user heard."""
    playback = ScriptedPlayback()
    playback.heard_ms = 120
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    done = await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    assert not done.turn.interrupted and playback.is_playing()
    mark = len(rec.events)

    await engine.interrupt()
    cut = await rec.wait_for(AssistantInterrupted, after=mark)
    assert cut.truncate_sent and cut.heard_text and cut.unheard_text
    (amended,) = rec.of(TurnAmended)
    turn = next(t for t in engine.conversation if t.item_id == cut.item_id)
    assert amended.turn is turn is done.turn
    assert turn.interrupted and turn.heard_text == cut.heard_text
    assert turn.spoken_text == cut.heard_text  # what a reconnect restores
    assert turn.text == "You said: hello there."  # what was said stays, marked unheard
    assert sum(e.turn is turn for e in rec.of(TurnCompleted)) == 1  # completed once only


async def test_quitting_while_the_answer_plays_keeps_only_what_was_heard(
    make_engine: EngineFactory,
) -> None:
    playback = ScriptedPlayback()
    playback.heard_ms = 120
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    done = await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    assert playback.is_playing()
    await engine.close()
    assert not playback.is_playing()
    (amended,) = rec.of(TurnAmended)
    (cut,) = rec.of(AssistantInterrupted)
    assert amended.turn is done.turn
    assert done.turn.interrupted and done.turn.heard_text == cut.heard_text != ""


async def test_closing_after_the_answer_played_out_changes_nothing(
    make_engine: EngineFactory,
) -> None:
    playback = ScriptedPlayback()
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    done = await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT)
    playback.playing = False  # the sink played it to the end
    engine.playback_finished(done.turn.item_id)
    await engine.close()
    assert not rec.of(AssistantInterrupted) and not rec.of(TurnAmended)
    assert not done.turn.interrupted


async def test_a_truncate_refused_at_the_audio_end_is_not_an_error(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    """The service says the audio is already shorter than the cut (param audio_end_ms):
    the model holds no more than was heard, so there is nothing to tell the user."""
    server.faults.short_items_ms = 50
    playback = ScriptedPlayback()
    playback.heard_ms = 10_000  # everything received was heard, but not played out
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    await engine.interrupt()
    cut = await rec.wait_for(AssistantInterrupted)
    assert cut.truncate_sent
    (session,) = server.sessions
    await engine.send_text("hello there")  # the refusal has come back by its answer
    await rec.wait_for(ResponseFinished, after=rec.events.index(cut))
    assert session.refused["invalid_value"] == 1  # the truncate was refused...
    assert not rec.of(ErrorRaised)  # ...and nobody was bothered with it


async def test_nothing_is_truncated_when_the_item_had_finished_playing(
    make_engine: EngineFactory, server: LocalServer
) -> None:
    playback = ScriptedPlayback()
    playback.finished = True
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    item_id = playback.chunks[-1].item_id
    full_ms = playback.received_ms(item_id)
    await engine.interrupt()
    cut = await rec.wait_for(AssistantInterrupted)
    assert not cut.truncate_sent and cut.unheard_text == ""
    await engine.send_text("hello there")
    await rec.wait_for(
        TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT, after=len(rec.events)
    )
    assert _server_item_audio_ms(server, item_id) == full_ms
    assert not next(t for t in engine.conversation if t.item_id == item_id).interrupted
    assert not rec.of(TurnAmended)  # all of it was heard: the journal was right


async def test_a_rejected_truncate_is_reported_and_the_session_goes_on(
    make_engine: EngineFactory,
) -> None:
    class WrongPartPlayback(ScriptedPlayback):
        def interrupt(self):  # type: ignore[no-untyped-def]
            heard = super().interrupt()
            # A sink that mislabels the content part: the server must refuse it.
            return heard and type(heard)(heard.item_id, 4, 100, heard.received_ms, False)

    playback = WrongPartPlayback()
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    await engine.interrupt()
    error = await rec.wait_for(ErrorRaised)
    assert error.message.startswith("The server refused to cut the interrupted answer")
    assert error.code == "invalid_value" and not error.fatal
    mark = len(rec.events)
    await engine.send_text("hello there")
    done = await rec.wait_for(ResponseFinished, after=mark)
    assert done.status == "completed"


async def test_after_the_interrupt_key_the_assistant_is_no_longer_speaking(
    make_engine: EngineFactory,
) -> None:
    playback = ScriptedPlayback()  # never reports the end of what it dropped
    engine, rec = await make_engine(playback=playback)
    await engine.send_text("hello there")
    await rec.wait_for(ResponseFinished)
    assert engine.phase is Phase.ASSISTANT_SPEAKING  # the answer is still playing
    await engine.interrupt()
    await rec.wait_for(AssistantInterrupted)
    assert engine.phase is Phase.LISTENING
