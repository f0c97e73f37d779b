"""`voice-tui serve`: the built-in Realtime server on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from voice_tui.journal.redact import RedactingFilter, Redactor
from voice_tui.logsetup import setup_logging
from voice_tui.server.app import start_server

if TYPE_CHECKING:
    from voice_tui.config.loader import LoadedSettings

DEFAULT_PORT = 8765
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def serve(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    settings = loaded.settings
    host = settings.local.host
    port = settings.local.port or DEFAULT_PORT
    redactor = Redactor.from_settings(settings)
    log_file = getattr(args, "log_file", None)
    try:  # the same redacted log as the app; sessions are also shown on the console
        logging_setup = setup_logging(log_file, redactor)
    except OSError as exc:
        print(
            f"voice-tui serve: cannot write the log file {log_file}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    console = _console_handler(redactor)
    server_log = logging.getLogger("voice_tui.server")
    previous_level = server_log.level
    server_log.addHandler(console)
    if server_log.getEffectiveLevel() > logging.INFO:
        server_log.setLevel(logging.INFO)
    try:
        return asyncio.run(_serve(loaded, host, port))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return EXIT_OK
    finally:
        server_log.removeHandler(console)
        server_log.setLevel(previous_level)
        logging_setup.close()


def _console_handler(redactor: Redactor) -> logging.Handler:
    """Session opened/closed and refusals, one line each, on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(logging.INFO)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    return handler


async def _serve(loaded: LoadedSettings, host: str, port: int) -> int:
    try:
        server = await start_server(host=host, port=port, settings=loaded.settings)
    except OSError as exc:
        print(
            f"voice-tui serve: cannot listen on {host}:{port} ({exc.strerror or exc}). "
            "Choose another port with --port N (or local.port in the config).",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        _announce(server.host, server.port, server.components.notes)
        if server.components.loading is not None:
            server.components.loading.subscribe(_loaded)
        await stop.wait()
        print("Stopping: closing sessions.", flush=True)
    finally:
        await server.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return EXIT_OK


def _loaded(status: Any) -> None:
    """Said once the background load has settled (from the loading thread)."""
    if not status.done:
        return
    lines = [f"Speech models ready: {status.summary()} ({status.seconds:.1f} s)."]
    lines += [f"Note: {note}" for note in status.notes]
    print("\n".join(lines), flush=True)


def _announce(host: str, port: int, notes: tuple[str, ...]) -> None:
    url_host = f"[{host}]" if ":" in host else host
    http_url = f"http://{url_host}:{port}"
    lines = [
        f"voice-tui Realtime server listening on ws://{url_host}:{port}/v1/realtime",
        "Point a client at it:",
        f"  OpenAI SDK / any Realtime client:  OPENAI_BASE_URL={http_url}/v1  (any API key)",
        f"  voice-tui:  OPENAI_API_KEY=local voice-tui --backend openai --base-url {http_url}/v1",
        f"  Azure SDK:  azure_endpoint={http_url}, websocket_base_url=ws://{url_host}:{port}/openai",
    ]
    lines += [f"Note: {note}" for note in notes]
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
