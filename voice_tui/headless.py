"""`voice-tui run`: one conversation from an audio file, without a UI or devices.

The file (anything libsndfile reads: WAV, FLAC, Ogg, MP3...) is converted to 24 kHz
mono and streamed into the session in 20 ms chunks, faster than real time, followed by
the silence server VAD needs to end the turn (in push-to-talk mode the turn is
committed explicitly). Tools run as in the app. When the answers are in, the
assistant's audio goes to a 24 kHz WAV and the conversation to stdout (and to Markdown
with --transcript). Outputs are checked before the conversation and written atomically.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import stat
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import soxr

from voice_tui.backends import BackendError
from voice_tui.config.loader import LoadedSettings
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
from voice_tui.core.protocol import BYTES_PER_MS, SAMPLE_RATE
from voice_tui.fileio import write_atomically
from voice_tui.output import OutputError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

CHUNK_MS = 20
PACE_S = 0.002  # per 20 ms chunk: ten times faster than real time
NO_SPEECH_WAIT_S = 1.5  # after the trailing silence, before committing explicitly
SETTLE_S = 0.3  # quiet time that means "no further answer is coming"
ANSWER_TIMEOUT_S = 60.0
MIN_AUDIO_MS = 100  # the Realtime API refuses to commit less


class AudioFileError(Exception):
    """The input file cannot be used; the message says why."""


# ------------------------------------------------------------------ reading the file

# What libsndfile reads, in the words a user knows them by.
READABLE_FORMATS = (
    "WAV (PCM, float or WAVE_FORMAT_EXTENSIBLE, any rate and channel count), "
    "FLAC, Ogg (Vorbis, Opus), MP3, AIFF, CAF, W64, RF64 and the other formats of libsndfile"
)
_BLOCK_S = 1  # a second at a time: a long file is never held whole as float samples


def read_audio(path: Path) -> bytes:
    """An audio file (anything libsndfile reads) as 24 kHz mono pcm16."""
    import soundfile

    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFileError(f"{path} is a directory, not an audio file") from None
    except PermissionError:
        raise AudioFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    with handle:
        try:
            with soundfile.SoundFile(handle) as audio:
                rate = audio.samplerate
                pcm, frames = _to_24k_mono(audio)
        except soundfile.LibsndfileError as exc:
            raise AudioFileError(_unreadable(path, exc.error_string)) from None
        except (soundfile.SoundFileError, RuntimeError, ValueError, TypeError) as exc:
            raise AudioFileError(_unreadable(path, str(exc))) from None
        except OSError as exc:
            raise AudioFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if frames == 0:
        raise AudioFileError(f"{path} contains no audio")
    if frames < rate * MIN_AUDIO_MS // 1000:
        raise AudioFileError(f"{path} is too short: a turn needs at least {MIN_AUDIO_MS} ms")
    return pcm


def _to_24k_mono(audio: Any) -> tuple[bytes, int]:
    """The file's channels averaged and resampled to 24 kHz, block by block."""
    rate: int = audio.samplerate
    resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    out: list[bytes] = []
    frames = 0
    for block in audio.blocks(blocksize=rate * _BLOCK_S, dtype="float32", always_2d=True):
        frames += len(block)
        mono = block.mean(axis=1, dtype=np.float32)
        if rate != SAMPLE_RATE:
            mono = resampler.resample_chunk(mono)
        out.append(_pcm16(mono))
    if rate != SAMPLE_RATE:
        out.append(_pcm16(resampler.resample_chunk(np.zeros(0, np.float32), last=True)))
    return b"".join(out), frames


def _pcm16(samples: np.ndarray) -> bytes:
    pcm: bytes = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm


def _unreadable(path: Path, detail: str) -> str:
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            return f"{path} is empty, not an audio file"
    converted = path.with_suffix(".wav").name
    if converted == path.name:
        converted = f"{path.stem}-converted.wav"
    reason = detail.strip().rstrip(".") or "unknown format"
    return (
        f"{path} is not an audio file voice-tui can read ({reason}). It reads "
        f"{READABLE_FORMATS}; convert others first, e.g. `ffmpeg -i {path.name} {converted}`"
    )


# ------------------------------------------------------------------ writing the outputs


class OutputFileError(Exception):
    """An output file cannot be written; the message names it and says why."""


def check_outputs(args: argparse.Namespace) -> list[str]:
    """Everything that would stop the outputs from being written, found before the
    conversation rather than after it: the input file among them, a folder that is
    missing or not writable, a read-only file, two outputs on one file."""
    problems: list[str] = []
    outputs = [
        (flag, path)
        for flag, path in (
            ("--output-file", args.output_file),
            ("--transcript", args.transcript),
            ("--log-file", getattr(args, "log_file", None)),  # opened by the logging setup
        )
        if path is not None
    ]
    claimed: list[tuple[str, Path]] = [("--input-file", args.input_file)]
    for flag, path in outputs:
        clash = next((c for c in claimed if _same_file(path, c[1])), None)
        if clash is not None:
            what = "your recording" if clash[0] == "--input-file" else "it"
            problems.append(
                f"{flag} {path} is the same file as {clash[0]} {clash[1]}: "
                f"voice-tui would overwrite {what}; choose another name"
            )
            continue
        claimed.append((flag, path))
        problem = None if flag == "--log-file" else _unwritable(path)
        if problem:
            problems.append(f"{flag} {problem}")
    return problems


