"""`voice-tui serve` as a real process: prints how to connect, serves, stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from openai import AsyncOpenAI

from tests.support.serve import free_port, start
from tests.support.server import Client


async def test_serve_prints_url_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "serve.log"
    proc = await start(tmp_path, "--port", str(port), "--log-file", str(log_file))
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not lines or "Ctrl-C" not in lines[-1]:
            line = (await proc.stdout.readline()).decode()
            assert line, "the server exited early"
            lines.append(line)
    text = "".join(lines)
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in text
    sdk = AsyncOpenAI(api_key="anything", base_url=f"http://127.0.0.1:{port}/v1")
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        created = await Client(conn).until("session.created")
        assert created["session"]["model"] == "gpt-realtime"
    session_id = created["session"]["id"]
    async with asyncio.timeout(30):  # the console shows the session come and go
        while f"session {session_id} closed" not in (line := await next_line(proc)):
            lines.append(line)
    assert f"session {session_id} opened: model gpt-realtime" in "".join(lines)
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        code = await proc.wait()
    assert code == 0
    assert f"session {session_id} opened" in log_file.read_text()


async def next_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode()
    assert line, "the server exited early"
    return line


async def test_serve_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await start(tmp_path, "--port", str(port))
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    assert proc.returncode == 1
    message = err.decode()
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert "--port" in message
