"""The composition root: backend + tools + engine + audio worker + journal (+ recorder).

`build_runtime` wires the parts and returns them unstarted: the caller subscribes to
the engine first, then `await rt.engine.start()`, so no event is missed. The audio
worker's callbacks come from its thread; the ones that reach the engine are hopped onto
the loop with `call_soon_threadsafe` (the engine is not thread-safe and never blocks
the audio thread). The worker stays alive even when no device opened (text mode), so
`rt.reopen_audio()` can bring a returning device back without a restart.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voice_tui.audio.echo import EchoProcessor, make_mic_processor, suggested_noise_reduction
from voice_tui.audio.level import MicLevel
from voice_tui.audio.status import AudioStatus
from voice_tui.audio.worker import AudioWorker
from voice_tui.backends import Backend, select_backend
from voice_tui.backends.tailor import tailor_settings
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import AudioSettings, EchoMode, Settings
from voice_tui.core.approval import ApprovalGate
from voice_tui.core.conversation import Turn
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.core.tools import ToolRegistry, build_registry
from voice_tui.engine_bridge import EngineBridge
from voice_tui.journal.history import last_session, problems_note
from voice_tui.journal.journal import Journal, SessionMeta, default_sessions_dir, new_session_id
from voice_tui.journal.recorder import Recorder
from voice_tui.mcp import McpManager
from voice_tui.talk import Talk

log = logging.getLogger(__name__)

RENEW_MARGIN_S = 5 * 60.0  # renew this long before the service would end the session

LevelCallback = Callable[[MicLevel], None]
StatusCallback = Callable[[AudioStatus], None]


@dataclass
class Runtime:
    engine: ConversationEngine
    backend: Backend
    audio: AudioWorker | None
    audio_problem: str | None
    journal: Journal | None = None
    recorder: Recorder | None = None
    notices: list[str] = field(default_factory=list)
    echo: EchoProcessor | None = None  # None: echo handling off (headphones) or no audio
    audio_settings: AudioSettings | None = None
    # The local MCP servers the personas use, connecting in the background.
    mcp: McpManager | None = None
    # Who says yes to tools that need approval: the app's dialog or the run's policy.
    approvals: ApprovalGate = field(default_factory=ApprovalGate)
    _closed: bool = False
    talk: Talk = field(init=False)  # push-to-talk, mute, turn mode: what the UI calls

    def __post_init__(self) -> None:
        self.talk = Talk(self.engine, self.audio)

    @property
    def text_mode(self) -> bool:
        """Neither microphone nor speaker is open (or audio is off): a typed conversation."""
        return self.audio is None or self.audio.status.text_mode

    async def reopen_audio(self) -> AudioStatus | None:
        """Reopen the devices (e.g. the audio server came back); None without a worker.
        The status says whether the conversation has sound again or stays typed."""
        if self.audio is None:
            return None
        status = await asyncio.to_thread(self.audio.reopen)
        self.audio_problem = status.problem
        return status

    @property
    def echo_mode(self) -> EchoMode:
        return self.echo.state.mode if self.echo is not None else "off"

    def set_echo_mode(self, mode: EchoMode) -> None:
        """Switch echo handling live: the worker picks the new processor up at its next
        block (a fresh canceller adapts within a second)."""
        if self.audio is None or self.audio_settings is None:
            return
        self.audio_settings = self.audio_settings.model_copy(update={"echo": mode})
        self.echo = make_mic_processor(self.audio_settings, self.audio)
        self.audio.set_mic_processor(self.echo)

    async def aclose(self) -> None:
        """Stop everything, in order: conversation, devices, files, backend."""
        if self._closed:
            return
        self._closed = True
        await self.engine.close()
        if self.mcp is not None:
            await self.mcp.aclose()  # stops the servers voice-tui started
        if self.audio is not None:
            await asyncio.to_thread(self.audio.close)  # joins the worker thread
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
        if self.journal is not None:
            self.journal.close(self.engine.totals)
        await self.backend.aclose()


async def build_runtime(
    loaded: LoadedSettings,
    *,
    audio: bool = True,
    on_level: LevelCallback | None = None,
    on_audio_status: StatusCallback | None = None,
    record_dir: Path | None = None,
    resume: bool = False,
    voice: str | None = None,
    policy: ReconnectPolicy | None = None,
) -> Runtime:
    """Wire the parts. Raises BackendError when the backend's settings are unusable
    (missing key, no endpoint); audio and journal problems never raise.

    `voice` is an explicit voice choice (`--voice`): it beats the persona's voice.
    `policy` tunes reconnects and session renewal (default: ReconnectPolicy(), renewing
    RENEW_MARGIN_S before the backend's session limit: 25 min on Azure, 55 on OpenAI)."""
    backend = select_backend(loaded.settings)
    settings, model_notices = tailor_settings(loaded.settings, backend)
    notices = [*loaded.notices, *model_notices]
    if policy is None:  # renew before this service's own session limit
        policy = ReconnectPolicy(renew_after_s=backend.session_limit_s - RENEW_MARGIN_S)

    history: list[Turn] = []
    resumed_from: str | None = None
    sessions_dir = default_sessions_dir(settings)
    if resume:
        record = await asyncio.to_thread(last_session, sessions_dir)
        if record is None:
            notices.append("Nothing to resume: no earlier conversation was found.")
        else:
            history, resumed_from = record.turns, record.session_id
            if record.problems:
                notices.append(f"Resuming {record.session_id}: {problems_note(record.problems)}.")

    registry = build_registry(settings)
    approvals = ApprovalGate()
    engine = ConversationEngine(
        _with_far_field(settings) if audio and settings.audio.enabled else settings,
        backend,
        registry,
        history=history,
        policy=policy,
        voice_override=voice,
        approvals=approvals,
    )
    mcp = _start_mcp(settings, registry, approvals)
    journal: Journal | None = None
    meta = SessionMeta(backend.name, backend.model, engine.persona.name, resumed_from=resumed_from)
    if settings.journal.enabled:
        journal = await asyncio.to_thread(
            Journal.open, sessions_dir, meta, on_warning=log.warning, resumed_turns=history
        )
        engine.subscribe(journal.on_event)

    recorder: Recorder | None = None
    if record_dir is not None:
        session_id = journal.session_id if journal is not None else new_session_id(meta.started_at)
        recorder = await asyncio.to_thread(
            Recorder.open, record_dir, session_id, on_warning=log.warning
        )
        if recorder is not None:
            engine.subscribe(recorder.on_event)

    worker: AudioWorker | None = None
    echo: EchoProcessor | None = None
    problem: str | None = None
    _settle_heap()
    if audio and settings.audio.enabled:
        worker = audio_worker_for(
            engine,
            settings.audio,
            on_level=on_level,
            on_status=on_audio_status,
            on_sent=recorder.add_user if recorder is not None else None,
        )
        # Open speakers: the canceller cleans the mic before it is metered, sent, recorded.
        echo = make_mic_processor(settings.audio, worker)
        worker.set_mic_processor(echo)
        status = await asyncio.to_thread(worker.start)  # opening devices may block
        problem = status.problem
        notices.extend(status.notices)
        # Even with neither microphone nor speaker (a typed conversation) the worker
        # stays: a device that comes back is reopened without a restart.
        engine.playback = worker
    # The caller shows loaded.notices itself; the engine announces the rest on start.
    engine.notices.extend(n for n in notices if n not in loaded.notices)
    return Runtime(
        engine,
        backend,
        worker,
        problem,
        journal,
        recorder,
        notices,
        echo,
        settings.audio,
        mcp,
        approvals,
    )


_heap_settled = False


def _settle_heap() -> None:
    """Move what is alive once the app has started out of the cyclic collector's way
    (collected first, then `gc.freeze`): it lives as long as the app. A full collection
    that scans it held the GIL for 25-90 ms here, longer than the speaker's buffer, and
    the audio callbacks need the GIL: a gap in an answer, a late microphone block. Runs
    before the audio starts, once per process (later runtimes, in tests, add little)."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


def _start_mcp(
    settings: Settings, registry: ToolRegistry, approvals: ApprovalGate
) -> McpManager | None:
    """Connect, in the background, the local MCP servers some persona uses."""
    used = {name for persona in settings.personas for name in persona.mcp}
    servers = [s for s in settings.mcp_servers if s.name in used and not s.remote]
    if not servers:
        return None
    manager = McpManager(servers, registry, approvals, os.environ)
    manager.start()
    return manager


def audio_worker_for(
    engine: ConversationEngine,
    settings: AudioSettings,
    *,
    on_level: LevelCallback | None = None,
    on_status: StatusCallback | None = None,
    on_sent: Callable[[bytes], None] | None = None,
) -> AudioWorker:
    """A worker (not started) whose microphone feeds `engine.send_audio` and whose
    played-out items reach `engine.playback_finished`, both on the running loop's
    thread (through an `EngineBridge`). `on_sent` gets the microphone audio the engine
    actually sent."""
    bridge = EngineBridge(engine, asyncio.get_running_loop(), on_sent)
    return AudioWorker(
        settings,
        on_mic=bridge.mic,
        on_level=on_level or _ignore,
        on_status=on_status or _ignore,
        on_playback_finished=bridge.played_out,
    )


def _with_far_field(settings: Settings) -> Settings:
    """With open speakers (echo = aec) ask the service for far-field noise reduction,
    unless the user chose a setting."""
    chosen = suggested_noise_reduction(settings)
    if chosen == settings.session.noise_reduction:
        return settings
    session = settings.session.model_copy(update={"noise_reduction": chosen})
    return settings.model_copy(update={"session": session})


def _ignore(_: object) -> None:
    return None
