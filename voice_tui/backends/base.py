"""What the conversation engine needs from a backend, and the errors backends raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from openai.resources.realtime.realtime import AsyncRealtimeConnection


class BackendError(Exception):
    """A problem the user must fix, in one sentence that names the setting.

    `fatal` is False only for problems that may go away by retrying (a refused
    connection while a server is starting, a dropped network)."""

    def __init__(self, message: str, *, setting: str = "", fatal: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.setting = setting
        self.fatal = fatal


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What a message needs to name: the backend and its settings."""

    kind: str  # openai | azure | local
    url: str  # where we connect, without credentials
    url_setting: str  # e.g. "openai.base_url"
    key_setting: str  # e.g. "openai.api_key (or OPENAI_API_KEY)"
    model: str
    model_setting: str  # "backend.model" or "azure.deployment"
    key_hint: str = ""  # a masked prefix ("sk-ab…") so users can tell which key was used


class Backend(Protocol):
    name: str  # "openai" | "azure" | "local"
    model: str  # model, or Azure deployment
    model_id: str  # the model that answers (Azure: azure.model, else the deployment)
    session_limit_s: float  # the service ends a session after this long
    description: str  # for the status bar; never a secret
    notice: str | None  # one line the user should read (e.g. how to use the cloud)

    @property
    def context(self) -> ErrorContext:
        """What error messages name: where we connect and the settings involved."""

    async def connect(self) -> AsyncRealtimeConnection:
        """Open a new Realtime connection (a new server session each time)."""

    async def aclose(self) -> None:
        """Release what the backend holds (the local backend stops its server)."""


def mask_key(key: str) -> str:
    """At most a recognisable prefix: `sk-ab…`."""
    if len(key) < 12:
        return "…"
    return key[:5] + "…"
