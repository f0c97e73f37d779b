"""Loading: where the file is, and defaults < file < environment < flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import load_settings
from voice_tui.config.schema import Settings

WriteConfig = Callable[..., Path]


def test_no_file_anywhere_gives_defaults_and_a_notice(tmp_path: Path) -> None:
    where = tmp_path / "nowhere" / "config.toml"
    loaded = load_settings(None, {"VOICE_TUI_CONFIG": str(where)}, {})
    assert loaded.path == where
    assert loaded.exists is False
    assert loaded.settings == Settings()
    assert len(loaded.notices) == 1
    assert str(where) in loaded.notices[0]
    assert "defaults" in loaded.notices[0]


def test_an_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "typo.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing, {}, {})
    assert caught.value.path == missing
    assert str(caught.value) == f"{missing}: no such file"


def test_explicit_path_beats_voice_tui_config(write_config: WriteConfig) -> None:
    chosen = write_config('[ui]\ntheme = "light"\n', name="chosen.toml")
    other = write_config('[ui]\ntheme = "other"\n', name="other.toml")
    loaded = load_settings(chosen, {"VOICE_TUI_CONFIG": str(other)}, {})
    assert loaded.path == chosen
    assert loaded.exists is True
    assert loaded.settings.ui.theme == "light"
    assert loaded.notices == []


def test_voice_tui_config_names_the_file(write_config: WriteConfig) -> None:
    path = write_config('[ui]\ntheme = "light"\n')
    loaded = load_settings(None, {"VOICE_TUI_CONFIG": str(path)}, {})
    assert loaded.path == path
    assert loaded.settings.ui.theme == "light"


def test_the_process_environment_is_the_default_env(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config('[session]\nvoice = "ash"\n')
    monkeypatch.setenv("VOICE_TUI_CONFIG", str(path))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    loaded = load_settings()
    assert loaded.path == path
    assert loaded.settings.session.voice == "ash"
    assert loaded.settings.openai.base_url == "http://127.0.0.1:9/v1"


def test_file_beats_defaults_and_keeps_the_other_defaults(write_config: WriteConfig) -> None:
    path = write_config("[audio]\nblock_ms = 40\n[pricing.my-model]\naudio_output = 1.5\n")
    settings = load_settings(path, {}, {}).settings
    assert settings.audio.block_ms == 40
    assert settings.audio.jitter_ms == Settings().audio.jitter_ms
    assert settings.pricing["my-model"].audio_output == 1.5


def test_environment_beats_file_and_flags_beat_environment(write_config: WriteConfig) -> None:
    path = write_config(
        """
[backend]
model = "from-file"
[openai]
api_key = "sk-file"
base_url = "http://file/v1"
[azure]
endpoint = "https://file.openai.azure.com"
deployment = "file-deployment"
api_version = "2025-01-01"
"""
    )
    env = {
        "OPENAI_API_KEY": "sk-env",
        "OPENAI_BASE_URL": "http://env/v1",
        "AZURE_OPENAI_ENDPOINT": "https://env.openai.azure.com",
        "AZURE_OPENAI_API_KEY": "azure-env",
        "AZURE_OPENAI_DEPLOYMENT": "env-deployment",
        "OPENAI_API_VERSION": "2025-08-28",
    }
    settings = load_settings(path, env, {"openai.base_url": "http://flag/v1"}).settings
    assert settings.backend.model == "from-file"
    assert settings.openai.api_key is not None
    assert settings.openai.api_key.get_secret_value() == "sk-env"
    assert settings.openai.base_url == "http://flag/v1"
    assert settings.azure.endpoint == "https://env.openai.azure.com"
    assert settings.azure.api_key is not None
    assert settings.azure.api_key.get_secret_value() == "azure-env"
    assert settings.azure.deployment == "env-deployment"
    assert settings.azure.api_version == "2025-08-28"


def test_empty_environment_variables_do_not_override(write_config: WriteConfig) -> None:
    path = write_config('[openai]\nbase_url = "http://file/v1"\n')
    settings = load_settings(path, {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "  "}, {}).settings
    assert settings.openai.base_url == "http://file/v1"
    assert settings.openai.api_key is None


def test_overrides_of_none_are_ignored_and_flags_reach_nested_keys(
    write_config: WriteConfig,
) -> None:
    path = write_config('[session]\nvoice = "ash"\n')
    overrides = {"session.voice": None, "audio.enabled": False, "local.port": 9000}
    settings = load_settings(path, {}, overrides).settings
    assert settings.session.voice == "ash"
    assert settings.audio.enabled is False
    assert settings.local.port == 9000


def test_cli_flags_map_onto_settings(write_config: WriteConfig) -> None:
    from voice_tui.cli import build_parser, overrides_from_args

    path = write_config("")
    args = build_parser().parse_args(
        ["--backend", "local", "--turn-mode", "push_to_talk", "--voice", "verse", "--text-only"]
    )
    settings = load_settings(path, {}, overrides_from_args(args)).settings
    assert settings.backend.kind == "local"
    assert settings.session.turn_detection == "push_to_talk"
    assert settings.session.voice == "verse"
    assert settings.audio.enabled is False


def test_a_file_with_a_key_readable_by_others_gets_a_chmod_notice(
    write_config: WriteConfig,
) -> None:
    secret = "sk-very-secret-value"
    path = write_config(f'[openai]\napi_key = "{secret}"\n')
    path.chmod(0o644)
    loaded = load_settings(path, {}, {})
    assert len(loaded.notices) == 1
    assert f"chmod 600 {path}" in loaded.notices[0]
    assert secret not in loaded.notices[0]
    assert "sk-" not in loaded.notices[0]

    path.chmod(0o600)
    assert load_settings(path, {}, {}).notices == []


def test_a_readable_file_without_keys_gets_no_notice(write_config: WriteConfig) -> None:
    path = write_config('[ui]\ntheme = "light"\n')
    path.chmod(0o644)
    assert load_settings(path, {}, {}).notices == []


def test_a_key_from_the_environment_does_not_trigger_the_file_notice(
    write_config: WriteConfig,
) -> None:
    path = write_config('[ui]\ntheme = "light"\n')
    path.chmod(0o644)
    assert load_settings(path, {"OPENAI_API_KEY": "sk-env"}, {}).notices == []


def test_secrets_are_not_in_the_settings_repr(write_config: WriteConfig) -> None:
    path = write_config(
        '[azure]\napi_key = "azure-secret"\n[local]\nchat_api_key = "chat-secret"\n'
    )
    settings = load_settings(path, {"OPENAI_API_KEY": "sk-env-secret"}, {}).settings
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("azure-secret", "chat-secret", "sk-env-secret"):
        assert secret not in shown


def test_tilde_in_an_explicit_path_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.toml").write_text('[ui]\ntheme = "light"\n')
    loaded = load_settings(Path("~/mine.toml"), {}, {})
    assert loaded.path == tmp_path / "mine.toml"
    assert loaded.settings.ui.theme == "light"