def _same_file(a: Path, b: Path) -> bool:
    """One file under two names: the same path, a symlink to it or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.expanduser().resolve() == b.expanduser().resolve()


def _unwritable(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a directory"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path}: the file is read-only"
    if _is_special(path):
        return None  # /dev/null, /dev/stdout, a fifo: written as they are
    target = path.resolve()  # a symlink is written through, as the config is
    folder = target.parent
    if not folder.is_dir():
        return f"{path}: the directory {folder} does not exist"
    try:  # the real test: permissions, read-only mounts, ACLs all answer here
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        return f"{path}: cannot write in {folder} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def write_output(path: Path, data: bytes, flag: str) -> None:
    """Write an output all at once: a temporary file replaces the old one, so a full
    disk leaves the old file (or none), never a truncated one. Raises OutputFileError."""
    try:
        if _is_special(path):
            with path.open("wb") as handle:
                handle.write(data)
            return
        target = path.resolve()
        existed = target.exists()
        mode = stat.S_IMODE(target.stat().st_mode) if existed else None
        write_atomically(target, data, mode=mode)
    except OSError as exc:
        kept = "the old file is unchanged" if path.is_file() else "nothing was written"
        raise OutputFileError(
            f"cannot write {flag} {path}: {exc.strerror or exc} ({kept})"
        ) from None


def _is_special(path: Path) -> bool:
    """A device, pipe or socket (`/dev/null`, `/dev/stdout`): written to, never replaced."""
    return path.exists() and not path.is_file() and not path.is_dir()


def wav_bytes(pcm: bytes) -> bytes:
    """24 kHz mono pcm16 as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return buffer.getvalue()


# ------------------------------------------------------------------ the conversation


def format_turn(turn: Turn) -> list[str]:
    lines = []
    for call in turn.tool_calls:
        state = "ok" if call.ok else f"failed: {call.error}"
        lines.append(f"  [tool {call.name}({call.arguments}) -> {call.output}] ({state})")
    if turn.role is Role.USER:
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
        self.output_error: OutputError | None = None  # stdout failed: the run stops
        self.changed = asyncio.Event()

    def __call__(self, event: AppEvent) -> None:
        if isinstance(event, AudioChunk):
            self.audio += event.pcm
            return
        if isinstance(event, TurnCompleted):
            self._print_turn(event.turn)
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

    def _print_turn(self, turn: Turn) -> None:
        if self.output_error is not None:
            return
        try:
            for line in format_turn(turn):
                print(line, file=self.out, flush=True)
        except OutputError as exc:
            self.output_error = exc
        except OSError as exc:  # an unguarded stream (tests pass their own)
            self.output_error = OutputError(exc)

    @property
    def stopped(self) -> bool:
        """Nothing more is wanted: the conversation ended, failed, or has no output."""
        return self.ended or self.fatal is not None or self.output_error is not None

    def settled(self) -> bool:
        if self.stopped:
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
        if session.stopped:
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
    while not session.user_turns and time.monotonic() < deadline and not session.stopped:
        session.changed.clear()
        try:
            await asyncio.wait_for(session.changed.wait(), deadline - time.monotonic())
        except TimeoutError:
            break
    if not session.user_turns and not session.stopped:
        await engine.commit_input()


def run_file(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    problems = check_outputs(args)
    if problems:
        for problem in problems:
            print(f"voice-tui: {problem}", file=err)
        return EXIT_BAD_INPUT
    try:
        pcm = read_audio(args.input_file)
    except AudioFileError as exc:
        print(f"voice-tui: {exc}", file=err)
        return EXIT_BAD_INPUT
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
    try:
        try:
            await rt.engine.start()
        except EngineError:
            return EXIT_FAILURE  # already printed through ErrorRaised
        await _stream(rt.engine, pcm, session)
        timeout = ANSWER_TIMEOUT_S + rt.engine.settings.session.tool_timeout_s
        if not await session.wait_settled(timeout):
            print(f"voice-tui: no answer within {timeout:.0f} s", file=err)
            return EXIT_FAILURE
        if session.output_error is not None:
            raise session.output_error  # the command line reports it, in one line
        if session.fatal:
            return EXIT_FAILURE
        return _write_outputs(rt.engine, args, session, loaded, err)
    finally:
        await rt.aclose()


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
            write_output(args.output_file, wav_bytes(bytes(session.audio)), "--output-file")
        if args.transcript is not None:
            markdown = _markdown(engine, loaded).encode("utf-8")
            write_output(args.transcript, markdown, "--transcript")
    except OutputFileError as exc:
        print(f"voice-tui: {exc}", file=err)
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
