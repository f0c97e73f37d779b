"""`voice-tui` with no subcommand: wire logging, the runtime and the device list into
the app and run it. Kept apart from app.py so tests build the app with their own parts.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO, cast

from voice_tui.ui.screens.devices import DeviceChoice

if TYPE_CHECKING:
    from voice_tui.audio.level import MicLevel
    from voice_tui.audio.status import AudioStatus
    from voice_tui.config.loader import LoadedSettings
    from voice_tui.logsetup import LoggingSetup
    from voice_tui.ui.app import Connect, VoiceApp
    from voice_tui.ui.ports import Runtime


def list_device_choices() -> tuple[list[DeviceChoice], list[DeviceChoice]]:
    """Inputs and outputs for the device menu; values are names (they survive re-plugging)."""
    from voice_tui.audio.devices import list_devices
    from voice_tui.audio.problems import load_sounddevice

    sd = load_sounddevice()
    if sd.module is None:
        raise RuntimeError(sd.problem or "sounddevice is not available")
    devices = list_devices(sd.module, probe_rates=False)
    inputs = [DeviceChoice("System default", None)]
    outputs = [DeviceChoice("System default", None)]
    for d in devices:
        label = f"{d.name}  ({d.host_api})"
        if d.input_channels:
            inputs.append(DeviceChoice(label + ("  *" if d.default_input else ""), d.name))
        if d.output_channels:
            outputs.append(DeviceChoice(label + ("  *" if d.default_output else ""), d.name))
    return inputs, outputs


def runtime_connector(loaded: LoadedSettings, args: argparse.Namespace) -> Connect:
    """The app's `connect`: build the runtime with the worker's callbacks posting to it."""

    async def connect(app: VoiceApp) -> Runtime:
        from voice_tui.runtime import build_runtime

        def on_level(level: MicLevel) -> None:  # worker thread
            app.post_mic_level(level.rms_dbfs, level.peak_dbfs, level.clipping)

        def on_audio_status(status: AudioStatus) -> None:  # worker thread
            app.post_audio_problem(status.problem)

        return await build_runtime(
            loaded,
            audio=loaded.settings.audio.enabled,
            on_level=on_level,
            on_audio_status=on_audio_status,
            record_dir=getattr(args, "record", None),
            resume=bool(getattr(args, "resume", False)),
            voice=getattr(args, "voice", None),  # an explicit --voice beats the persona's
        )

    return connect


def build_app(
    loaded: LoadedSettings, args: argparse.Namespace, logging_setup: LoggingSetup
) -> VoiceApp:
    """The app as `voice-tui` runs it; warnings logged anywhere become notifications."""
    from rich.console import Console

    from voice_tui.logsetup import RedactingStream
    from voice_tui.ui.app import VoiceApp
    from voice_tui.ui.messages import LogRecordPosted

    app = VoiceApp(
        loaded.settings,
        connect=runtime_connector(loaded, args),
        config_path=loaded.path,
        list_devices=list_device_choices,
        startup_notices=list(loaded.notices),
    )

    def show_warning(level: str, text: str) -> None:  # any thread: post_message is safe
        app.post_message(LogRecordPosted(level, text))

    logging_setup.set_warning_listener(show_warning)
    # Textual's crash report prints local variables: a key held in one must not reach
    # the terminal.
    stream = cast("TextIO", RedactingStream(sys.stderr, logging_setup.redactor))
    app.error_console = Console(file=stream, markup=False, highlight=False)
    return app


def launch(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """`voice-tui`: the full-screen app (the CLI's default command)."""
    from voice_tui.logsetup import setup_logging
    from voice_tui.redact import Redactor

    log_file = getattr(args, "log_file", None)
    try:
        logging_setup = setup_logging(log_file, Redactor.from_settings(loaded.settings))
    except OSError as exc:
        print(f"voice-tui: cannot write the log file {log_file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        app = build_app(loaded, args, logging_setup)
        code = app.run()
    finally:
        logging_setup.set_warning_listener(None)
        logging_setup.close()
    return code if isinstance(code, int) else 0
