"""The exact URL and credentials each backend's SDK client sends, seen by a real
WebSocket server on 127.0.0.1 that records the upgrade request (and then refuses it).

The clients are the backends' own (`select_backend(settings)`), connecting through the
real SDK; only the endpoint is local.
"""

from __future__ import annotations

import http
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from voice_tui.backends import BackendError, select_backend
from voice_tui.backends.azure import AzureBackend, v1_base_url

KEY = "sk-handshake-0123456789abcdef"
AZURE_KEY = "0123456789abcdef0123456789abcdef"


@dataclass
class Recorder:
    port: int = 0
    requests: list[tuple[str, Headers]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()

    def record(conn: ServerConnection, request: Request) -> Response:
        rec.requests.append((request.path, request.headers))
        return conn.respond(http.HTTPStatus.IM_A_TEAPOT, "recorded\n")

    async with serve(lambda _: None, "127.0.0.1", 0, process_request=record) as server:  # type: ignore[arg-type,return-value]
        rec.port = next(iter(server.sockets)).getsockname()[1]
        yield rec


async def handshake(backend: Any, rec: Recorder) -> tuple[str, Headers]:
    with pytest.raises(BackendError) as refused:
        await backend.connect()
    assert "HTTP 418" in refused.value.message
    await backend.aclose()
    assert len(rec.requests) == 1
    return rec.requests[0]


async def test_openai_backend_url_and_bearer(make_settings: Any, recorder: Recorder) -> None:
    settings = make_settings(
        backend={"kind": "openai"},
        openai={"api_key": KEY, "base_url": f"{recorder.origin}/v1"},
    )
    path, headers = await handshake(select_backend(settings), recorder)
    assert path == "/v1/realtime?model=gpt-realtime-2.1"
    assert headers.get_all("Authorization") == [f"Bearer {KEY}"]
    assert "api-key" not in headers


@pytest.mark.parametrize("suffix", ["", "/", "/openai/v1", "/openai/v1/", "/openai"])
async def test_azure_backend_url_and_key_as_bearer(
    make_settings: Any, recorder: Recorder, suffix: str
) -> None:
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": recorder.origin + suffix, "deployment": "my-dep", "api_key": AZURE_KEY},
    )
    backend = select_backend(settings)
    assert isinstance(backend, AzureBackend)
    path, headers = await handshake(backend, recorder)
    assert path == "/openai/v1/realtime?model=my-dep"  # GA: no api-version, no deployment=
    assert headers.get_all("Authorization") == [f"Bearer {AZURE_KEY}"]


def test_azure_cloud_endpoint_becomes_the_v1_wss_url(make_settings: Any) -> None:
    for given in (
        "https://my-res.openai.azure.com",
        "https://my-res.openai.azure.com/",
        "https://my-res.openai.azure.com/openai/v1/",
    ):
        assert v1_base_url(given) == "https://my-res.openai.azure.com/openai/v1"
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": "https://my-res.openai.azure.com/", "deployment": "d", "api_key": "k"},
    )
    backend = select_backend(settings)
    assert isinstance(backend, AzureBackend)
    manager = backend._new_client().realtime.connect(model="d")
    # The SDK's own URL for it: https -> wss, then /realtime.
    assert str(manager._prepare_url()) == "wss://my-res.openai.azure.com/openai/v1/realtime"


class FixedCredential:
    """An azure-identity style async credential that hands out one token and records
    the scopes asked for (DefaultAzureCredential would go to the network)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("entra-token-0123456789", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FixedCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("configured", "scope"),
    [
        ({}, "https://ai.azure.com/.default"),
        (
            {"entra_scope": "https://cognitiveservices.azure.com/.default"},
            "https://cognitiveservices.azure.com/.default",
        ),
    ],
)
async def test_azure_entra_token_goes_out_as_bearer(
    make_settings: Any, recorder: Recorder, configured: dict[str, str], scope: str
) -> None:
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": recorder.origin, "deployment": "my-dep", **configured},
    )
    credential = FixedCredential()
    path, headers = await handshake(AzureBackend(settings, credential=credential), recorder)
    assert path == "/openai/v1/realtime?model=my-dep"
    assert headers.get_all("Authorization") == ["Bearer entra-token-0123456789"]
    assert credential.scopes == [(scope,)]
