"""Every way of failing to reach a backend ends in one clear message naming the
setting to fix, with no key in it. The servers are real: the local one, or none."""

from __future__ import annotations

import importlib.util
import socket
from typing import Any

import pytest

from voice_tui.backends import BackendError, mask_key, select_backend
from voice_tui.backends.azure import AzureBackend
from voice_tui.backends.local import LocalBackend
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.core.engine import ConversationEngine, EngineError
from voice_tui.core.events import AppEvent, ConnectionChanged, ConnectionState, ErrorRaised
from voice_tui.core.tools import build_registry
from voice_tui.server.app import LocalServer

API_KEY = "sk-backendtest-0123456789"
WRONG_KEY = "sk-wrongwrongwrong-987654"
MODEL = "gpt-realtime-2.1"


async def _start_fails(settings: Any, backend: Any) -> tuple[str, list[AppEvent]]:
    events: list[AppEvent] = []
    engine = ConversationEngine(settings, backend, build_registry(settings))
    engine.subscribe(events.append)
    try:
        with pytest.raises(EngineError) as info:
            await engine.start()
    finally:
        await engine.close()
        await backend.aclose()
    errors = [e for e in events if isinstance(e, ErrorRaised)]
    assert errors and errors[0].fatal and errors[0].message == info.value.message
    states = [e.state for e in events if isinstance(e, ConnectionChanged)]
    assert ConnectionState.FAILED in states
    for secret in (API_KEY, WRONG_KEY):
        assert secret not in info.value.message
    return info.value.message, events


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_openai_key(make_settings: Any) -> None:
    settings = make_settings(backend={"kind": "openai"})
    with pytest.raises(BackendError) as info:
        select_backend(settings)
    assert "No OpenAI API key" in info.value.message
    assert "openai.api_key" in info.value.message and "OPENAI_API_KEY" in info.value.message


async def test_rejected_key(make_settings: Any, server: LocalServer) -> None:
    settings = make_settings(openai={"api_key": WRONG_KEY, "base_url": server.base_url})
    message, _ = await _start_fails(settings, select_backend(settings))
    assert "rejected the API key sk-wr… (HTTP 401)" in message  # not the service's words
    assert "openai.api_key" in message


async def test_unknown_model(make_settings: Any, server: LocalServer) -> None:
    settings = make_settings(
        backend={"model": "gpt-imaginary"},
        openai={"api_key": API_KEY, "base_url": server.base_url},
    )
    message, _ = await _start_fails(settings, select_backend(settings))
    assert "does not know the model 'gpt-imaginary'" in message
    assert "backend.model" in message


async def test_refused_connection(make_settings: Any) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    settings = make_settings(openai={"api_key": API_KEY, "base_url": url})
    message, _ = await _start_fails(settings, select_backend(settings))
    assert message.startswith(f"Connection refused by {url}")
    assert "openai.base_url" in message


async def test_retired_azure_api_version_is_ignored(
    make_settings: Any, server: LocalServer
) -> None:
    """An old config's api_version does not stop the GA connection (the loader notes it)."""
    settings = make_settings(
        backend={"kind": "azure"},
        azure={
            "endpoint": server.azure_endpoint,
            "deployment": MODEL,
            "api_key": API_KEY,
            "api_version": "2024-10-01-preview",
        },
    )
    backend = select_backend(settings)
    connection = await backend.connect()
    await connection.close()
    await backend.aclose()


async def test_azure_404_is_not_blamed_on_the_deployment(
    make_settings: Any, server: LocalServer
) -> None:
    """A 404 without DeploymentNotFound (here: a wrong endpoint path) says what the
    service said and names both settings, instead of "unknown deployment"."""
    settings = make_settings(
        backend={"kind": "azure"},
        azure={
            "endpoint": server.azure_endpoint + "/elsewhere",
            "deployment": MODEL,
            "api_key": API_KEY,
        },
    )
    message, _ = await _start_fails(settings, select_backend(settings))
    assert "does not know the deployment" not in message
    assert "refused the session (HTTP 404: Invalid URL (GET /elsewhere/openai/v1/realtime))" in (
        message
    )
    assert "check azure.endpoint and azure.deployment" in message


