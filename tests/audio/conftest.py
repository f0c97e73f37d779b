"""A real AudioWorker on the virtual audio server, with its callbacks collected."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from voice_tui.audio.level import MicLevel
from voice_tui.audio.status import AudioStatus
from voice_tui.audio.worker import AudioWorker
from voice_tui.config.schema import AudioSettings

from .virtual import VirtualAudio


@dataclass
class Collected:
    """What the worker reported, appended from its thread."""

    mic: list[tuple[bytes, float]] = field(default_factory=list)
    levels: list[MicLevel] = field(default_factory=list)
    statuses: list[AudioStatus] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mic_signal(self, since: int = 0) -> np.ndarray:
        with self.lock:
            chunks = [pcm for pcm, _ in self.mic[since:]]
        return np.frombuffer(b"".join(chunks), np.int16).astype(np.float64)


@pytest.fixture
def start_worker(
    virtual_audio: VirtualAudio,
) -> Iterator[Callable[..., tuple[AudioWorker, Collected]]]:
    workers: list[AudioWorker] = []

    def start(**kwargs: object) -> tuple[AudioWorker, Collected]:
        got = Collected()

        def on_mic(pcm: bytes, captured_at: float) -> None:
            with got.lock:
                got.mic.append((pcm, captured_at))

        settings = kwargs.pop("settings", AudioSettings())
        assert isinstance(settings, AudioSettings)
        worker = AudioWorker(
            settings,
            on_mic=on_mic,
            on_level=got.levels.append,
            on_status=got.statuses.append,
            on_playback_finished=got.finished.append,
            **kwargs,  # type: ignore[arg-type]
        )
        workers.append(worker)
        status = worker.start()
        assert status.problem is None, status.problem
        return worker, got

    yield start
    for worker in workers:
        worker.close()
