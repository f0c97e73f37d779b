"""Audio problems, each said once, in words that tell the user exactly what to do.

`load_sounddevice()` is the only place that imports sounddevice: importing it loads
PortAudio (OSError when the library is missing) and makes PortAudio list the devices,
so it must happen after PULSE_SERVER and friends are set.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger(__name__)

TEXT_MODE = "voice-tui keeps working in text mode: type your messages and read the replies."


def _portaudio_fix() -> str:
    if sys.platform == "darwin":
        return "install PortAudio: brew install portaudio"
    if sys.platform == "win32":
        return "reinstall sounddevice (its wheel carries PortAudio): pip install -U sounddevice"
    return (
        "install libportaudio2: sudo apt install libportaudio2 (Fedora: sudo dnf install portaudio)"
    )


def no_portaudio() -> str:
    return f"The PortAudio library was not found: {_portaudio_fix()}. {TEXT_MODE}"


NO_AUDIO_SERVER = (
    "No audio devices are available: start PulseAudio or PipeWire (e.g. `pulseaudio --start` "
    "or `systemctl --user start pipewire pipewire-pulse`), or check that your user may use "
    f"the sound card (group `audio`), then reopen the devices. {TEXT_MODE}"
)
NO_INPUT = "No microphone is available: type your messages; the replies are still spoken."
NO_OUTPUT = "No speaker is available: the replies are shown as text; you can still speak."


def device_failed(kind: str, name: str, detail: str) -> str:
    return (
        f"The {kind} {name!r} stopped working ({detail}). Reconnect it or restart the audio "
        "server (PulseAudio/PipeWire), then reopen the devices. Meanwhile you can type."
    )


def open_failed(kind: str, name: str, detail: str) -> str:
    return (
        f"The {kind} {name!r} could not be opened ({detail}). Choose another with "
        f"audio.{'input' if kind == 'microphone' else 'output'}_device (see `voice-tui devices`)."
    )


@dataclass(frozen=True, slots=True)
class SoundDeviceLoad:
    module: ModuleType | None
    problem: str | None


_loaded: SoundDeviceLoad | None = None


def load_sounddevice(retry: bool = False) -> SoundDeviceLoad:
    """Import sounddevice once; a missing PortAudio becomes a problem, not a crash.
    `retry` tries again after a failure (the user may have installed it meanwhile)."""
    global _loaded
    if _loaded is None or (retry and _loaded.module is None):
        try:
            import sounddevice
        except OSError as exc:  # sounddevice raises OSError when PortAudio is missing
            log.warning("sounddevice could not load PortAudio: %s", exc)
            _loaded = SoundDeviceLoad(None, no_portaudio())
        except Exception as exc:  # PortAudioError: PortAudio is there but cannot start
            log.warning("PortAudio could not start: %s", exc)
            _loaded = SoundDeviceLoad(None, f"PortAudio could not start ({exc}). {NO_AUDIO_SERVER}")
        else:
            _loaded = SoundDeviceLoad(sounddevice, None)
    return _loaded
