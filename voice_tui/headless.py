"""`voice-tui run`: one conversation from an audio file, without a UI or devices.

The WAV is converted to 24 kHz mono and streamed into the session in 20 ms chunks,
faster than real time, followed by the silence server VAD needs to end the turn (in
push-to-talk mode the turn is committed explicitly). Tools run as in the app. When the
answers are in, the assistant's audio goes to a 24 kHz WAV and the conversation to
stdout (and to Markdown with --transcript).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import wave
from pathlib import Path
from typing import TextIO

import numpy as np
import soxr

from voice_tui.backends import BackendError
from voice_tui.config.loader import LoadedSettings
from voice_tui.core.approval import allow_all, deny_all
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.engine import ConversationEngine, EngineError
from voice_tui.core.events import (
    AppEvent,
    AudioChunk,
    ConversationEnded,
    ErrorRaised,
    Notice,
    ResponseFinished,
    SpeechStarted,
    TurnCompleted,
    TurnMode,
    UserTurnStarted,
)
from voice_tui.core.images import ImageError, PreparedImage, prepare_image
from voice_tui.core.protocol import BYTES_PER_MS, SAMPLE_RATE
from voice_tui.mcp import McpManager, ServerState

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

CHUNK_MS = 20
PACE_S = 0.002  # per 20 ms chunk: ten times faster than real time
NO_SPEECH_WAIT_S = 1.5  # after the trailing silence, before committing explicitly
SETTLE_S = 0.3  # quiet time that means "no further answer is coming"
ANSWER_TIMEOUT_S = 60.0
MIN_AUDIO_MS = 100  # the Realtime API refuses to commit less
MCP_READY_TIMEOUT_S = 45.0  # the persona's MCP servers, before the first turn


class AudioFileError(Exception):
    """The input file cannot be used; the message says why."""


# ------------------------------------------------------------------ reading the file


def read_wav(path: Path) -> bytes:
    """Any PCM WAV (8/16/24/32-bit, any rate and channel count) as 24 kHz mono pcm16."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFileError(f"{path} is a directory, not a WAV file") from None
    except PermissionError:
        raise AudioFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(
            f"{path} is not a PCM WAV file ({str(exc) or 'it ends before its header does'}); "
            "convert it, e.g. "
            "`sox input -b 16 output.wav`"
        ) from None
    if width not in (1, 2, 3, 4):
        raise AudioFileError(f"{path}: {8 * width}-bit samples are not supported")
    if rate <= 0 or channels <= 0:
        raise AudioFileError(f"{path}: the WAV header is damaged (rate {rate}, {channels} ch)")
    usable = len(frames) - len(frames) % (width * channels)
    if usable == 0:
        raise AudioFileError(f"{path} contains no audio")
    if usable // (width * channels) < rate * MIN_AUDIO_MS // 1000:
        raise AudioFileError(f"{path} is too short: a turn needs at least {MIN_AUDIO_MS} ms")
    samples = _to_float(frames[:usable], width).reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        samples = soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")
    pcm: bytes = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm


def _to_float(raw: bytes, width: int) -> np.ndarray:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128) / 128
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / (1 << 23)
    return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / (1 << 31)).astype(np.float32)


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)


# ------------------------------------------------------------------ the conversation


def format_turn(turn: Turn) -> list[str]:
    lines = []
    for call in turn.tool_calls:
        state = "ok" if call.ok else f"failed: {call.error}"
        name = f"{call.server}/{call.name}" if call.server else call.name
        lines.append(f"  [tool {name}({call.arguments}) -> {call.output}] ({state})")
    if turn.role is Role.USER and turn.image is not None:
        lines.append(f"You: [image: {turn.image.description}]")
    elif turn.role is Role.USER:
        lines.append(f"You: {turn.text or '(not understood)'}")
    elif turn.text or not turn.tool_calls:
        lines.append(f"Assistant: {turn.spoken_text or '(no words)'}")
    return lines


