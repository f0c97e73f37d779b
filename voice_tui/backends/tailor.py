"""The session settings a backend's model can take, and what the user should know.

A model that does not reason gets no `reasoning` / `parallel_tool_calls`; Azure's input
transcription names a deployment; a model being shut down gets a notice naming the date
and the replacement (voice_tui/config/models.py).
"""

from __future__ import annotations

from voice_tui.backends.base import Backend
from voice_tui.config.models import (
    REASONING_MODELS,
    deprecation_notice,
    transcription_deprecation_notice,
)
from voice_tui.config.schema import Settings


def tailor_settings(settings: Settings, backend: Backend) -> tuple[Settings, list[str]]:
    """`settings` as this backend's sessions should use them, and notices (one line each)."""
    notices: list[str] = []
    session = settings.session
    transcription = session.transcription_model
    if backend.name == "azure":
        azure = settings.azure
        transcription = azure.transcription_deployment or transcription
        known = backend.model_id in REASONING_MODELS or backend.model_id in settings.pricing
        if azure.model is None and not known:
            notices.append(
                f"Set azure.model to the model of deployment {backend.model!r} (e.g. "
                "gpt-realtime-2.1): voice-tui prices turns and sets the reasoning effort by it."
            )
        notice = deprecation_notice(backend.model_id, "azure.model, and redeploy")
        if notice:
            notices.append(notice)
        if azure.transcription_deployment is None:
            notice = transcription_deprecation_notice(
                transcription, "azure.transcription_deployment"
            )
            if notice:
                notices.append(notice)
    elif backend.name == "openai":
        notice = deprecation_notice(backend.model_id, "backend.model or --model")
        if notice:
            notices.append(notice)
        notice = transcription_deprecation_notice(transcription, "session.transcription_model")
        if notice:
            notices.append(notice)
    effort = session.reasoning_effort if backend.model_id in REASONING_MODELS else None
    if effort != session.reasoning_effort or transcription != session.transcription_model:
        session = session.model_copy(
            update={"reasoning_effort": effort, "transcription_model": transcription}
        )
        settings = settings.model_copy(update={"session": session})
    return settings, notices
