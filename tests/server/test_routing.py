"""URLs, keys, models and Azure deployments, through the SDK's own clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voice_tui.server.app import LocalServer

from .support import API_KEY, Client, azure_client, azure_preview_client


def http_error(exc: pytest.ExceptionInfo[InvalidStatus]) -> tuple[int, dict[str, Any]]:
    response = exc.value.response
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.body or b"{}")


async def test_openai_client_with_key(secured_server: LocalServer) -> None:
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=secured_server.base_url)
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        created = await Client(conn).until("session.created")
        assert created["session"]["model"] == "gpt-realtime"


async def test_bare_realtime_path_is_404(secured_server: LocalServer) -> None:
    """Only the paths the services answer: `/realtime` without `/v1` is not one."""
    base = secured_server.base_url.removesuffix("/v1")
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=base)  # -> /realtime?model=...
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="gpt-realtime"):
            pass
    assert http_error(exc)[0] == 404


@pytest.mark.parametrize("key", ["sk-wrong", ""])
async def test_wrong_or_missing_key_is_401(secured_server: LocalServer, key: str) -> None:
    sdk = AsyncOpenAI(api_key=key or "placeholder", base_url=secured_server.base_url)
    headers = {"Authorization": ""} if not key else {}
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="gpt-realtime", extra_headers=headers):
            pass
    status, body = http_error(exc)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    if key:
        assert body["error"]["code"] == "invalid_api_key"
        assert key not in json.dumps(body)  # the key is never echoed
    else:
        assert "didn't provide an API key" in body["error"]["message"]


async def test_unknown_model_gets_model_not_found(secured_server: LocalServer) -> None:
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=secured_server.base_url)
    async with sdk.realtime.connect(model="gpt-imaginary") as conn:
        client = Client(conn)
        err = (await client.recv())["error"]
        assert err["code"] == "model_not_found"
        assert "gpt-imaginary" in err["message"]
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_unknown_path_is_404(secured_server: LocalServer) -> None:
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=secured_server.base_url + "/beta")
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="gpt-realtime"):
            pass
    status, body = http_error(exc)
    assert status == 404
    assert "Invalid URL" in body["error"]["message"]


async def test_azure_ga_client_connects(secured_server: LocalServer) -> None:
    sdk = azure_client(secured_server)
    async with sdk.realtime.connect(model="my-deployment") as conn:
        client = Client(conn)
        created = await client.until("session.created")
        assert created["session"]["model"] == "my-deployment"
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        updated = await client.until("session.updated")
        assert updated["session"]["output_modalities"] == ["text"]


async def test_azure_api_key_header_is_accepted(secured_server: LocalServer) -> None:
    url = f"ws://127.0.0.1:{secured_server.port}/openai/v1/realtime?model=my-deployment"
    async with websockets.connect(url, additional_headers={"api-key": API_KEY}) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_azure_bearer_token_provider_is_accepted(secured_server: LocalServer) -> None:
    async def token() -> str:
        return API_KEY

    sdk = azure_client(secured_server, api_key=token)
    async with sdk.realtime.connect(model="my-deployment") as conn:
        await Client(conn).until("session.created")


async def test_azure_wrong_key_is_401(secured_server: LocalServer) -> None:
    sdk = azure_client(secured_server, api_key="bad-key")
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="my-deployment"):
            pass
    status, body = http_error(exc)
    assert status == 401
    assert "Access denied" in body["error"]["message"]


async def test_azure_unknown_deployment_is_404(secured_server: LocalServer) -> None:
    sdk = azure_client(secured_server)
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="nobody-deployed-this"):
            pass
    status, body = http_error(exc)
    assert status == 404
    assert body["error"]["code"] == "DeploymentNotFound"


@pytest.mark.parametrize("api_version", ["2025-08-28", "2024-10-01-preview"])
async def test_azure_preview_route_answers_as_retired(
    secured_server: LocalServer, api_version: str
) -> None:
    """A client that regresses to the preview URL fails here, as it does at Azure."""
    sdk = azure_preview_client(secured_server, api_version=api_version)
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(model="my-deployment"):
            pass
    status, body = http_error(exc)
    assert status == 410
    assert body["error"]["code"] == "EndpointRetired"
    assert "/openai/realtime" in body["error"]["message"]
    assert "/openai/v1/realtime?model=" in body["error"]["message"]


async def test_azure_ga_route_takes_no_api_version(secured_server: LocalServer) -> None:
    sdk = azure_client(secured_server)
    with pytest.raises(InvalidStatus) as exc:
        async with sdk.realtime.connect(
            model="my-deployment", extra_query={"api-version": "2025-08-28"}
        ):
            pass
    status, body = http_error(exc)
    assert status == 400
    assert "api-version" in body["error"]["message"]


async def test_open_server_accepts_any_key_and_model(server: LocalServer) -> None:
    sdk = AsyncOpenAI(api_key="anything", base_url=server.base_url)
    async with sdk.realtime.connect(model="my-own-model") as conn:
        created = await Client(conn).until("session.created")
        assert created["session"]["model"] == "my-own-model"


async def test_plain_http_requests_get_http_answers(server: LocalServer) -> None:
    import httpx

    base = server.azure_endpoint
    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{base}/v1/models")
        assert missing.status_code == 404
        assert "Invalid URL" in missing.json()["error"]["message"]
        not_upgraded = await http.get(f"{base}/v1/realtime?model=gpt-realtime")
        assert not_upgraded.status_code == 426  # a WebSocket endpoint, not plain HTTP
    # and the server still serves sockets
    sdk = AsyncOpenAI(api_key="x", base_url=server.base_url)
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        await Client(conn).until("session.created")
