"""`voice-tui serve` keeps clients' keys out of its log, demands its own key when one is
configured, and will not listen beyond this machine without one unless told to."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest
import websockets
from openai import AsyncOpenAI
from websockets.exceptions import InvalidStatus

from .support import Client
from .test_standalone import free_port, start

CLIENT_KEY = "sk-proj-CLIENTKEY-0123456789abcdef"
AZURE_CLIENT_KEY = "azurekey0123456789abcdef0123"
SERVER_KEY = "vt-server-key-0123456789abcdef"


async def until_ready(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not lines or "Ctrl-C" not in lines[-1]:
            line = (await proc.stdout.readline()).decode()
            assert line, "the server exited early"
            lines.append(line)
    return "".join(lines)


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_clients_keys_never_reach_the_log(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "serve.log"
    proc = await start(tmp_path, "--port", str(port), "--log-file", str(log_file))
    await until_ready(proc)
    sdk = AsyncOpenAI(api_key=CLIENT_KEY, base_url=f"http://127.0.0.1:{port}/v1")
    async with sdk.realtime.connect(model="gpt-realtime-2.1") as conn:
        await Client(conn).until("session.created")
    azure = f"ws://127.0.0.1:{port}/openai/v1/realtime?model=my-deployment"
    async with websockets.connect(azure, additional_headers={"api-key": AZURE_CLIENT_KEY}) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
    code, _ = await stop(proc)
    assert code == 0
    log = log_file.read_text()
    assert "< GET /v1/realtime" in log  # websockets' request log is there, at DEBUG...
    assert "Authorization: [redacted]" in log  # ...with the credential headers blanked
    for secret in (CLIENT_KEY, AZURE_CLIENT_KEY, CLIENT_KEY[:12], AZURE_CLIENT_KEY[:12]):
        assert secret not in log


async def test_a_configured_key_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICE_TUI_LOCAL_API_KEY", SERVER_KEY)
    port = free_port()
    proc = await start(tmp_path, "--port", str(port))
    banner = await until_ready(proc)
    assert SERVER_KEY not in banner
    assert "clients must present local.api_key" in banner
    base = f"http://127.0.0.1:{port}"
    for wrong in ("sk-someone-else-0123456789", "local"):
        sdk = AsyncOpenAI(api_key=wrong, base_url=f"{base}/v1")
        with pytest.raises(InvalidStatus) as refused:
            async with sdk.realtime.connect(model="gpt-realtime-2.1"):
                pass
        assert refused.value.response.status_code == 401
        azure = AsyncOpenAI(api_key=wrong, base_url=f"{base}/openai/v1")
        with pytest.raises(InvalidStatus) as refused:
            async with azure.realtime.connect(model="my-deployment"):
                pass
        assert refused.value.response.status_code == 401
    sdk = AsyncOpenAI(api_key=SERVER_KEY, base_url=f"{base}/v1")
    async with sdk.realtime.connect(model="gpt-realtime-2.1") as conn:
        await Client(conn).until("session.created")
    ws_url = f"ws://127.0.0.1:{port}/openai/v1/realtime?model=my-deployment"
    async with websockets.connect(ws_url, additional_headers={"api-key": SERVER_KEY}) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
    code, _ = await stop(proc)
    assert code == 0


async def test_listening_beyond_loopback_without_a_key_is_refused(tmp_path: Path) -> None:
    proc = await start(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    async with asyncio.timeout(60):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    message = err.decode()
    assert "refusing to listen on 0.0.0.0 without a key" in message
    assert "local.api_key" in message and "--allow-no-key" in message


async def test_allow_no_key_says_so_loudly_and_prints_usable_urls(tmp_path: Path) -> None:
    port = free_port()
    proc = await start(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--allow-no-key")
    banner = await until_ready(proc)
    assert "http://0.0.0.0" not in banner  # where it listens, not where clients connect
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in banner
    assert f"http://{socket.gethostname()}:{port}/v1" in banner
    sdk = AsyncOpenAI(api_key="anything", base_url=f"http://127.0.0.1:{port}/v1")
    async with sdk.realtime.connect(model="gpt-realtime-2.1") as conn:
        await Client(conn).until("session.created")
    code, err = await stop(proc)
    assert code == 0
    assert "WARNING: listening on 0.0.0.0 WITHOUT A KEY" in err


async def test_keyed_server_on_all_interfaces_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICE_TUI_LOCAL_API_KEY", SERVER_KEY)
    port = free_port()
    proc = await start(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    banner = await until_ready(proc)
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in banner
    code, err = await stop(proc)
    assert code == 0
    assert "WITHOUT A KEY" not in err
