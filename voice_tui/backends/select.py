"""Choose the backend from the settings: openai key > azure settings > local."""

from __future__ import annotations

from voice_tui.backends.azure import AzureBackend
from voice_tui.backends.base import Backend
from voice_tui.backends.local import CLOUD_HINT, LocalBackend
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import BackendKind, Settings


def auto_kind(settings: Settings) -> BackendKind:
    if settings.openai.api_key or settings.openai.base_url:
        return "openai"
    a = settings.azure
    if a.endpoint and (a.api_key or a.use_entra_id):
        return "azure"
    return "local"


def select_backend(settings: Settings) -> Backend:
    """Build (not connect) the configured backend; raises BackendError naming the
    setting to fix when the chosen one lacks what it needs."""
    kind = settings.backend.kind
    if kind == "auto":
        chosen = auto_kind(settings)
        if chosen == "local":
            return LocalBackend(settings, notice=CLOUD_HINT)
        kind = chosen
    if kind == "openai":
        return OpenAIBackend(settings)
    if kind == "azure":
        return AzureBackend(settings)
    return LocalBackend(settings)
