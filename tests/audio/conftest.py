"""A real AudioWorker on the virtual audio server, with its callbacks collected."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.virtual_audio import VirtualAudio
from tests.support.worker import Collected
from voice_tui.audio.worker import AudioWorker
from voice_tui.config.schema import AudioSettings


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
