"""The local backend: the built-in Realtime server, started in-process on 127.0.0.1,
reached through the very same OpenAI SDK code path as the cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from voice_tui.backends.base import BackendError, ErrorContext
from voice_tui.backends.openai import KEY_SETTING, OpenAIBackend
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

    def __init__(self, settings: Settings, *, notice: str | None = None) -> None:
        self._settings = settings
        self.model = settings.backend.model
        self.notice = notice
        self.description = f"local · offline engine on {settings.local.host}"
        self._server: LocalServer | None = None
        self._client: OpenAIBackend | None = None

    async def _ensure_started(self) -> OpenAIBackend:
        if self._client is not None:
            return self._client
        from voice_tui.server.app import start_server

        local = self._settings.local
        try:
            server = await start_server(host=local.host, port=local.port, settings=self._settings)
        except OSError as exc:
            raise BackendError(
                f"Could not start the built-in server on {local.host}:{local.port} "
                f"({exc.strerror or exc}); set local.port to a free port (0 picks one).",
                setting="local.port",
            ) from exc
        self._server = server
        self.description = f"local · offline engine · {server.base_url}"
        self._client = OpenAIBackend(
            self._settings, name="local", base_url=server.base_url, url_setting="local.port"
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
