"""What voice-tui knows about the models it names: which reason, which are being shut
down (and what replaces them), and what each costs.

Sources, checked on PRICES_CHECKED: the shutdown dates are the `openai` SDK's own
(3.60: "Deprecated values" in the docstrings of `RealtimeSessionCreateRequestParam.model`
and `AudioTranscriptionParam.model`; tests/config/test_models.py keeps this table in
step with them); the replacements and prices are OpenAI's model pages
(https://developers.openai.com/api/docs/models/<model id>) and deprecations page
(https://developers.openai.com/api/docs/deprecations). Prices match the exact model id:
a snapshot or a deployment without an entry is "price unknown", never free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_MODEL = "gpt-realtime-2.1"
# Transcribes each committed user turn in a Realtime session over WebSocket
# (the model page's own words), at $0.0045 a minute.
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"

ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]
REASONING_EFFORTS: tuple[ReasoningEffort, ...] = ("minimal", "low", "medium", "high", "xhigh")
# The gpt-realtime-2 family: `session.reasoning` and `parallel_tool_calls` apply.
REASONING_MODELS = frozenset({"gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"})

PRICES_CHECKED = "2026-12-04"
PRICES_SOURCE = "https://developers.openai.com/api/docs/models"


@dataclass(frozen=True, slots=True)
class Deprecation:
    shutdown: str  # YYYY-MM-DD
    replacement: str


_REALTIME_SHUTDOWN = "2027-01-20"
_TRANSCRIBE_SHUTDOWN = "2027-02-26"

DEPRECATED_MODELS: dict[str, Deprecation] = {
    "gpt-realtime": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1"),
    "gpt-realtime-2025-08-28": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1"),
    "gpt-realtime-mini": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1-mini"),
    "gpt-realtime-mini-2025-12-15": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1-mini"),
    "gpt-audio-mini": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1-mini"),
    "gpt-audio-mini-2025-12-15": Deprecation(_REALTIME_SHUTDOWN, "gpt-realtime-2.1-mini"),
}

DEPRECATED_TRANSCRIPTION_MODELS: dict[str, Deprecation] = {
    name: Deprecation(_TRANSCRIBE_SHUTDOWN, "gpt-transcribe")
    for name in (
        "whisper-1",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe",
        "gpt-4o-transcribe-diarize",
    )
}


@dataclass(frozen=True, slots=True)
class PriceRow:
    """US dollars per million tokens: text in / cached in / out, audio in / cached in / out."""

    text: tuple[float, float, float]
    audio: tuple[float, float, float]


_REALTIME_2 = PriceRow(text=(4.0, 0.4, 24.0), audio=(32.0, 0.4, 64.0))
_REALTIME_1 = PriceRow(text=(4.0, 0.4, 16.0), audio=(32.0, 0.4, 64.0))
_MINI = PriceRow(text=(0.6, 0.06, 2.4), audio=(10.0, 0.3, 20.0))

PRICE_TABLE: dict[str, PriceRow] = {
    "gpt-realtime-2.1": _REALTIME_2,
    "gpt-realtime-2": _REALTIME_2,
    "gpt-realtime-2.1-mini": _MINI,
    "gpt-realtime-1.5": _REALTIME_1,
    "gpt-realtime": _REALTIME_1,
    "gpt-realtime-2025-08-28": _REALTIME_1,
    "gpt-realtime-mini": _MINI,
    "gpt-realtime-mini-2025-12-15": _MINI,
}


def deprecation_notice(model: str, setting: str) -> str | None:
    """One line for a configured realtime model that is being shut down."""
    gone = DEPRECATED_MODELS.get(model)
    if gone is None:
        return None
    return (
        f"{model} is deprecated: OpenAI shuts it down on {gone.shutdown}. "
        f"Use {gone.replacement} (set {setting})."
    )


def transcription_deprecation_notice(model: str, setting: str) -> str | None:
    gone = DEPRECATED_TRANSCRIPTION_MODELS.get(model)
    if gone is None:
        return None
    return (
        f"Transcription model {model} is deprecated: OpenAI shuts it down on "
        f"{gone.shutdown}. Use {gone.replacement} (set {setting})."
    )


def reasons(model: str | None) -> bool:
    return model in REASONING_MODELS
