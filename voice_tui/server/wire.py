"""Wire helpers shared by the server modules: ids, OpenAI-shaped errors, audio sizes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from voice_tui.server.components import SAMPLE_RATE

BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # pcm16 mono: 48 bytes per millisecond

Event = dict[str, Any]


def new_id(prefix: str) -> str:
    """Ids look like the cloud's (`item_...`, `resp_...`, `event_...`): prefix + 20 chars."""
    return f"{prefix}_{secrets.token_urlsafe(15)}"


def audio_ms(pcm_len: int) -> int:
    return pcm_len // BYTES_PER_MS


@dataclass(slots=True)
class ClientError(Exception):
    """A problem with what the client sent; becomes an `error` event, the session goes on."""

    message: str
    code: str | None = None
    param: str | None = None
    type: str = "invalid_request_error"
    event_id: str | None = None

    def to_event(self) -> Event:
        return error_event(self.message, self.code, self.param, self.type, self.event_id)


def error_event(
    message: str,
    code: str | None = None,
    param: str | None = None,
    type_: str = "invalid_request_error",
    event_id: str | None = None,
) -> Event:
    return {
        "type": "error",
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }


def openai_http_error(message: str, code: str | None, type_: str) -> dict[str, Any]:
    """The JSON body OpenAI's HTTP front door returns when it refuses a request."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def azure_http_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# How refusals word a client's values, as the service's own error messages do.
def shown_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
