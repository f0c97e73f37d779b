"""The `voice-tui` command line: parse flags, load the configuration, dispatch.

Each subcommand lives in the package that owns it; this module only routes to it,
importing lazily so `voice-tui devices` does not pay for Textual and the TUI does not
pay for the offline engine until it is used.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voice_tui import __version__
from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import LoadedSettings, load_settings
from voice_tui.config.models import REASONING_EFFORTS
from voice_tui.output import OutputError, discard_stdout, guarded_stdout

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _common_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    # Subcommands repeat the common options so they can follow the subcommand; there
    # they default to SUPPRESS, so a value given before the subcommand is not reset.
    common = argparse.ArgumentParser(
        add_help=False, argument_default=argparse.SUPPRESS if in_subcommand else None
    )
    g = common.add_argument_group("configuration")
    g.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="config file (default: $VOICE_TUI_CONFIG or the platform config dir)",
    )
    g.add_argument(
        "--backend",
        choices=["auto", "openai", "azure", "local"],
        help="where the conversation runs (default: auto)",
    )
    g.add_argument("--model", help="realtime model or Azure deployment")
    g.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://host:port/v1")
    g.add_argument("--persona", help="persona name from the config")
    g.add_argument(
        "--turn-mode",
        choices=["server_vad", "semantic_vad", "push_to_talk"],
        help="how turns end",
    )
    g.add_argument("--voice", help="assistant voice (overrides the persona's)")
    g.add_argument(
        "--reasoning-effort",
        choices=list(REASONING_EFFORTS),
        help="how hard a reasoning model (gpt-realtime-2 family) thinks (default: low)",
    )
    g.add_argument(
        "--text-only", action="store_true", help="no audio devices: type, and read the replies"
    )
    g.add_argument("--log-file", type=Path, metavar="PATH", help="debug log (keys redacted)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(in_subcommand=True)
    parser = argparse.ArgumentParser(
        prog="voice-tui",
        description="A voice assistant in your terminal.",
        parents=[_common_options(in_subcommand=False)],
    )
    parser.add_argument("--version", action="version", version=f"voice-tui {__version__}")
    parser.add_argument("--theme", help="UI theme name (see themes/)")
    parser.add_argument("--input-device", help="microphone: name or id (voice-tui devices)")
    parser.add_argument("--output-device", help="speaker: name or id (voice-tui devices)")
    parser.add_argument("--resume", action="store_true", help="continue the last conversation")
    parser.add_argument("--record", type=Path, metavar="DIR", help="record both sides to WAV")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="headless conversation from an audio file")
    run.add_argument(
        "--input-file",
        type=Path,
        required=True,
        metavar="AUDIO",
        help="what you say: WAV, FLAC, Ogg, MP3... (any rate and channel count)",
    )
    run.add_argument(
        "--output-file", type=Path, metavar="WAV", help="the assistant's audio, 24 kHz WAV"
    )
    run.add_argument("--transcript", type=Path, metavar="MD", help="write the conversation")
    run.add_argument("--record", type=Path, metavar="DIR", help="record both sides to WAV")

    serve = sub.add_parser("serve", parents=[common], help="run the built-in Realtime server")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8765)")
    serve.add_argument(
        "--allow-no-key",
        action="store_true",
        help="listen beyond this machine without a key (anyone on the network can use it)",
    )

    sub.add_parser("devices", parents=[common], help="list audio input and output devices")

    history = sub.add_parser("history", parents=[common], help="past conversations")
    history.add_argument("session", nargs="?", help="session id (or prefix) to export")
    history.add_argument("--output", type=Path, metavar="MD", help="export to this file")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Flags become dotted config keys; they beat the file and the environment."""
    mapping = {
        "backend": "backend.kind",
        "model": "backend.model",
        "base_url": "openai.base_url",
        "persona": "session.persona",
        "turn_mode": "session.turn_detection",
        "voice": "session.voice",
        "reasoning_effort": "session.reasoning_effort",
        "theme": "ui.theme",
        "input_device": "audio.input_device",
        "output_device": "audio.output_device",
        "host": "local.host",
        "port": "local.port",
    }
    out: dict[str, Any] = {}
    for attr, key in mapping.items():
        value = getattr(args, attr, None)
        if value is not None:
            out[key] = value
    if getattr(args, "text_only", False):
        out["audio.enabled"] = False
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; its output to stdout is guarded: a reader that went away
    (`| head`) ends it quietly, any other failed write (a full disk) in one line,
    both with exit code 1 and without a traceback."""
    original_stdout = sys.stdout
    try:
        with guarded_stdout() as stdout:
            try:
                args = build_parser().parse_args(argv)
            except SystemExit:  # --help, --version, usage errors: already printed
                stdout.flush()
                raise
            try:
                loaded = load_settings(
                    path=args.config,
                    env=os.environ,
                    overrides=overrides_from_args(args),
                )
            except ConfigError as exc:
                print(f"voice-tui: {exc}", file=sys.stderr)
                return EXIT_USAGE
            if args.command is not None:
                code = _dispatch(args, loaded)
                stdout.flush()
                return code
    except OutputError as exc:
        discard_stdout(original_stdout)
        if not exc.reader_gone:
            print(f"voice-tui: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    # The app draws on the terminal itself, outside the guard.
    from voice_tui.ui.launch import launch

    return launch(loaded, args)


def _dispatch(args: argparse.Namespace, loaded: LoadedSettings) -> int:
    command = args.command
    if command == "run":
        from voice_tui.headless import run_file

        return run_file(loaded, args)
    if command == "serve":
        from voice_tui.serve import serve

        return serve(loaded, args)
    if command == "devices":
        from voice_tui.audio.devices import print_devices

        return print_devices(loaded)
    if command == "history":
        from voice_tui.journal.history import history_command

        return history_command(loaded, args)
    raise AssertionError(f"unknown command {command!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
