"""What the audio worker reports: its status (for the status bar) and its counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AudioStatus:
    input_device: str | None  # the open microphone's name, None when there is none
    output_device: str | None
    input_rate: int | None  # the device rate (24000 unless the device refused it)
    output_rate: int | None
    problem: str | None = None  # what is wrong and how to fix it; None when all is well
    notices: tuple[str, ...] = ()  # e.g. a configured device was missing: the default is used

    @property
    def text_mode(self) -> bool:
        """Neither microphone nor speaker: the conversation is typed and read."""
        return self.input_device is None and self.output_device is None

    @property
    def has_input(self) -> bool:
        return self.input_device is not None

    @property
    def has_output(self) -> bool:
        return self.output_device is not None


@dataclass(frozen=True, slots=True)
class AudioStats:
    mic_samples_dropped: int  # ring overflow: the reader fell behind, oldest audio dropped
    device_input_overflows: int  # PortAudio reported input overflow
    underruns: int  # playback ran dry mid-response
    device_output_underflows: int  # PortAudio reported output underflow
    chunks_dropped: int  # assistant audio of interrupted responses, discarded
    input_rate: int | None
    output_rate: int | None
    mic_reads: int = 0  # times the worker took microphone audio from the ring
