"""Audio devices: list them, choose one by name or id, and `voice-tui devices`.

A device is best configured by name: ids change when devices are plugged in or out,
names do not. Names match case-insensitively, exactly first, then as a substring.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, Protocol

from voice_tui.audio.problems import NO_AUDIO_SERVER, load_sounddevice
from voice_tui.config.schema import Settings

Kind = Literal["input", "output"]
TARGET_RATE = 24_000  # what the Realtime API speaks: pcm16 mono at 24 kHz
COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True, slots=True)
class AudioDevice:
    id: int
    name: str
    host_api: str
    input_channels: int
    output_channels: int
    default_rate: float
    input_rates: tuple[int, ...]
    output_rates: tuple[int, ...]
    default_input: bool
    default_output: bool

    def channels(self, kind: Kind) -> int:
        return self.input_channels if kind == "input" else self.output_channels

    def is_default(self, kind: Kind) -> bool:
        return self.default_input if kind == "input" else self.default_output


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    device: AudioDevice | None  # None: no device of this kind at all
    notice: str | None = None  # said when the configured device was not found


class NoSupportedRate(Exception):
    """The device accepts none of the sample rates voice-tui can use."""


def _default_ids(sd: ModuleType) -> tuple[int, int]:
    ids = sd.default.device
    return int(ids[0]), int(ids[1])


def _supported_rates(
    check: Callable[..., None], device: int, rates: Sequence[int]
) -> tuple[int, ...]:
    ok = []
    for rate in rates:
        try:
            check(device=device, samplerate=rate, channels=1, dtype="int16")
        except Exception:  # PortAudioError or ValueError: this rate is not supported
            continue
        ok.append(rate)
    return tuple(ok)


def list_devices(sd: ModuleType, probe_rates: bool = True) -> list[AudioDevice]:
    """Every device PortAudio knows; rates are probed (a few ms per device and rate)."""
    apis = sd.query_hostapis()
    default_in, default_out = _default_ids(sd)
    devices = []
    for info in sd.query_devices():
        index = int(info["index"])
        ins, outs = int(info["max_input_channels"]), int(info["max_output_channels"])
        devices.append(
            AudioDevice(
                id=index,
                name=str(info["name"]),
                host_api=str(apis[info["hostapi"]]["name"]),
                input_channels=ins,
                output_channels=outs,
                default_rate=float(info["default_samplerate"]),
                input_rates=(
                    _supported_rates(sd.check_input_settings, index, COMMON_RATES)
                    if probe_rates and ins
                    else ()
                ),
                output_rates=(
                    _supported_rates(sd.check_output_settings, index, COMMON_RATES)
                    if probe_rates and outs
                    else ()
                ),
                default_input=index == default_in,
                default_output=index == default_out,
            )
        )
    return devices


def _find(devices: Sequence[AudioDevice], wanted: str | int, kind: Kind) -> AudioDevice | None:
    usable = [d for d in devices if d.channels(kind) > 0]
    if isinstance(wanted, int) or wanted.strip().isdigit():
        for d in usable:
            if d.id == int(wanted):
                return d
        if isinstance(wanted, int):
            return None
    text = str(wanted).strip().casefold()
    for d in usable:
        if d.name.casefold() == text:
            return d
    for d in usable:
        if text in d.name.casefold():
            return d
    return None


def choose_device(
    devices: Sequence[AudioDevice], wanted: str | int | None, kind: Kind
) -> DeviceChoice:
    """The configured device, else the default (with a notice), else any, else None."""
    usable = [d for d in devices if d.channels(kind) > 0]
    fallback = next((d for d in usable if d.is_default(kind)), usable[0] if usable else None)
    if wanted is None or (isinstance(wanted, str) and not wanted.strip()):
        return DeviceChoice(fallback)
    found = _find(devices, wanted, kind)
    if found is not None:
        return DeviceChoice(found)
    setting = f"audio.{kind}_device"
    if fallback is None:
        return DeviceChoice(None, f"{setting} {wanted!r} was not found, and there is no other.")
    return DeviceChoice(
        fallback,
        f"{setting} {wanted!r} was not found; using {fallback.name!r} instead "
        "(`voice-tui devices` lists the names).",
    )


def pick_rate(check: Callable[..., None], device: int, default_rate: float) -> int:
    """24 kHz when the device takes it, else its default rate, else the best it takes."""
    candidates = [TARGET_RATE, round(default_rate), 48_000, 44_100, 32_000, 16_000]
    for rate in dict.fromkeys(candidates):  # ordered, without repeats
        if _supported_rates(check, device, (rate,)):
            return rate
    raise NoSupportedRate(f"the device accepts none of {sorted(set(candidates))} Hz")


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


def print_devices(loaded: _HasSettings) -> int:
    """`voice-tui devices`: a table of devices; 1 when there is no usable audio."""
    from rich.console import Console
    from rich.table import Table

    out, err = Console(), Console(file=sys.stderr)
    sd = load_sounddevice()
    if sd.module is None:
        err.print(sd.problem, markup=False, highlight=False)
        return 1
    try:
        devices = list_devices(sd.module)
    except sd.module.PortAudioError as exc:
        err.print(f"{NO_AUDIO_SERVER} ({exc})", markup=False, highlight=False)
        return 1
    if not devices:
        err.print(NO_AUDIO_SERVER, markup=False, highlight=False)
        return 1
    table = Table(title="Audio devices (* = default)")
    for column in ("id", "name", "host API", "in", "out", "input rates (Hz)", "output rates (Hz)"):
        table.add_column(column, overflow="fold")
    for d in devices:
        table.add_row(
            str(d.id),
            d.name,
            d.host_api,
            _channels_cell(d.input_channels, d.default_input),
            _channels_cell(d.output_channels, d.default_output),
            _rates_cell(d.input_rates),
            _rates_cell(d.output_rates),
        )
    out.print(table)
    audio = loaded.settings.audio
    wanted_devices: tuple[tuple[Kind, str | int | None], ...] = (
        ("input", audio.input_device),
        ("output", audio.output_device),
    )
    for kind, wanted in wanted_devices:
        choice = choose_device(devices, wanted, kind)
        used = choice.device.name if choice.device else "none"
        out.print(f"{kind}: {used}", markup=False, highlight=False)
        if choice.notice:
            err.print(choice.notice, markup=False, highlight=False)
    return 0


def _channels_cell(channels: int, default: bool) -> str:
    if not channels:
        return "-"
    return f"{channels}{' *' if default else ''}"


def _rates_cell(rates: tuple[int, ...]) -> str:
    return ", ".join(str(r) for r in rates) if rates else "-"


def describe(device: AudioDevice) -> str:
    return f"{device.name} ({device.host_api}, id {device.id})"