async def test_azure_rejected_key(make_settings: Any, server: LocalServer) -> None:
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": server.azure_endpoint, "deployment": MODEL, "api_key": WRONG_KEY},
    )
    message, _ = await _start_fails(settings, select_backend(settings))
    assert "rejected the API key" in message and "azure.api_key" in message


async def test_azure_unknown_deployment(make_settings: Any, server: LocalServer) -> None:
    settings = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": server.azure_endpoint, "deployment": "nope", "api_key": API_KEY},
    )
    message, _ = await _start_fails(settings, select_backend(settings))
    assert "does not know the deployment 'nope'" in message
    assert "azure.deployment" in message


def test_azure_without_endpoint(make_settings: Any) -> None:
    with pytest.raises(BackendError, match=r"azure\.endpoint"):
        select_backend(make_settings(backend={"kind": "azure"}))


def test_azure_without_credentials_says_how_to_sign_in(make_settings: Any) -> None:
    settings = make_settings(
        backend={"kind": "azure"}, azure={"endpoint": "https://x.openai.azure.com"}
    )
    extra = ("azure.identity", "aiohttp")  # the optional `azure` extra
    if not all(importlib.util.find_spec(name) for name in extra):
        with pytest.raises(BackendError) as info:
            select_backend(settings)
        assert "azure.api_key" in info.value.message
        assert "pip install 'voice-tui[azure]'" in info.value.message
    else:
        assert isinstance(select_backend(settings), AzureBackend)
    no_entra = make_settings(
        backend={"kind": "azure"},
        azure={"endpoint": "https://x.openai.azure.com", "use_entra_id": False},
    )
    with pytest.raises(BackendError, match=r"azure\.use_entra_id = true"):
        select_backend(no_entra)


def test_auto_selection(make_settings: Any) -> None:
    assert isinstance(select_backend(make_settings(openai={"api_key": API_KEY})), OpenAIBackend)
    compatible = select_backend(make_settings(openai={"base_url": "http://127.0.0.1:9/v1"}))
    assert isinstance(compatible, OpenAIBackend) and compatible.notice is None
    azure = select_backend(
        make_settings(azure={"endpoint": "https://r.openai.azure.com", "api_key": API_KEY})
    )
    assert isinstance(azure, AzureBackend) and azure.model == "gpt-realtime-2.1"
    local = select_backend(make_settings())
    assert isinstance(local, LocalBackend)
    assert local.notice is not None and "OPENAI_API_KEY" in local.notice
    both = select_backend(
        make_settings(
            openai={"api_key": API_KEY},
            azure={"endpoint": "https://r.openai.azure.com", "api_key": API_KEY},
        )
    )
    assert both.name == "openai"


def test_descriptions_never_show_keys(make_settings: Any) -> None:
    for settings in (
        make_settings(openai={"api_key": API_KEY}),
        make_settings(azure={"endpoint": "https://r.openai.azure.com", "api_key": API_KEY}),
    ):
        backend = select_backend(settings)
        assert API_KEY not in backend.description
        assert API_KEY not in repr(backend.context)
        assert backend.context.key_hint == "sk-ba…"


def test_mask_key() -> None:
    assert mask_key("sk-abcdefghijklmnop") == "sk-ab…"
    assert mask_key("short") == "…"


async def test_local_backend_will_not_listen_beyond_loopback_without_a_key(
    make_settings: Any,
) -> None:
    backend = select_backend(make_settings(backend={"kind": "local"}, local={"host": "0.0.0.0"}))
    with pytest.raises(BackendError) as refused:
        await backend.connect()
    assert "without a key" in refused.value.message and "local.api_key" in refused.value.message
    await backend.aclose()
