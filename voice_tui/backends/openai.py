"""The OpenAI backend: the official SDK's `client.realtime.connect(model=...)`.

Also serves any server speaking the same protocol (`openai.base_url`), including the
project's own local server, so every backend shares this one client code path.
"""

from __future__ import annotations

from typing import cast

from openai import AsyncOpenAI
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from voice_tui.backends.base import BackendError, ErrorContext, mask_key
from voice_tui.backends.sdk import SdkBackend
from voice_tui.config.schema import Settings

OPENAI_URL = "https://api.openai.com/v1"
KEY_SETTING = "openai.api_key (or OPENAI_API_KEY)"
# Servers without authentication still need some bearer value from the SDK.
NO_KEY = "no-key"
OPENAI_SESSION_LIMIT_S = 60 * 60.0  # OpenAI ends a realtime session after an hour


class OpenAIBackend(SdkBackend):
    session_limit_s = OPENAI_SESSION_LIMIT_S

    def __init__(
        self,
        settings: Settings,
        *,
        name: str = "openai",
        base_url: str | None = None,
        api_key: str | None = None,
        url_setting: str = "openai.base_url",
        notice: str | None = None,
        keepalive: tuple[float, float] | None = None,
    ) -> None:
        """`keepalive` (ping interval, ping timeout) in seconds: how soon a dead network
        is noticed; None keeps the websockets defaults (20 s, 20 s, close timeout 10 s)."""
        o = settings.openai
        self.name = name
        self.model = settings.backend.model
        self.model_id = self.model
        self.notice = notice
        self._base_url = base_url or o.base_url
        key = api_key or (o.api_key.get_secret_value() if o.api_key else None)
        if not key:
            if self._base_url is None:
                raise BackendError(
                    f"No OpenAI API key: set {KEY_SETTING}, or choose another backend "
                    "(backend.kind = local runs offline).",
                    setting="openai.api_key",
                )
            key = NO_KEY
        self._api_key = key
        url = self._base_url or OPENAI_URL
        self.context = ErrorContext(
            kind=name,
            url=url,
            url_setting=url_setting,
            key_setting=KEY_SETTING,
            key_hint="" if key == NO_KEY else mask_key(key),
            model=self.model,
            model_setting="backend.model (or --model)",
        )
        if self._base_url is None:
            self.description = f"OpenAI · {self.model}"
        else:
            self.description = f"{name} · {self.model} · {url}"
        self._organization = o.organization
        self._project = o.project
        self._ws_options = cast(
            WebSocketConnectionOptions,
            {}
            if keepalive is None
            else {  # (a dead peer never answers the close either: do not wait long for it)
                "ping_interval": keepalive[0],
                "ping_timeout": keepalive[1],
                "close_timeout": keepalive[1],
            },
        )

    def _new_client(self) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url or OPENAI_URL,
            organization=self._organization,
            project=self._project,
            max_retries=0,
        )
