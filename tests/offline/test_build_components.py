"""build_components: the offline parts, chosen from settings, degrading instead of failing."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from voice_tui.config.schema import Settings
from voice_tui.offline import build_components
from voice_tui.offline.asr import PocketsphinxRecognizer
from voice_tui.offline.responder_builtin import BuiltinResponder
from voice_tui.offline.responder_chat import ChatCompletionsResponder
from voice_tui.offline.tts import EspeakSynthesizer, _Espeak


def test_defaults_are_the_offline_parts_and_the_builtin_responder() -> None:
    components = build_components(None)
    assert isinstance(components.recognizer, PocketsphinxRecognizer)
    assert isinstance(components.synthesizer, EspeakSynthesizer)
    assert isinstance(components.responder, BuiltinResponder)
    assert components.notes == ()
    assert isinstance(build_components(Settings()).responder, BuiltinResponder)


def test_a_configured_chat_endpoint_is_used() -> None:
    settings = Settings.model_validate(
        {
            "local": {
                "chat_url": "http://127.0.0.1:9/v1",
                "chat_model": "llama3",
                "chat_api_key": "sk-local-secret",
            }
        }
    )
    components = build_components(settings)
    assert isinstance(components.responder, ChatCompletionsResponder)
    assert components.responder.model == "llama3"
    assert components.notes == ()


def test_a_chat_url_without_a_model_falls_back_with_a_note() -> None:
    settings = Settings.model_validate({"local": {"chat_url": "http://127.0.0.1:9/v1"}})
    components = build_components(settings)
    assert isinstance(components.responder, BuiltinResponder)
    assert any("local.chat_model" in note for note in components.notes)


def test_a_chat_url_without_a_scheme_is_refused_by_the_config() -> None:
    # The config names the key and the line (tests/config); the engine never sees it.
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        Settings.model_validate({"local": {"chat_url": "localhost:11434/v1", "chat_model": "x"}})


def test_a_missing_recogniser_degrades_to_typed_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if the wheel were absent
    components = build_components(None)
    assert components.recognizer is None
    assert components.synthesizer is not None
    [note] = components.notes
    assert "Speech recognition is unavailable" in note and "type" in note


def test_a_missing_synthesiser_degrades_to_text_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Espeak, "_instance", None)
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    components = build_components(None)
    assert components.synthesizer is None
    assert components.recognizer is not None
    [note] = components.notes
    assert "Speech synthesis is unavailable" in note and "text only" in note
