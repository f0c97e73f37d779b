"""Choosing devices by name or id, listing them, and `voice-tui devices`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.virtual_audio import REPO, VirtualAudio
from tests.support.worker import Collected
from voice_tui.audio.devices import AudioDevice, NoSupportedRate, choose_device, pick_rate
from voice_tui.audio.worker import AudioWorker
from voice_tui.config.schema import AudioSettings

RATES = (16000, 24000, 48000)


def device(id: int, name: str, ins: int = 2, outs: int = 2, **defaults: bool) -> AudioDevice:
    return AudioDevice(
        id=id,
        name=name,
        host_api="ALSA",
        input_channels=ins,
        output_channels=outs,
        default_rate=48000.0,
        input_rates=RATES if ins else (),
        output_rates=RATES if outs else (),
        default_input=defaults.get("default_input", False),
        default_output=defaults.get("default_output", False),
    )


DEVICES = [
    device(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)"),
    device(1, "Jabra Evolve2 65 USB Audio", default_input=True),
    device(2, "HDMI 0 (hw:0,3)", ins=0, default_output=True),
    device(3, "pulse"),
]


def test_no_setting_means_the_default_device() -> None:
    assert choose_device(DEVICES, None, "input").device == DEVICES[1]
    assert choose_device(DEVICES, None, "output").device == DEVICES[2]


def test_a_name_matches_case_insensitively_exactly_first_then_as_a_substring() -> None:
    assert choose_device(DEVICES, "PULSE", "input").device == DEVICES[3]
    assert choose_device(DEVICES, "jabra evolve", "output").device == DEVICES[1]
    assert choose_device(DEVICES, "jabra", "input").notice is None


def test_an_id_chooses_that_device_as_int_or_digits() -> None:
    assert choose_device(DEVICES, 3, "input").device == DEVICES[3]
    assert choose_device(DEVICES, "0", "output").device == DEVICES[0]


def test_a_device_without_the_needed_direction_is_not_chosen() -> None:
    choice = choose_device(DEVICES, "HDMI", "input")  # output-only device
    assert choice.device == DEVICES[1]
    assert choice.notice is not None and "'HDMI' was not found" in choice.notice


def test_a_missing_device_falls_back_to_the_default_with_a_notice() -> None:
    choice = choose_device(DEVICES, "Blue Yeti", "input")
    assert choice.device == DEVICES[1]
    assert choice.notice is not None
    assert "audio.input_device 'Blue Yeti' was not found" in choice.notice
    assert "Jabra Evolve2 65 USB Audio" in choice.notice
    assert "voice-tui devices" in choice.notice


def test_no_microphone_at_all_is_no_device_not_an_error() -> None:
    outputs_only = [device(0, "Speakers", ins=0, default_output=True)]
    assert choose_device(outputs_only, None, "input").device is None
    assert choose_device(outputs_only, None, "output").device == outputs_only[0]


def run_devices_command(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text('[audio]\ninput_device = "Blue Yeti"\n')
    return subprocess.run(
        [sys.executable, "-m", "voice_tui", "devices", "--config", str(config)],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.audio
def test_devices_command_lists_devices_rates_and_defaults(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    result = run_devices_command({**os.environ, **virtual_audio.env}, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "pulse" in line]
    assert rows and "24000" in rows[0] and "48000" in rows[0]
    assert any("default" in line and "*" in line for line in result.stdout.splitlines())
    assert "input: default" in result.stdout
    assert "audio.input_device 'Blue Yeti' was not found" in result.stderr


def test_devices_command_without_an_audio_server_says_how_to_fix_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["PULSE_SERVER"] = f"unix:{tmp_path}/nobody-here"
    result = run_devices_command(env, tmp_path)
    assert result.returncode == 1
    assert "start PulseAudio or PipeWire" in result.stderr


@pytest.mark.audio
def test_a_missing_configured_device_falls_back_with_a_notice_in_the_status(
    start_worker: Callable[..., tuple[AudioWorker, Collected]],
) -> None:
    worker, _ = start_worker(
        settings=AudioSettings(input_device="Blue Yeti", output_device="pulse")
    )
    status = worker.status
    assert status.input_device == "default"
    assert status.output_device == "pulse"
    assert len(status.notices) == 1 and "Blue Yeti" in status.notices[0]


def only(*accepted: int) -> Callable[..., None]:
    """A device's settings check that accepts only these rates (as PortAudio answers)."""

    def check(device: int, samplerate: int, channels: int, dtype: str) -> None:
        if samplerate not in accepted:
            raise ValueError(f"Invalid sample rate {samplerate}")

    return check


def test_the_rate_is_24k_when_accepted_else_the_default_else_the_best_taken() -> None:
    assert pick_rate(only(16000, 24000, 48000), 0, 48000.0) == 24000
    assert pick_rate(only(44100, 48000), 0, 44100.0) == 44100
    assert pick_rate(only(48000), 0, 44100.0) == 48000
    assert pick_rate(only(96000), 0, 96000.0) == 96000  # its default, resampled
    with pytest.raises(NoSupportedRate, match="accepts none of"):
        pick_rate(only(96000), 0, 44100.0)
