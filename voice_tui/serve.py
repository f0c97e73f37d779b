"""`voice-tui serve`: the built-in Realtime server on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from voice_tui.logsetup import setup_logging
from voice_tui.offline import start_loading
from voice_tui.redact import RedactingFilter, Redactor
from voice_tui.server.app import is_loopback, start_server

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
    key = settings.local.api_key.get_secret_value() if settings.local.api_key else None
    if not is_loopback(host) and key is None:
        if not getattr(args, "allow_no_key", False):
            print(
                f"voice-tui serve: refusing to listen on {host} without a key: any machine "
                "that can reach it could use it (and, with tools, act on your files). Set "
                "local.api_key (or VOICE_TUI_LOCAL_API_KEY) so clients must present it, or "
                "pass --allow-no-key if that is really what you want.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(
            f"WARNING: listening on {host} WITHOUT A KEY (--allow-no-key): anyone who can "
            "reach this port can use this server and its tools.",
            file=sys.stderr,
            flush=True,
        )
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
        return asyncio.run(_serve(loaded, host, port, key))
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


async def _serve(loaded: LoadedSettings, host: str, port: int, key: str | None) -> int:
    try:
        # At once: the neural parts load in the background (components.loading).
        components = await asyncio.to_thread(start_loading, loaded.settings)
        server = await start_server(components, host=host, port=port, api_key=key)
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
        _announce(server.host, server.port, server.components.notes, keyed=key is not None)
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


def client_hosts(host: str) -> list[str]:
    """Hosts a client can put in a URL: a wildcard address (0.0.0.0, ::) is where the
    server listens, not where anyone connects; name this machine instead."""
    bare = host.strip("[]")
    try:
        wildcard = ipaddress.ip_address(bare).is_unspecified
    except ValueError:
        wildcard = False
    if not wildcard:
        return [host]
    local = "::1" if ":" in bare else "127.0.0.1"
    return [local, socket.gethostname()]


def _announce(host: str, port: int, notes: tuple[str, ...], *, keyed: bool) -> None:
    hosts = [f"[{h}]" if ":" in h else h for h in client_hosts(host)]
    http_url = f"http://{hosts[0]}:{port}"
    key = "<the server's key>" if keyed else "local"
    lines = [
        f"voice-tui Realtime server listening on {host}:{port} "
        f"({'clients must present local.api_key' if keyed else 'no key needed'})",
        "Point a client at it:",
        f"  OpenAI SDK / any Realtime client:  OPENAI_BASE_URL={http_url}/v1"
        + ("  (API key: the server's key)" if keyed else "  (any API key)"),
        f"  voice-tui:  OPENAI_API_KEY={key} voice-tui --backend openai --base-url {http_url}/v1",
        f"  Azure clients (GA):  endpoint {http_url}, deployment = any model name",
    ]
    lines += [f"  From other machines: http://{h}:{port}/v1" for h in hosts[1:]]
    lines += [f"Note: {note}" for note in notes]
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)
