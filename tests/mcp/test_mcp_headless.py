"""`voice-tui run` with MCP tools and an image: the real CLI, the approval policy flag,
the demo MCP server over stdio, a server on its own loop (as a separate process would
be: the command runs `asyncio.run` itself)."""

from __future__ import annotations

import asyncio
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from PIL import Image

from tests.support.conversation import API_KEY, MODEL, ToolUser
from tests.support.mcp_support import stdio_settings
from tests.support.tones import ToneRecognizer, ToneSynthesizer, tone
from voice_tui.cli import main
from voice_tui.server.app import LocalServer, start_server
from voice_tui.server.components import Components

SHOUT_TONE = 660.0


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    for name in ("OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    components = Components(
        ToneRecognizer("tones", {SHOUT_TONE: "shout from the file"}, min_ms=50, min_peak=500),
        ToneSynthesizer("tone-voice", 5),
        ToolUser(),
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    start = start_server(components=components, api_key=API_KEY, models=[MODEL])
    srv = asyncio.run_coroutine_threadsafe(start, loop).result(10)
    try:
        yield srv
    finally:
        asyncio.run_coroutine_threadsafe(srv.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def config(server: LocalServer, tmp_path: Path) -> Path:
    data = {
        "backend": {"kind": "openai", "model": MODEL},
        "openai": {"base_url": server.base_url},
        "journal": {"dir": str(tmp_path / "journal")},
        "session": {"persona": "Tools", "silence_duration_ms": 300},
        "personas": [{"name": "Tools", "instructions": "Use tools.", "mcp": ["demo"]}],
        "mcp_servers": [stdio_settings(require_approval="always").model_dump(exclude_none=True)],
    }
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def speech(tmp_path: Path) -> Path:
    path = tmp_path / "shout.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(tone(SHOUT_TONE, 700) + np.zeros(24_000, "<i2").tobytes())
    return path


def test_run_allows_the_mcp_call_when_told_and_shows_the_image(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "map.png"
    Image.new("RGB", (40, 20), "green").save(picture)
    code = main(
        [
            "run",
            "--config",
            str(config(server, tmp_path)),
            "--input-file",
            str(speech(tmp_path)),
            "--image",
            str(picture),
            "--mcp-approval",
            "allow",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "You: [image: map.png, 40×20," in out
    assert "You: shout from the file" in out
    assert '[tool demo__shout({"text": "from the file"}) ->' in out and "FROM THE FILE!" in out
    assert "Assistant: The tool says" in out


def test_run_denies_mcp_calls_that_need_approval_by_default(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--config", str(config(server, tmp_path)), "--input-file", str(speech(tmp_path))]
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(failed: The user declined this call of shout (MCP server 'demo')" in out
    assert "FROM THE FILE!" not in out


def test_run_refuses_a_bad_image_before_anything_is_sent(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    args = ["run", "--config", str(config(server, tmp_path)), "--input-file", str(speech(tmp_path))]
    assert main([*args, "--image", str(bad)]) == 2
    assert "--image: notes.jpg is not an image" in capsys.readouterr().err
    assert not server.sessions
