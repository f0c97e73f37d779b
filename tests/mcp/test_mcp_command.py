"""`voice-tui mcp`: each configured server connected for real, its tools or its error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tomli_w

from tests.support.mcp_support import DEMO_SERVER
from voice_tui.cli import main


def test_lists_tools_errors_and_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_X", raising=False)
    python = sys.executable
    data = {
        "session": {"persona": "Helper"},
        "personas": [{"name": "Helper", "instructions": "Help.", "mcp": ["demo", "time"]}],
        "mcp_servers": [
            {
                "name": "demo",
                "command": python,
                "args": [str(DEMO_SERVER)],
                "require_approval": ["crash"],
                "allowed_tools": ["add", "crash", "nope"],
            },
            {
                "name": "time",
                "command": python,
                "args": ["-m", "mcp_server_time"],
                "require_approval": "never",
            },
            {"name": "gone", "command": "no-such-mcp-command"},
            {
                "name": "web",
                "url": "http://127.0.0.1:9/mcp",
                "headers": {"Authorization": "Bearer ${NO_SUCH_TOKEN_X}"},
            },
            {"name": "mail", "remote": True, "connector_id": "connector_gmail"},
        ],
    }
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    assert main(["mcp", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    demo = out.split("\n\n")[0]
    assert demo.splitlines()[:2] == [
        f"demo  (stdio: {python} {DEMO_SERVER})",
        "  used by: Helper",
    ]
    assert "  ready: 2 tool(s) offered" in demo
    assert "    add  Add two whole numbers." in demo
    assert "    crash [asks first]  The server process dies" in demo
    assert "  warning: allowed_tools names tools the server lacks: nope" in demo
    assert "    get_current_time  Get current time in a specific timezone" in out
    assert "gone  (stdio: no-such-mcp-command)\n  used by: no persona" in out
    assert "  error: command not found: no-such-mcp-command" in out
    assert "  error: mcp_servers 'web' headers.Authorization uses ${NO_SUCH_TOKEN_X}" in out
    assert "connector connector_gmail: the Realtime service connects to it" in out


def test_without_servers_it_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    assert main(["mcp", "--config", str(path)]) == 0
    assert "No MCP servers are configured" in capsys.readouterr().out


def test_mcp_credentials_are_redacted_from_logs() -> None:
    from voice_tui.config.schema import McpServerSettings, Settings
    from voice_tui.redact import Redactor

    settings = Settings(
        mcp_servers=[
            McpServerSettings(
                name="a",
                url="https://x.example/${PATH_PART}",
                headers={"Authorization": "Bearer literal-header-token-123", "X-Team": "blue"},
                env={"API_TOKEN": "literal-env-token-456"},
            ),
            McpServerSettings(
                name="b", remote=True, connector_id="connector_gmail", authorization="${GMAIL}"
            ),
        ]
    )
    env = {"GMAIL": "oauth-token-from-env-789", "PATH_PART": "secret-path-segment"}
    redactor = Redactor.from_settings(settings, env)
    text = (
        "auth literal-header-token-123 env literal-env-token-456 "
        "oauth-token-from-env-789 https://x.example/secret-path-segment team blue"
    )
    redacted = redactor.redact(text)
    for secret in ("literal-header-token-123", "literal-env-token-456", "oauth-token-from-env-789"):
        assert secret not in redacted
    assert "secret-path-segment" not in redacted
    assert redacted.endswith("team blue")
