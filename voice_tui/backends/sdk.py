"""What the OpenAI and Azure backends share: one SDK client, made when first needed,
that opens each Realtime connection, and connection failures as friendly errors."""

from __future__ import annotations

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from voice_tui.backends.base import ErrorContext
from voice_tui.backends.errors import connect_error


class SdkBackend:
    """Subclasses set `model`, `context` and `_ws_options`, and build the client."""

    model: str
    context: ErrorContext
    _ws_options: WebSocketConnectionOptions = {}  # noqa: RUF012 - never mutated
    _client: AsyncOpenAI | None = None

    def _new_client(self) -> AsyncOpenAI:
        raise NotImplementedError

    async def connect(self) -> AsyncRealtimeConnection:
        if self._client is None:
            self._client = self._new_client()
        try:
            return await self._client.realtime.connect(
                model=self.model, websocket_connection_options=self._ws_options
            ).enter()
        except Exception as exc:
            raise connect_error(exc, self.context) from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
