"""The `voice-tui` command as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voice_tui import __version__
from voice_tui.config.loader import ENV_KEYS

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).with_name("voice-tui")


def voice_tui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The installed console script when there is one (scripts/test installs it).
    command = (
        [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "voice_tui"]
    )
    return subprocess.run(
        [*command, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The user's environment minus keys and config: nothing real is read or reached."""
    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    clean["VOICE_TUI_CONFIG"] = str(tmp_path / "no-config-here.toml")
    clean["VOICE_TUI_DATA_DIR"] = str(tmp_path / "data")
    clean["PYTHONPATH"] = str(ROOT)
    return clean


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_help_lists_the_commands_and_options(env: dict[str, str]) -> None:
    result = voice_tui("--help", env=env)
    assert result.returncode == 0
    for word in (
        "run",
        "serve",
        "devices",
        "history",
        "--config",
        "--backend",
        "--persona",
        "--turn-mode",
        "--text-only",
        "--input-device",
        "--resume",
        "--record",
    ):
        assert word in result.stdout
    assert result.stderr == ""


def test_help_of_each_subcommand(env: dict[str, str]) -> None:
    expected = {
        "run": ["--input-file", "--output-file", "--transcript", "--record", "--config"],
        "serve": ["--host", "--port", "--config"],
        "devices": ["--config"],
        "history": ["session", "--output", "--config"],
    }
    for command, words in expected.items():
        result = voice_tui(command, "--help", env=env)
        assert result.returncode == 0, command
        for word in words:
            assert word in result.stdout, (command, word)


def test_version(env: dict[str, str]) -> None:
    result = voice_tui("--version", env=env)
    assert (result.returncode, result.stdout.strip()) == (0, f"voice-tui {__version__}")


def test_a_toml_syntax_error_exits_2_naming_file_line_and_column(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = write(tmp_path / "bad.toml", "[ui]\ntheme = dark\n")
    result = voice_tui("--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"voice-tui: {config}:2:9: TOML syntax error: invalid value")


def test_a_schema_error_exits_2_naming_file_line_column_and_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = write(tmp_path / "config.toml", "[audio]\nblock_ms = 20\n  sesion = 1\n")
    env["VOICE_TUI_CONFIG"] = str(config)
    result = voice_tui(env=env)
    assert result.returncode == 2
    assert result.stderr == f"voice-tui: {config}:3:3: unknown key 'sesion' in [audio]\n"


def test_several_errors_are_listed_together(env: dict[str, str], tmp_path: Path) -> None:
    config = write(
        tmp_path / "config.toml",
        '[openai]\napi_key = "sk-do-not-print-me"\n[audio]\nblock_ms = 500\n'
        '[session]\nvioce = "ash"\n',
    )
    result = voice_tui("devices", "--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"voice-tui: {config}: 2 problems:",
        f"  {config}:4:1: audio.block_ms must be at most 100, not 500",
        f"  {config}:6:1: unknown key 'vioce' in [session] (did you mean 'voice'?)",
    ]
    assert "sk-do-not" not in result.stdout + result.stderr


def test_a_missing_explicit_config_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "typo.toml"
    result = voice_tui("history", "--config", str(missing), env=env)
    assert result.returncode == 2
    assert result.stderr == f"voice-tui: {missing}: no such file\n"


def test_a_bad_flag_value_is_blamed_on_the_flag(env: dict[str, str]) -> None:
    result = voice_tui("devices", "--persona", "Nobody", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "voice-tui: command line (session.persona): session.persona is 'Nobody', but no "
        "persona has that name; set session.persona to one of 'Assistant', "
        "'Grumpy Professor', 'The Wild Brunch', 'Pirate Weather', 'Quote Caller'\n"
    )


def test_an_unknown_choice_is_a_usage_error(env: dict[str, str]) -> None:
    result = voice_tui("--backend", "cloud", env=env)
    assert result.returncode == 2
    assert "invalid choice: 'cloud'" in result.stderr


def test_options_before_the_subcommand_are_kept(env: dict[str, str], tmp_path: Path) -> None:
    config = write(tmp_path / "bad.toml", "[ui]\nnope = 1\n")
    result = voice_tui("--config", str(config), "devices", env=env)
    assert result.returncode == 2
    assert f"{config}:2:1: unknown key 'nope'" in result.stderr


def test_options_after_the_subcommand_are_read(env: dict[str, str], tmp_path: Path) -> None:
    config = write(tmp_path / "bad.toml", "[ui]\nnope = 1\n")
    result = voice_tui("devices", "--config", str(config), env=env)
    assert result.returncode == 2
    assert f"{config}:2:1: unknown key 'nope'" in result.stderr


def test_reasoning_effort_flag_sets_the_session_setting(tmp_path: Path) -> None:
    from voice_tui.cli import build_parser, overrides_from_args
    from voice_tui.config.loader import load_settings

    for argv in (
        ["--reasoning-effort", "high"],
        ["run", "--input-file", "x.wav", "--reasoning-effort", "high"],
    ):
        overrides = overrides_from_args(build_parser().parse_args(argv))
        assert overrides["session.reasoning_effort"] == "high"
        settings = load_settings(None, {"VOICE_TUI_CONFIG": str(tmp_path / "none.toml")}, overrides)
        assert settings.settings.session.reasoning_effort == "high"


def test_an_unknown_reasoning_effort_is_a_usage_error(env: dict[str, str]) -> None:
    result = voice_tui("--reasoning-effort", "maximal", env=env)
    assert result.returncode == 2
    assert "invalid choice: 'maximal'" in result.stderr


def voice_tui_into(
    stdout: int, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The command with its stdout on a given descriptor (a closed pipe, /dev/full)."""
    command = (
        [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "voice_tui"]
    )
    return subprocess.run(
        [*command, *args],
        env=env,
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [("history",), ("--help",), ("run", "--help")])
def test_a_reader_that_goes_away_ends_the_command_quietly(
    env: dict[str, str], args: tuple[str, ...]
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already had enough
    try:
        result = voice_tui_into(write_end, *args, env=env)
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""  # no traceback, no "Exception ignored"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("history",), ("--help",), ("--version",)])
def test_output_to_a_full_disk_fails_in_one_line(
    env: dict[str, str], args: tuple[str, ...]
) -> None:
    with open("/dev/full", "wb") as full:
        result = voice_tui_into(full.fileno(), *args, env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "voice-tui: cannot write to standard output: No space left on device\n"
    )