class _Session:
    """Watches the engine's events: prints turns, keeps the audio, knows when it's over."""

    def __init__(self, engine: ConversationEngine, out: TextIO, err: TextIO) -> None:
        self.engine = engine
        self.out, self.err = out, err
        self.audio = bytearray()
        self.fatal: str | None = None
        self.speech_seen = False
        self.user_turns = 0
        self.answered_turns = 0  # user turns with a finished response after them
        self.ended = False
        self.changed = asyncio.Event()

    def __call__(self, event: AppEvent) -> None:
        if isinstance(event, AudioChunk):
            self.audio += event.pcm
            return
        if isinstance(event, TurnCompleted):
            for line in format_turn(event.turn):
                print(line, file=self.out, flush=True)
        elif isinstance(event, SpeechStarted):
            self.speech_seen = True
        elif isinstance(event, UserTurnStarted):
            self.speech_seen = True
            self.user_turns += 1
        elif isinstance(event, ResponseFinished):
            self.answered_turns = self.user_turns
        elif isinstance(event, ErrorRaised):
            print(f"voice-tui: {event.message}", file=self.err, flush=True)
            if event.fatal:
                self.fatal = event.message
        elif isinstance(event, Notice):
            print(f"voice-tui: {event.message}", file=self.err, flush=True)
        elif isinstance(event, ConversationEnded):
            self.ended = True
        self.changed.set()

    def settled(self) -> bool:
        if self.ended or self.fatal:
            return True
        return (
            self.user_turns > 0 and self.answered_turns >= self.user_turns and not self.engine.busy
        )

    async def wait_settled(self, timeout_s: float) -> bool:
        """True once answered and quiet for SETTLE_S; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.settled():
                self.changed.clear()
                try:  # anything new in the settle window starts the wait again
                    await asyncio.wait_for(self.changed.wait(), SETTLE_S)
                except TimeoutError:
                    if self.settled():
                        return True
                continue
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                break
        return self.settled()


async def _stream(engine: ConversationEngine, pcm: bytes, session: _Session) -> None:
    step = CHUNK_MS * BYTES_PER_MS
    ptt = engine.turn_mode is TurnMode.PUSH_TO_TALK
    if ptt:
        await engine.start_talking()
    for start in range(0, len(pcm), step):
        engine.send_audio(pcm[start : start + step])
        await asyncio.sleep(PACE_S)
        if session.ended or session.fatal:
            return
    if ptt:
        await engine.stop_talking()
        return
    s = engine.settings.session
    trailing_ms = s.silence_duration_ms + s.prefix_padding_ms + 500
    if engine.turn_mode is TurnMode.SEMANTIC_VAD:
        trailing_ms = max(trailing_ms, 2000)
    silence = bytes(step)
    for _ in range(trailing_ms // CHUNK_MS):
        engine.send_audio(silence)
        await asyncio.sleep(PACE_S)
    # The turn detection heard nothing it calls speech: end the turn ourselves.
    deadline = time.monotonic() + NO_SPEECH_WAIT_S
    while not session.user_turns and time.monotonic() < deadline and not session.fatal:
        session.changed.clear()
        try:
            await asyncio.wait_for(session.changed.wait(), deadline - time.monotonic())
        except TimeoutError:
            break
    if not session.user_turns and not session.fatal:
        await engine.commit_input()


def _check_output(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    if path.is_dir():
        return f"{what} {path} is a directory"
    if not path.parent.is_dir():
        return f"{what} {path}: the directory {path.parent} does not exist"
    return None


def run_file(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    problems = [
        p
        for p in (
            _check_output(args.output_file, "--output-file"),
            _check_output(args.transcript, "--transcript"),
        )
        if p
    ]
    if problems:
        for problem in problems:
            print(f"voice-tui: {problem}", file=err)
        return EXIT_BAD_INPUT
    try:
        pcm = read_wav(args.input_file)
    except AudioFileError as exc:
        print(f"voice-tui: {exc}", file=err)
        return EXIT_BAD_INPUT
    images: list[PreparedImage] = []
    for path in getattr(args, "image", None) or []:
        try:  # every image is checked before anything is sent
            images.append(prepare_image(path, loaded.settings.session.image_max_side))
        except ImageError as exc:
            print(f"voice-tui: --image: {exc}", file=err)
            return EXIT_BAD_INPUT
    args.prepared_images = images
    log_file = getattr(args, "log_file", None)
    if log_file is None:
        return asyncio.run(_run(loaded, args, pcm, out, err))
    from voice_tui.logsetup import setup_logging
    from voice_tui.redact import Redactor

    try:  # the same redacted debug log as the app
        logging_setup = setup_logging(log_file, Redactor.from_settings(loaded.settings))
    except OSError as exc:
        print(f"voice-tui: cannot write the log file {log_file}: {exc.strerror}", file=err)
        return EXIT_BAD_INPUT
    try:
        return asyncio.run(_run(loaded, args, pcm, out, err))
    finally:
        logging_setup.close()


async def _run(
    loaded: LoadedSettings, args: argparse.Namespace, pcm: bytes, out: TextIO, err: TextIO
) -> int:
    from voice_tui.runtime import build_runtime

    try:
        rt = await build_runtime(
            loaded,
            audio=False,
            record_dir=getattr(args, "record", None),
            voice=getattr(args, "voice", None),
        )
    except BackendError as exc:
        print(f"voice-tui: {exc.message}", file=err)
        return EXIT_FAILURE
    session = _Session(rt.engine, out, err)
    rt.engine.subscribe(session)
    policy = getattr(args, "mcp_approval", "deny")
    rt.approvals.ask = allow_all if policy == "allow" else deny_all
    try:
        if rt.mcp is not None:  # the first turn should find the tools there
            await _wait_for_mcp(rt.mcp, err)
        try:
            await rt.engine.start()
        except EngineError:
            return EXIT_FAILURE  # already printed through ErrorRaised
        for image in getattr(args, "prepared_images", []):
            await rt.engine.send_image(image)
        await _stream(rt.engine, pcm, session)
        timeout = ANSWER_TIMEOUT_S + rt.engine.settings.session.tool_timeout_s
        if not await session.wait_settled(timeout):
            print(f"voice-tui: no answer within {timeout:.0f} s", file=err)
            return EXIT_FAILURE
        if session.fatal:
            return EXIT_FAILURE
        return _write_outputs(rt.engine, args, session, loaded, err)
    finally:
        await rt.aclose()


async def _wait_for_mcp(mcp: McpManager, err: TextIO) -> None:
    """Until every MCP server is ready or has failed once (each failure is printed)."""
    try:
        async with asyncio.timeout(MCP_READY_TIMEOUT_S):
            for connection in mcp.connections.values():
                status = await connection.wait_settled()
                if status.state is not ServerState.READY:
                    print(f"voice-tui: MCP server {status.describe()}", file=err, flush=True)
    except TimeoutError:
        print("voice-tui: MCP servers still connecting; going on without them", file=err)


def _write_outputs(
    engine: ConversationEngine,
    args: argparse.Namespace,
    session: _Session,
    loaded: LoadedSettings,
    err: TextIO,
) -> int:
    answered = any(
        t.role is Role.ASSISTANT and (t.text or t.tool_calls) for t in engine.conversation
    )
    try:
        if args.output_file is not None:
            if not session.audio:
                print("voice-tui: the assistant sent no audio (text output?)", file=err)
            write_wav(args.output_file, bytes(session.audio))
        if args.transcript is not None:
            args.transcript.write_text(_markdown(engine, loaded), encoding="utf-8")
    except OSError as exc:
        print(f"voice-tui: cannot write the output: {exc.strerror or exc}", file=err)
        return EXIT_FAILURE
    if not answered:
        print("voice-tui: the assistant did not answer", file=err)
        return EXIT_FAILURE
    return EXIT_OK


def _markdown(engine: ConversationEngine, loaded: LoadedSettings) -> str:
    """The same Markdown as `voice-tui history` exports."""
    from voice_tui.journal.history import export_markdown
    from voice_tui.journal.journal import SessionRecord

    turns = engine.conversation
    record = SessionRecord(
        session_id=engine.session_id or "headless",
        path=Path("-"),
        started_at=turns[0].started_at if turns else time.time(),
        backend=engine.backend.name,
        model=engine.backend.model,
        persona=engine.persona.name,
        turns=list(turns),
        ended_at=time.time(),
        totals=engine.totals,
    )
    return export_markdown(record)
