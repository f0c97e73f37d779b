"""The offline engine loads in the background: usable at once, complete when loaded."""

from __future__ import annotations

import threading

from tests.support.phrases import words
from voice_tui.config.schema import Settings
from voice_tui.offline.loading import LoadingStatus, start_loading
from voice_tui.offline.tts import EspeakSynthesizer
from voice_tui.server.vad import VadSettings


def test_parts_bind_late_and_the_status_ends_with_their_names() -> None:
    components, status = start_loading(Settings())
    assert components.loading is status
    seen: list[str] = []
    finished = threading.Event()

    def listener(s: LoadingStatus) -> None:
        seen.append(s.summary())
        if s.done:
            finished.set()

    status.subscribe(listener)
    # Usable at once: a reply can be spoken whatever has loaded so far.
    assert components.synthesizer is not None
    assert b"".join(components.synthesizer.synthesize("Hello.", "marin", 1.0))
    # An utterance begun now waits for the recogniser instead of being lost.
    assert components.recognizer is not None
    stream = components.recognizer.start()
    speech = b"".join(EspeakSynthesizer().synthesize("What time is it?", "en-us", 1.0))
    stream.feed(bytes(9600) + speech + bytes(9600))
    assert "time" in words(stream.finish())
    assert finished.wait(120)
    assert status.summary() == "whisper tiny.en · hibari + espeak-ng · Silero VAD"
    assert status.notes == [] and status.seconds is not None
    assert seen[-1] == status.summary()
    assert components.vad is not None
    assert type(components.vad(VadSettings(), 0)).__name__ == "SileroVad"
    assert components.recognizer.name == "whisper tiny.en"
