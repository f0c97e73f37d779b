"""The user's side of the conversation as the server reports it: speech started and
stopped (server VAD), committed audio turns, and their transcripts, which may arrive
after the answer has begun yet keep their place in the conversation."""

from __future__ import annotations

import time
from typing import Any

from voice_tui.core import protocol as p
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.engine_base import EngineBase
from voice_tui.core.events import (
    Phase,
    SpeechStarted,
    SpeechStopped,
    UserTranscriptDelta,
    UserTranscriptFailed,
    UserTranscriptFinal,
    UserTurnStarted,
)


class UserSpeechMixin(EngineBase):
    def _on_speech_started(self, event: dict[str, Any]) -> None:
        self._user_speaking = True
        self._emit(
            SpeechStarted(p.str_field(event, "item_id"), p.int_field(event, "audio_start_ms"))
        )
        self._cut_playback()
        self._set_phase(Phase.USER_SPEAKING)

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self._user_speaking = False
        self._emit(SpeechStopped(p.str_field(event, "item_id"), p.int_field(event, "audio_end_ms")))
        self._latency_t0 = time.perf_counter()
        self._set_phase(Phase.THINKING)

    def _on_committed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        if not item_id or item_id in self._book.by_item:
            return
        self._book.release_user_turns()
        turn = Turn(Role.USER, item_id, started_at=time.time())
        self._book.add(turn)
        self._emit(UserTurnStarted(item_id, p.opt_str(event, "previous_item_id")))
        if not self.settings.session.transcription_model:
            self._book.finish(turn)
        if self.phase is Phase.USER_SPEAKING:
            self._set_phase(Phase.THINKING)

    def _user_turn(self, item_id: str) -> Turn:
        turn = self._book.by_item.get(item_id)
        if turn is None or turn.role is not Role.USER:  # never saw it committed
            turn = Turn(Role.USER, item_id, started_at=time.time())
            self._book.add(turn)
        return turn

    def _on_user_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        turn = self._user_turn(item_id)
        turn.text += delta
        self._emit(UserTranscriptDelta(item_id, delta))

    def _on_user_final(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        turn = self._user_turn(item_id)
        turn.text = p.str_field(event, "transcript", turn.text).strip()
        turn.finished_at = time.time()
        self._emit(UserTranscriptFinal(item_id, turn.text))
        self._book.finish(turn)

    def _on_user_failed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        message = p.str_field(p.obj(event, "error"), "message", "transcription failed")
        turn = self._user_turn(item_id)
        turn.finished_at = time.time()
        self._emit(UserTranscriptFailed(item_id, message))
        self._book.finish(turn)
