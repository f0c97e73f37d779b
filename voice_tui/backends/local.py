"""The local backend: the built-in Realtime server, started in-process on 127.0.0.1,
reached through the very same OpenAI SDK code path as the cloud."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from voice_tui.backends.base import BackendError, ErrorContext
from voice_tui.backends.openai import KEY_SETTING, OPENAI_SESSION_LIMIT_S, OpenAIBackend
from voice_tui.config.schema import Settings

if TYPE_CHECKING:
    from voice_tui.server.app import LocalServer
    from voice_tui.server.components import Loading

CLOUD_HINT = (
    "Using the built-in offline engine. For OpenAI set OPENAI_API_KEY (or openai.api_key); "
    "for Azure set azure.endpoint and azure.api_key."
)


class LocalBackend:
    name = "local"
    session_limit_s = OPENAI_SESSION_LIMIT_S  # the built-in server follows OpenAI

    def __init__(self, settings: Settings, *, notice: str | None = None) -> None:
        self._settings = settings
        self.model = settings.backend.model
        self.model_id = self.model
        self.notice = notice
        self.description = f"local · offline engine on {settings.local.host}"
        self._server: LocalServer | None = None
        self._client: OpenAIBackend | None = None

    async def _ensure_started(self) -> OpenAIBackend:
        if self._client is not None:
            return self._client
        # Loaded on first use: the offline engine is heavy, and cloud users never need it.
        from voice_tui.offline import start_loading
        from voice_tui.server.app import is_loopback, start_server

        local = self._settings.local
        key = local.api_key.get_secret_value() if local.api_key else None
        if key is None and not is_loopback(local.host):
            raise BackendError(
                f"The built-in server would listen on {local.host} without a key; set "
                "local.api_key, or local.host = 127.0.0.1.",
                setting="local.api_key",
            )
        # At once: the neural parts load in the background (see `loading`).
        components = await asyncio.to_thread(start_loading, self._settings)
        try:
            server = await start_server(components, host=local.host, port=local.port, api_key=key)
        except OSError as exc:
            raise BackendError(
                f"Could not start the built-in server on {local.host}:{local.port} "
                f"({exc.strerror or exc}); set local.port to a free port (0 picks one).",
                setting="local.port",
            ) from exc
        self._server = server
        self.description = f"local · offline engine · {server.base_url}"
        self._client = OpenAIBackend(
            self._settings,
            name="local",
            base_url=server.base_url,
            api_key=key,
            url_setting="local.port",
        )
        return self._client

    @property
    def context(self) -> ErrorContext:
        if self._client is not None:
            return self._client.context
        local = self._settings.local
        return ErrorContext(
            kind="local",
            url=f"http://{local.host}:{local.port}/v1",
            url_setting="local.port",
            key_setting=KEY_SETTING,
            model=self.model,
            model_setting="backend.model (or --model)",
        )

    @property
    def loading(self) -> Loading | None:
        """The offline engine's models loading in the background (None before it starts)."""
        return self._server.components.loading if self._server is not None else None

    @property
    def base_url(self) -> str | None:
        return self._server.base_url if self._server is not None else None

    async def connect(self) -> AsyncRealtimeConnection:
        client = await self._ensure_started()
        return await client.connect()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._server is not None:
            await self._server.close()
            self._server = None
