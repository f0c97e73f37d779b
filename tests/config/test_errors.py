"""Every config error names the file, the line and column, the key, and what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import ConfigProblems, load_settings

WriteConfig = Callable[..., Path]


def load_error(
    path: Path, env: dict[str, str] | None = None, overrides: dict[str, object] | None = None
) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env or {}, overrides or {})
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("[audio]\nblock_ms = \n", 2, 12, "invalid value"),
        ('[ui]\ntheme = "dark\n', 2, 14, "closing quote is missing"),
        ('[ui]\ntheme = """dark\n', 3, 1, "closing quote is missing"),
        ("[ui]\ntheme = dark\n", 2, 9, 'text needs quotes, e.g. theme = "dark"'),
        ("[audio\nblock_ms = 20\n", 1, 7, "expected ']'"),
        ("[ui]\ntheme = 'a'\n\n[ui]\n", 4, 1, "already defined"),
        ("[ui]\ntheme = 'a'\ntheme = 'b'\n", 3, 1, "already defined"),
        ("a = 1\nb", 2, 2, "expected '='"),
    ],
)
def test_toml_syntax_errors_name_file_line_and_column(
    write_config: WriteConfig, text: str, line: int, column: int, reason: str
) -> None:
    path = write_config(text)
    error = load_error(path)
    assert (error.path, error.line, error.column) == (path, line, column)
    assert str(error).startswith(f"{path}:{line}:{column}: TOML syntax error: ")
    assert reason in str(error).lower()


def test_unknown_key_names_the_key_and_its_table(write_config: WriteConfig) -> None:
    path = write_config('[audio]\nblock_ms = 20\n  sesion = "x"\n')
    error = load_error(path)
    assert str(error) == (f"{path}:3:3: unknown key 'sesion' in [audio]")
    assert (error.line, error.column) == (3, 3)


def test_unknown_table_at_the_top_level_gets_a_suggestion(write_config: WriteConfig) -> None:
    path = write_config('[sesion]\npersona = "Assistant"\n')
    assert str(load_error(path)) == (
        f"{path}:1:1: unknown key 'sesion' at the top level (did you mean 'session'?)"
    )


def test_unknown_key_in_the_nth_persona(write_config: WriteConfig) -> None:
    path = write_config(
        """[[personas]]
name = "Assistant"
instructions = "Help."

[[personas]]
name = "Pirate"
instructions = "Arr."
vocie = "ash"
"""
    )
    assert str(load_error(path)) == (
        f"{path}:8:1: unknown key 'vocie' in [[personas]] entry 2 ('Pirate') "
        "(did you mean 'voice'?)"
    )


def test_wrong_types_and_ranges_are_said_plainly(write_config: WriteConfig) -> None:
    path = write_config(
        """[session]
vad_threshold = 1.5
turn_detection = "sometimes"
max_output_tokens = "lots"
[audio]
input_device = 1.5
enabled = "yes please"
block_ms = 2
"""
    )
    error = load_error(path)
    assert isinstance(error, ConfigProblems)
    assert error.problems == [
        f"{path}:2:1: session.vad_threshold must be at most 1, not 1.5",
        f"{path}:3:1: session.turn_detection must be one of 'server_vad', 'semantic_vad' "
        "or 'push_to_talk', not \"sometimes\"",
        f"{path}:4:1: session.max_output_tokens must be a whole number or 'inf', not \"lots\"",
        f"{path}:6:1: audio.input_device must be a string in quotes or a whole number, not 1.5",
        f'{path}:7:1: audio.enabled must be true or false, not "yes please"',
        f"{path}:8:1: audio.block_ms must be at least 5, not 2",
    ]
    assert (error.path, error.line, error.column) == (path, 2, 1)
    assert str(error).startswith(f"{path}: 6 problems:\n  {path}:2:1: ")


def test_missing_persona_instructions_point_at_the_persona(write_config: WriteConfig) -> None:
    path = write_config('[session]\npersona = "Nemo"\n\n[[personas]]\nname = "Nemo"\n')
    assert str(load_error(path)) == (
        f"{path}:4:1: missing key 'instructions' in [[personas]] entry 1 ('Nemo')"
    )


def test_unknown_persona_in_session_points_at_the_key(write_config: WriteConfig) -> None:
    path = write_config('[ui]\ntheme = "dark"\n[session]\npersona = "Nobody"\n')
    assert str(load_error(path)) == (
        f"{path}:4:1: session.persona is 'Nobody', but no persona has that name; set "
        "session.persona to one of 'Assistant', 'Grumpy Professor', 'The Wild Brunch', "
        "'Pirate Weather', 'Quote Caller'"
    )


def test_a_misspelt_persona_gets_a_suggestion(write_config: WriteConfig) -> None:
    path = write_config(
        '[session]\npersona = "Pirat"\n\n[[personas]]\nname = "Pirate"\ninstructions = "Arr."\n'
    )
    assert str(load_error(path)) == (
        f"{path}:2:1: session.persona is 'Pirat', but no persona has that name (did you mean "
        "'Pirate'?); set session.persona to one of 'Pirate'"
    )


def test_own_personas_without_a_choice_start_with_the_first(write_config: WriteConfig) -> None:
    path = write_config(
        '[session]\nvoice = "ash"\n\n[[personas]]\nname = "Solo"\ninstructions = "x"\n'
        '[[personas]]\nname = "Duo"\ninstructions = "y"\n'
    )
    settings = load_settings(path, {}, {}).settings
    assert settings.session.persona == "Solo"
    assert settings.active_persona.instructions == "x"


