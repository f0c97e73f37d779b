"""Shared by the reliability tests: the fast reconnect policy, the engine factory type,
settings with the one test persona, and what a chaos server saw of a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.engine import API_KEY, MODEL, TEST_PERSONA, EngineFactory, Recorder
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import TurnCompleted
from voice_tui.core.reliability import ReconnectPolicy
from voice_tui.server.chaos import ChaosServer
from voice_tui.server.session import Session

FAST = ReconnectPolicy(
    first_delay_s=0.05,
    max_delay_s=0.4,
    max_attempts=30,
    silence_timeout_s=1.0,
    renew_after_s=None,
)

Factory = EngineFactory


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Poll a condition the engine exposes no event for (e.g. `busy`)."""
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"condition not met within {within_s} s")


def only_session(chaos: ChaosServer) -> Session:
    (session,) = chaos.sessions
    return session


def replayed(chaos: ChaosServer, session: Session) -> list[tuple[str, str]]:
    """What the client replayed into this session: (item type or role, text/call id)."""
    out: list[tuple[str, str]] = []
    for event in chaos.received_of(session, "conversation.item.create"):
        item: dict[str, Any] = event["item"]
        if item["type"] == "message":
            out.append((item["role"], item["content"][0].get("text", "")))
        else:
            out.append((item["type"], item["call_id"]))
    return out


async def answer(engine: ConversationEngine, rec: Recorder, text: str) -> str:
    mark = len(rec.events)
    await engine.send_text(text)
    done = await rec.wait_for(
        TurnCompleted,
        lambda e: e.turn.role is Role.ASSISTANT and bool(e.turn.text) and not e.turn.interrupted,
        after=mark,
    )
    return done.turn.text


def one_persona_settings(base_url: str, data_dir: Path) -> Settings:
    return Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": base_url},
            "session": {"persona": "Tester", "tool_timeout_s": 1.0},
            "tools": {"data_dir": str(data_dir)},
            "personas": [TEST_PERSONA.model_dump()],
        }
    )
