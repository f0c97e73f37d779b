"""How the user takes turns, in one place for the UI: push-to-talk, mute, turn mode.

The engine owns the turn mode and whether the talk key is held (they decide what it
sends: in push-to-talk, only what is said while the key is held); `Talk` owns mute,
which it applies at the source, in the audio worker. The UI calls `Talk` for each of
them and reads them here, so there is no second copy to keep in step.
"""

from __future__ import annotations

from typing import Protocol

from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import TurnMode


class Microphone(Protocol):
    """The audio worker's switch for sending what the microphone hears (any thread)."""

    def set_muted(self, muted: bool) -> None: ...


class Talk:
    def __init__(self, engine: ConversationEngine, microphone: Microphone | None) -> None:
        self._engine = engine
        self._microphone = microphone  # None: no audio worker (audio is off)
        self._muted = False

    @property
    def turn_mode(self) -> TurnMode:
        return self._engine.turn_mode

    @property
    def talking(self) -> bool:
        """The push-to-talk key is held (a turn is being recorded)."""
        return self._engine.talking

    @property
    def muted(self) -> bool:
        return self._muted

    async def toggle_talking(self) -> bool:
        """Push-to-talk pressed: start the user's turn, or end it and ask for the answer.
        False (and nothing done) when the turn mode is not push-to-talk."""
        if self._engine.turn_mode is not TurnMode.PUSH_TO_TALK:
            return False
        if self._engine.talking:
            await self._engine.stop_talking()
        else:
            await self._engine.start_talking()
        return True

    async def set_turn_mode(self, mode: TurnMode) -> None:
        """Switch live; an open push-to-talk turn is ended (and answered) first. Raises
        EngineError when the server does not take the change."""
        if self._engine.talking and mode is not TurnMode.PUSH_TO_TALK:
            await self._engine.stop_talking()
        await self._engine.set_turn_mode(mode)

    def set_muted(self, muted: bool) -> bool:
        """Mute or unmute the microphone; False when there is none to mute."""
        if self._microphone is None:
            return False
        self._muted = muted
        self._microphone.set_muted(muted)
        return True
