"""[[mcp_servers]] and persona `mcp` lists: valid shapes load, mistakes are placed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import load_settings

WriteConfig = Callable[..., Path]

SERVERS = """
[[mcp_servers]]
name = "files"
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "~/notes"]
require_approval = ["write_file"]

[[mcp_servers]]
name = "issues"
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer ${ISSUES_TOKEN}" }
allowed_tools = ["search"]
timeout_s = 5

[[mcp_servers]]
name = "docs"
remote = true
url = "https://docs.example.com/mcp"
require_approval = "never"
"""


HELPER = (
    '\n[session]\npersona = "Helper"\n\n[[personas]]\nname = "Helper"\ninstructions = "Help."\n'
)


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {}, {})
    return str(caught.value)


def test_servers_and_persona_choices_load(write_config: WriteConfig) -> None:
    path = write_config(SERVERS + HELPER + 'mcp = ["files", "docs"]\n')
    settings = load_settings(path, {}, {}).settings
    files, issues, docs = settings.mcp_servers
    assert files.require_approval == ["write_file"] and files.timeout_s == 30.0
    assert issues.headers == {"Authorization": "Bearer ${ISSUES_TOKEN}"}
    assert issues.allowed_tools == ["search"]
    assert docs.remote and docs.require_approval == "never"
    assert settings.personas[0].mcp == ["files", "docs"]
    # Approval is asked for unless the file says otherwise.
    assert settings.mcp_servers[1].require_approval == "always"


def test_an_unknown_server_in_a_persona_is_placed_with_a_suggestion(
    write_config: WriteConfig,
) -> None:
    text = SERVERS + HELPER + 'mcp = ["file"]\n'
    path = write_config(text)
    message = load_error(path)
    line = text.count("\n")
    assert (
        f"{path}:{line}:8: unknown MCP server 'file' in [[personas]] entry 1 ('Helper')" in message
    )
    assert "(did you mean 'files'?); the servers are: files, issues, docs" in message


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('name = "x"', "give it either command (stdio) or url (HTTP)"),
        ('name = "x"\ncommand = "a"\nurl = "http://b"', "give it either command (stdio) or url"),
        ('name = "x"\nremote = true\ncommand = "a"', "remote: give it either url or connector_id"),
        ('name = "x"\nurl = "http://b"\nconnector_id = "c"', "need remote = true"),
        ('name = "two words"\ncommand = "a"', "should match pattern"),
        ('name = "x"\ncommand = "a"\nrequire_approval = "sometimes"', "require_approval"),
    ],
)
def test_bad_server_entries_are_explained(
    write_config: WriteConfig, entry: str, reason: str
) -> None:
    path = write_config(f"[[mcp_servers]]\n{entry}\n")
    message = load_error(path)
    assert str(path) in message and reason in message


def test_two_servers_with_one_name_are_refused(write_config: WriteConfig) -> None:
    path = write_config('[[mcp_servers]]\nname = "a"\ncommand = "x"\n' * 2)
    assert "two MCP servers are named 'a'" in load_error(path)


def test_a_bad_header_value_is_not_echoed(write_config: WriteConfig) -> None:
    path = write_config(
        '[[mcp_servers]]\nname = "a"\nurl = "http://x"\nheaders = { Authorization = 12345678 }\n'
    )
    message = load_error(path)
    assert "headers" in message and "12345678" not in message
