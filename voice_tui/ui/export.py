"""The "save transcript" key: the conversation as Markdown, in the journal's format."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from voice_tui.core.conversation import Turn
from voice_tui.core.usage import UsageTotals


def transcript_markdown(
    turns: list[Turn],
    totals: UsageTotals,
    *,
    session_id: str,
    backend: str,
    model: str,
    persona: str,
    when: datetime,
    persona_changes: list[tuple[float, str]] | None = None,
) -> str:
    """The same Markdown as `voice-tui history` exports, for the live conversation."""
    from voice_tui.journal.history import export_markdown
    from voice_tui.journal.journal import SessionRecord

    record = SessionRecord(
        session_id=session_id or "unsaved",
        path=Path(),
        started_at=turns[0].started_at if turns else when.timestamp(),
        backend=backend,
        model=model,
        persona=persona,
        persona_changes=list(persona_changes or []),
        turns=turns,
        ended_at=when.timestamp(),
        totals=totals,
    )
    return export_markdown(record)
