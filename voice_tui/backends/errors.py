"""Turn connection failures and session errors into one clear sentence each.

Every message names the setting to change. Keys never appear in them: the SDK's
own exception texts are not quoted when they could echo a header.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from voice_tui.backends.base import BackendError, ErrorContext


def _hint(ctx: ErrorContext) -> str:
    return f" {ctx.key_hint}" if ctx.key_hint else ""


def _status_body(exc: InvalidStatus) -> tuple[int, str, str]:
    """HTTP status, error code and message from a rejected upgrade, if JSON."""
    status = exc.response.status_code
    code = message = ""
    try:
        data = json.loads(exc.response.body or b"")
    except (ValueError, TypeError):
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            code = str(err.get("code") or err.get("type") or "")
            message = str(err.get("message") or "")
    return status, code, message


def connect_error(exc: BaseException, ctx: ErrorContext) -> BackendError:
    """The one message for a failure to open the WebSocket."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, InvalidStatus):
        return refused_handshake(exc, ctx)
    if isinstance(exc, InvalidURI):
        return BackendError(
            f"{ctx.url} is not a valid server address; fix {ctx.url_setting}.",
            setting=ctx.url_setting,
        )
    if isinstance(exc, socket.gaierror):
        return BackendError(
            f"Cannot resolve the host of {ctx.url}; check {ctx.url_setting} and the network.",
            setting=ctx.url_setting,
            fatal=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return BackendError(
            f"Connection refused by {ctx.url}: is the server running? Check {ctx.url_setting}.",
            setting=ctx.url_setting,
            fatal=False,
        )
    if isinstance(exc, TimeoutError):
        return BackendError(
            f"Timed out connecting to {ctx.url}; check {ctx.url_setting} and the network.",
            setting=ctx.url_setting,
            fatal=False,
        )
    if type(exc).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError"):
        return BackendError(
            "Could not get a Microsoft Entra ID token (sign in with `az login`); "
            f"or set {ctx.key_setting}.",
            setting=ctx.key_setting,
        )
    if isinstance(exc, InvalidHandshake | OSError):
        return BackendError(
            f"Could not connect to {ctx.url} ({type(exc).__name__}); check {ctx.url_setting}.",
            setting=ctx.url_setting,
            fatal=False,
        )
    return BackendError(
        f"Could not open a {ctx.kind} realtime session ({type(exc).__name__}); "
        f"check {ctx.url_setting}.",
        setting=ctx.url_setting,
    )


_NOT_FOUND_CODES = ("deploymentnotfound", "model_not_found")


def refused_handshake(exc: InvalidStatus, ctx: ErrorContext) -> BackendError:
    """The service refused the WebSocket upgrade: its status and its own words, and the
    setting to check. A 404 is an unknown model only when the service says so."""
    status, code, message = _status_body(exc)
    said = f": {message}" if message else ""
    if status in (401, 403):  # not quoted: OpenAI's message echoes part of the key
        return BackendError(
            f"The {ctx.kind} server rejected the API key{_hint(ctx)} (HTTP {status}); "
            f"check {ctx.key_setting}.",
            setting=ctx.key_setting,
        )
    if code.lower() in _NOT_FOUND_CODES:
        return unknown_model(ctx)
    if status == 429:
        return BackendError(
            f"The {ctx.kind} server is rate limiting new sessions (HTTP 429{said}); "
            "wait a minute and try again.",
            fatal=False,
        )
    if status >= 500 or status == 408:  # the server's trouble: it may pass
        return BackendError(
            f"The {ctx.kind} server at {ctx.url} is unavailable (HTTP {status}{said}).",
            setting=ctx.url_setting,
            fatal=False,
        )
    return BackendError(
        f"The {ctx.kind} server at {ctx.url} refused the session (HTTP {status}{said}); "
        f"check {ctx.url_setting}" + (f" and {ctx.model_setting}" if status == 404 else "") + ".",
        setting=ctx.url_setting,
    )


def unknown_model(ctx: ErrorContext) -> BackendError:
    what = "deployment" if ctx.kind == "azure" else "model"
    return BackendError(
        f"The {ctx.kind} server does not know the {what} {ctx.model!r}; "
        f"set {ctx.model_setting} to a realtime {what} you have access to.",
        setting=ctx.model_setting,
    )


def session_error(error: dict[str, Any], ctx: ErrorContext) -> BackendError | None:
    """A server `error` event that means the configuration is wrong, or None."""
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    param = str(error.get("param") or "")
    lowered = (code + " " + message).lower()
    if "output_modalities" in message or param == "session.output_modalities":
        return BackendError(
            f"The server at {ctx.url} does not speak the GA realtime protocol "
            f"({message}); check {ctx.url_setting}.",
            setting=ctx.url_setting,
        )
    if code in ("invalid_api_key", "unauthorized") or "incorrect api key" in lowered:
        return BackendError(
            f"The {ctx.kind} server rejected the API key{_hint(ctx)}; check {ctx.key_setting}.",
            setting=ctx.key_setting,
        )
    if code in ("model_not_found", "DeploymentNotFound") or "does not exist" in lowered:
        return unknown_model(ctx)
    return None
