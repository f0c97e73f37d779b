"""The composition root wires real parts: backend, tools, engine, journal, recorder,
and (with the virtual audio server) the audio worker."""

from __future__ import annotations

import gc
import json
import wave
from pathlib import Path

import pytest

from tests.support.engine import MS_PER_CHAR, Recorder
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import Notice, Phase, PhaseChanged, TurnCompleted, TurnMode
from voice_tui.runtime import build_runtime
from voice_tui.server.app import LocalServer


def _loaded(settings: Settings, tmp_path: Path, **changes: object) -> LoadedSettings:
    data = settings.model_dump(mode="python")
    data["openai"]["api_key"] = settings.openai.api_key
    data["journal"] = {"enabled": True, "dir": str(tmp_path / "journal")}
    for key, value in changes.items():
        section, name = key.split("__")
        data[section][name] = value
    return LoadedSettings(Settings.model_validate(data), tmp_path / "config.toml", False)


async def _typed_turn(rt_engine: object, rec: Recorder, text: str) -> None:
    mark = len(rec.events)
    await rt_engine.send_text(text)  # type: ignore[attr-defined]
    await rec.wait_for(TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT, after=mark)


async def test_journal_and_recording(settings: Settings, tmp_path: Path) -> None:
    loaded = _loaded(settings, tmp_path)
    rt = await build_runtime(loaded, audio=False, record_dir=tmp_path / "rec")
    assert rt.audio is None and rt.audio_problem is None
    rec = Recorder()
    rt.engine.subscribe(rec)
    await rt.engine.start()
    await _typed_turn(rt.engine, rec, "hello there")
    await rt.aclose()

    assert rt.journal is not None and rt.journal.path is not None
    lines = [json.loads(line) for line in rt.journal.path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["session", "turn", "turn", "end"]
    assert [line["turn"]["text"] for line in lines[1:3]] == [
        "hello there",
        "You said: hello there.",
    ]
    assert lines[-1]["totals"]["turns"] == 1
    assert rt.recorder is not None
    with wave.open(str(rt.recorder.assistant_path)) as wav:
        assert wav.getframerate() == 24_000
        assert wav.getnframes() == 24 * MS_PER_CHAR * len("You said: hello there.")


async def test_resume_continues_the_last_conversation(
    settings: Settings, server: LocalServer, tmp_path: Path
) -> None:
    first = await build_runtime(_loaded(settings, tmp_path), audio=False)
    rec = Recorder()
    first.engine.subscribe(rec)
    await first.engine.start()
    await _typed_turn(first.engine, rec, "hello there")
    await first.aclose()

    second = await build_runtime(_loaded(settings, tmp_path), audio=False, resume=True)
    try:
        await second.engine.start()
        assert [t.text for t in second.engine.conversation] == [
            "hello there",
            "You said: hello there.",
        ]
        newest = max(server.sessions, key=lambda s: s.config.expires_at)
        assert [i.text() for i in newest.conversation.items][-2:] == [
            "hello there",
            "You said: hello there.",
        ]
    finally:
        await second.aclose()
    assert second.journal is not None and second.journal.path is not None
    header = json.loads(second.journal.path.read_text().splitlines()[0])
    assert header["resumed_from"] == first.journal.session_id  # type: ignore[union-attr]


async def test_resume_with_nothing_to_resume_says_so(settings: Settings, tmp_path: Path) -> None:
    rt = await build_runtime(_loaded(settings, tmp_path), audio=False, resume=True)
    rec = Recorder()
    rt.engine.subscribe(rec)
    try:
        await rt.engine.start()
        assert "Nothing to resume" in rec.of(Notice)[0].message
        assert rt.engine.conversation == []
    finally:
        await rt.aclose()


@pytest.mark.audio
async def test_audio_worker_plays_the_answer_and_reports_back(
    virtual_audio: object, settings: Settings, tmp_path: Path
) -> None:
    loaded = _loaded(settings, tmp_path, audio__latency="low")
    rt = await build_runtime(loaded, audio=True)
    try:
        assert rt.audio is not None, rt.audio_problem
        assert rt.engine.playback is rt.audio
        rec = Recorder()
        rt.engine.subscribe(rec)
        await rt.engine.start()
        await _typed_turn(rt.engine, rec, "hello there")
        # The worker reports the end of playback from its thread; the engine hears it
        # on the loop and goes back to listening.
        await rec.wait_for(
            PhaseChanged,
            lambda e: e.phase is Phase.LISTENING,
            after=next(
                i
                for i, e in enumerate(rec.events)
                if getattr(e, "phase", None) is Phase.ASSISTANT_SPEAKING
            ),
        )
        assert not rt.audio.is_playing()
        assert rt.audio.heard(rt.engine.conversation[-1].item_id) > 0
    finally:
        await rt.aclose()


@pytest.mark.audio
async def test_push_to_talk_records_only_what_was_sent(
    virtual_audio: object, settings: Settings, server: LocalServer, tmp_path: Path
) -> None:
    import asyncio

    from voice_tui.core.events import UserTurnStarted

    levels = asyncio.Queue[None]()
    loop = asyncio.get_running_loop()
    loaded = _loaded(settings, tmp_path, session__turn_detection="push_to_talk")

    def on_level(_: object) -> None:  # worker thread
        loop.call_soon_threadsafe(levels.put_nowait, None)

    rt = await build_runtime(
        loaded,
        audio=True,
        record_dir=tmp_path / "rec",
        on_level=on_level,
    )
    try:
        assert rt.audio is not None and not rt.text_mode, rt.audio_problem
        rec = Recorder()
        rt.engine.subscribe(rec)
        await rt.engine.start()
        (session,) = server.sessions
        for _ in range(15):  # the microphone runs, but nobody holds the talk key
            await levels.get()
        await rt.engine.start_talking()
        for _ in range(15):
            await levels.get()
        await rt.engine.stop_talking()
        committed = await rec.wait_for(UserTurnStarted)
        for _ in range(15):  # not talking again: nothing more is sent or recorded
            await levels.get()
    finally:
        await rt.aclose()
    item = next(i for i in session.conversation.items if i.id == committed.item_id)
    sent_frames = len(item.audio[0]) // 2
    assert rt.recorder is not None
    with wave.open(str(rt.recorder.user_path)) as wav:
        assert sent_frames > 2400  # > 100 ms was said
        assert wav.getnframes() == sent_frames


@pytest.mark.audio
async def test_talk_is_one_place_for_push_to_talk_mute_and_turn_mode(
    virtual_audio: object, settings: Settings, tmp_path: Path
) -> None:
    rt = await build_runtime(_loaded(settings, tmp_path), audio=True)
    try:
        assert rt.audio is not None, rt.audio_problem
        await rt.engine.start()
        talk = rt.talk
        assert talk.turn_mode is TurnMode.SERVER_VAD
        assert not await talk.toggle_talking()  # hands-free: there is no key to hold
        assert not talk.talking and not rt.engine.talking
        await talk.set_turn_mode(TurnMode.PUSH_TO_TALK)
        assert talk.turn_mode is rt.engine.turn_mode is TurnMode.PUSH_TO_TALK
        assert not rt.engine.send_audio(b"\0\0" * 480)  # the key is up: nothing is sent
        assert await talk.toggle_talking()
        assert talk.talking and rt.engine.talking
        assert rt.engine.send_audio(b"\0\0" * 480)
        await talk.set_turn_mode(TurnMode.SERVER_VAD)  # the open turn is ended first
        assert not talk.talking and not rt.engine.talking
        assert talk.turn_mode is rt.engine.turn_mode is TurnMode.SERVER_VAD
        assert rt.audio.sending
        assert talk.set_muted(True) and talk.muted and not rt.audio.sending
        assert talk.set_muted(False) and not talk.muted and rt.audio.sending
    finally:
        await rt.aclose()


async def test_without_an_audio_worker_there_is_nothing_to_mute(
    settings: Settings, tmp_path: Path
) -> None:
    rt = await build_runtime(_loaded(settings, tmp_path), audio=False)
    try:
        assert not rt.talk.set_muted(True) and not rt.talk.muted
    finally:
        await rt.aclose()


async def test_an_explicit_voice_beats_the_personas(
    settings: Settings, server: LocalServer, tmp_path: Path
) -> None:
    from voice_tui.core.events import SessionReady

    loaded = _loaded(settings, tmp_path, session__persona="Pirate")  # the persona says "ash"
    rt = await build_runtime(loaded, audio=False, voice="verse")
    rec = Recorder()
    rt.engine.subscribe(rec)
    try:
        await rt.engine.start()
        assert rec.of(SessionReady)[0].voice == "verse"
        (session,) = server.sessions
        assert session.config.audio.output.voice == "verse"
        applied = await rt.engine.set_persona("Tester")  # a persona switch keeps it too
        assert not applied.voice_pending
        assert session.config.audio.output.voice == "verse"
    finally:
        await rt.aclose()


def _unset_noise_reduction(loaded: LoadedSettings) -> LoadedSettings:
    """As when the user's config does not mention session.noise_reduction."""
    data = loaded.settings.model_dump(mode="python")
    data["openai"]["api_key"] = loaded.settings.openai.api_key
    del data["session"]["noise_reduction"]
    return LoadedSettings(Settings.model_validate(data), loaded.path, False)


@pytest.mark.audio
async def test_open_speakers_get_echo_cancelling_and_far_field_noise_reduction(
    virtual_audio: object, settings: Settings, server: LocalServer, tmp_path: Path
) -> None:
    from voice_tui.audio.echo import EchoCanceller, HalfDuplexGate

    rt = await build_runtime(_unset_noise_reduction(_loaded(settings, tmp_path)), audio=True)
    try:
        assert rt.audio is not None and not rt.text_mode, rt.audio_problem
        assert isinstance(rt.echo, EchoCanceller) and rt.echo_mode == "aec"
        await rt.engine.start()
        (session,) = server.sessions
        noise = session.config.audio.input.noise_reduction
        assert noise is not None and noise.type == "far_field"
        rt.set_echo_mode("half-duplex")  # live, from the UI
        assert isinstance(rt.echo, HalfDuplexGate) and rt.echo_mode == "half-duplex"
        rt.set_echo_mode("off")
        assert rt.echo is None and rt.echo_mode == "off"
    finally:
        await rt.aclose()


@pytest.mark.audio
async def test_headphones_and_a_chosen_noise_reduction_are_respected(
    virtual_audio: object, settings: Settings, server: LocalServer, tmp_path: Path
) -> None:
    loaded = _loaded(settings, tmp_path, audio__echo="off", session__noise_reduction="near_field")
    rt = await build_runtime(loaded, audio=True)
    try:
        assert rt.echo is None and rt.echo_mode == "off"
        await rt.engine.start()
        (session,) = server.sessions
        noise = session.config.audio.input.noise_reduction
        assert noise is not None and noise.type == "near_field"
    finally:
        await rt.aclose()


async def test_what_is_alive_once_started_is_kept_out_of_the_collectors_way(
    settings: Settings, tmp_path: Path
) -> None:
    """A full collection over the started app's heap held the GIL for ~90 ms (the audio
    callbacks need it: a gap in an answer); frozen, the collector skips that heap."""
    rt = await build_runtime(_loaded(settings, tmp_path), audio=False)
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await rt.aclose()