def test_own_personas_that_include_the_default_keep_it(write_config: WriteConfig) -> None:
    path = write_config(
        '[[personas]]\nname = "Solo"\ninstructions = "x"\n'
        '[[personas]]\nname = "assistant"\ninstructions = "y"\n'
    )
    assert load_settings(path, {}, {}).settings.active_persona.name == "assistant"


def test_duplicate_persona_names(write_config: WriteConfig) -> None:
    path = write_config(
        '[[personas]]\nname = "Assistant"\ninstructions = "a"\n'
        '[[personas]]\nname = "assistant"\ninstructions = "b"\n'
    )
    error = load_error(path)
    assert (error.line, error.column) == (1, 1)
    assert "two personas are named 'assistant'" in str(error)


def test_unknown_tool_names_are_rejected_with_the_known_ones(write_config: WriteConfig) -> None:
    path = write_config(
        '[[personas]]\nname = "Assistant"\ninstructions = "a"\n'
        'tools = ["get_current_time", "get_time"]\n'
    )
    error = load_error(path)
    assert (error.line, error.column) == (4, 30)  # the tool's name in the list
    message = str(error)
    assert "unknown tool 'get_time' in [[personas]] entry 1 ('Assistant')" in message
    assert "did you mean 'get_current_time'?" in message
    assert "book_table" in message


def test_every_problem_is_reported_at_once(write_config: WriteConfig) -> None:
    path = write_config(
        "[audio]\nsesion = 1\n[ui]\nshow_timestamps = 3\n"
        '[[personas]]\nname = "Assistant"\ninstructions = "a"\ntools = ["nope"]\n'
    )
    error = load_error(path)
    assert isinstance(error, ConfigProblems)
    assert [p.split(": ", 1)[0] for p in error.problems] == [
        f"{path}:2:1",
        f"{path}:4:1",
        f"{path}:8:10",
    ]


def test_values_of_secret_keys_are_never_shown(write_config: WriteConfig) -> None:
    path = write_config("[openai]\napi_key = 123456789\n")
    error = load_error(path)
    assert str(error) == f"{path}:2:1: openai.api_key must be a string in quotes"
    assert "123456789" not in str(error)


def test_bad_flag_names_the_flag_not_the_file(write_config: WriteConfig) -> None:
    path = write_config('[session]\npersona = "Assistant"\n')
    error = load_error(path, overrides={"session.persona": "Nobody"})
    assert str(error) == (
        "command line (session.persona): session.persona is 'Nobody', but no persona has "
        "that name; set session.persona to one of 'Assistant', 'Grumpy Professor', "
        "'The Wild Brunch', 'Pirate Weather', 'Quote Caller'"
    )
    assert error.line is None


def test_bad_flag_value_is_not_blamed_on_the_file(write_config: WriteConfig) -> None:
    path = write_config('[backend]\nkind = "local"\n')
    error = load_error(path, overrides={"backend.kind": "cloud"})
    assert str(error) == (
        "command line (backend.kind): backend.kind must be one of 'auto', 'openai', "
        "'azure' or 'local', not \"cloud\""
    )


def test_file_that_is_not_utf8(write_config: WriteConfig, tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[ui]\ntheme = "caf\xe9"\n')
    error = load_error(path)
    assert (error.line, error.column) == (2, 13)
    assert "not UTF-8" in str(error)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert str(error) == f"{tmp_path}: is a directory, not a TOML file"


def test_an_unreadable_file_is_a_clear_error(write_config: WriteConfig) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = write_config("")
    path.chmod(0)
    assert "cannot be read" in str(load_error(path))


@pytest.mark.parametrize(
    ("table", "key", "value", "example"),
    [
        ("local", "chat_url", "not a url", "http://127.0.0.1:11434/v1"),
        ("local", "chat_url", "127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
        ("openai", "base_url", "ws://", "http://127.0.0.1:8765/v1"),
        (
            "azure",
            "endpoint",
            "my-resource.openai.azure.com",
            "https://my-resource.openai.azure.com",
        ),
        ("tools", "weather_forecast_url", "", "https://api.open-meteo.com/v1/forecast"),
    ],
)
def test_a_url_that_is_not_one_is_an_error(
    write_config: WriteConfig, table: str, key: str, value: str, example: str
) -> None:
    path = write_config(f'[{table}]\n{key} = "{value}"\n')
    assert str(load_error(path)) == (
        f"{path}:2:1: {table}.{key}: must be an http:// or https:// URL such as {example}, "
        f"not {value!r}"
    )


def test_a_url_from_the_environment_names_the_variable(write_config: WriteConfig) -> None:
    path = write_config("")
    assert str(load_error(path, env={"OPENAI_BASE_URL": "localhost:8765"})) == (
        "environment variable OPENAI_BASE_URL: openai.base_url: must be an http:// or "
        "https:// URL such as http://127.0.0.1:8765/v1, not 'localhost:8765'"
    )


def test_good_urls_load(write_config: WriteConfig) -> None:
    path = write_config(
        '[local]\nchat_url = "http://127.0.0.1:11434/v1"\n'
        '[azure]\nendpoint = "https://r.openai.azure.com/"\n'
    )
    settings = load_settings(path, {}, {}).settings
    assert settings.local.chat_url == "http://127.0.0.1:11434/v1"
    assert settings.azure.endpoint == "https://r.openai.azure.com/"
