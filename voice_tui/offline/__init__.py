"""The built-in offline engine's parts: recogniser, synthesiser, responders.

`build_components` never raises: a part that cannot load on this platform is left out
(None) with a note saying which and why, and the server degrades around it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from voice_tui.config.schema import Settings
from voice_tui.server.components import Components, Recognizer, Responder, Synthesizer
from voice_tui.server.vad import VadFactory

log = logging.getLogger(__name__)


def _recognizer(settings: Settings | None, notes: list[str]) -> Recognizer | None:
    """Whisper (faster-whisper) first; pocketsphinx when it cannot load; else none."""
    asr_model = settings.local.asr_model if settings is not None else None
    try:
        from voice_tui.offline.whisper_asr import WhisperRecognizer

        return WhisperRecognizer(Path(asr_model) if asr_model else None)
    except Exception as e:  # missing wheel, wrong hash, unsupported CPU: fall back
        log.warning("Whisper speech recognition unavailable: %s", e)
        notes.append(f"Whisper speech recognition is unavailable ({e}); using pocketsphinx.")
    try:
        from voice_tui.offline.asr import PocketsphinxRecognizer

        return PocketsphinxRecognizer()
    except Exception as e:  # any failure to load means: typed input only
        log.warning("offline speech recognition unavailable: %s", e)
        notes.append(f"Speech recognition is unavailable ({e}); type your messages instead.")
        return None


def _synthesizer(notes: list[str]) -> Synthesizer | None:
    """hibari's neural voice with espeak-ng for the other voices; either alone if the
    other cannot load; None (text-only replies) if neither can."""
    neural: Synthesizer | None = None
    espeak: Synthesizer | None = None
    try:
        from voice_tui.offline.neural_tts import HibariSynthesizer

        neural = HibariSynthesizer()
    except Exception as e:  # missing wheel, wrong hash, unsupported CPU: espeak-ng speaks
        log.warning("neural voice unavailable: %s", e)
        notes.append(f"The neural voice is unavailable ({e}); using espeak-ng.")
    try:
        from voice_tui.offline.tts import EspeakSynthesizer

        espeak = EspeakSynthesizer()
    except Exception as e:
        log.warning("espeak-ng unavailable: %s", e)
        if neural is None:
            notes.append(f"Speech synthesis is unavailable ({e}); replies are text only.")
            return None
    from voice_tui.offline.neural_tts import VoiceRouter

    return VoiceRouter(neural, espeak)


def espeak_only() -> Synthesizer | None:
    """espeak-ng alone (loads in milliseconds): the voice while hibari loads."""
    try:
        from voice_tui.offline.tts import EspeakSynthesizer

        return EspeakSynthesizer()
    except Exception:  # reported by the full load, which tries again
        return None


def _responder(settings: Settings | None, notes: list[str]) -> Responder:
    from voice_tui.offline.responder_builtin import BuiltinResponder

    local = settings.local if settings is not None else None
    if local is None or not local.chat_url:
        return BuiltinResponder()
    if not local.chat_url.startswith(("http://", "https://")):
        notes.append(
            "local.chat_url must start with http:// or https:// "
            "(e.g. http://127.0.0.1:11434/v1); using the built-in responder."
        )
        return BuiltinResponder()
    if not local.chat_model:
        notes.append(
            "local.chat_url is set but local.chat_model is not; using the built-in responder."
        )
        return BuiltinResponder()
    try:
        from voice_tui.offline.responder_chat import ChatCompletionsResponder

        key = local.chat_api_key.get_secret_value() if local.chat_api_key else None
        return ChatCompletionsResponder(
            local.chat_url, local.chat_model, api_key=key, timeout_s=local.chat_timeout_s
        )
    except Exception as e:  # e.g. a malformed URL: keep the session usable
        log.warning("chat-completions responder unavailable: %s", type(e).__name__)
        notes.append(
            f"The local model at local.chat_url could not be used ({type(e).__name__}); "
            "using the built-in responder."
        )
        return BuiltinResponder()


def _vad(notes: list[str]) -> VadFactory | None:
    """Silero for server_vad; None (the energy VAD) when it cannot load."""
    try:
        from voice_tui.offline.silero_vad import shared_model

        return shared_model().detector
    except Exception as e:
        log.warning("Silero VAD unavailable: %s", e)
        notes.append(f"The Silero voice detector is unavailable ({e}); using the energy VAD.")
        return None


def build_components(settings: Settings | None = None) -> Components:
    """The offline recogniser, synthesiser, VAD and responder (chat endpoint if configured)."""
    notes: list[str] = []
    recognizer = _recognizer(settings, notes)
    synthesizer = _synthesizer(notes)
    vad = _vad(notes)
    responder = _responder(settings, notes)
    return Components(
        recognizer=recognizer,
        synthesizer=synthesizer,
        responder=responder,
        notes=tuple(notes),
        vad=vad,
    )


def start_loading(settings: Settings | None = None) -> Components:
    """Components usable at once, their neural parts loading in the background
    (`components.loading` tells how far it got)."""
    from voice_tui.offline.loading import start_loading as start

    return start(settings)[0]


__all__ = ["build_components", "start_loading"]
