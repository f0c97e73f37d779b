"""The user's side of the conversation: how turns are taken (the turn mode, push-to-talk
held or not), speech as the server's VAD reports it, committed audio turns and their
transcripts (which may arrive after the answer has begun yet keep their place), typed
turns, and when the user's turn ended (for the answer's latency)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from voice_tui.config.schema import Settings
from voice_tui.core import protocol as p
from voice_tui.core.announcer import Announcer
from voice_tui.core.connection import Connection, Handler
from voice_tui.core.conversation import Role, Turn
from voice_tui.core.events import (
    Notice,
    Phase,
    SpeechStarted,
    SpeechStopped,
    TurnMode,
    UserTextSent,
    UserTranscriptDelta,
    UserTranscriptFailed,
    UserTranscriptFinal,
    UserTurnStarted,
)
from voice_tui.core.turnbook import TurnBook

MIN_COMMIT_MS = 100  # the server rejects a commit of less audio than this


def rest_phase(mode: TurnMode) -> Phase:
    return Phase.IDLE if mode is TurnMode.PUSH_TO_TALK else Phase.LISTENING


class UserSpeech:
    def __init__(
        self,
        settings: Settings,
        announcer: Announcer,
        connection: Connection,
        book: TurnBook,
        barge_in: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._announcer = announcer
        self._connection = connection
        self._book = book
        self._barge_in = barge_in  # stops the assistant when the user starts speaking
        self._turn_mode = TurnMode(settings.session.turn_detection)
        self._talking = False  # push-to-talk held
        self._talk_bytes = 0  # audio sent while it was held
        self._speaking = False  # the server's VAD hears the user
        self._turn_ended_at: float | None = None  # perf_counter; the answer's latency

    def handlers(self) -> dict[str, Handler]:
        return {
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_delta,
            "conversation.item.input_audio_transcription.completed": self._on_final,
            "conversation.item.input_audio_transcription.failed": self._on_failed,
        }

    @property
    def turn_mode(self) -> TurnMode:
        return self._turn_mode

    @property
    def speaking(self) -> bool:
        """The server's VAD hears the user."""
        return self._speaking

    @property
    def talking(self) -> bool:
        """The push-to-talk key is held."""
        return self._talking

    def rest_phase(self) -> Phase:
        return rest_phase(self._turn_mode)

    def set_turn_mode(self, mode: TurnMode) -> None:
        self._turn_mode = mode
        self._talking = False

    def connection_lost(self) -> None:
        """Speech the old session heard ends with it; so do its transcripts."""
        self._speaking = False
        self._book.release_user_turns()

    # ------------------------------------------------------------ the answer's latency

    def turn_ended(self) -> None:
        self._turn_ended_at = time.perf_counter()

    @property
    def latency_running(self) -> bool:
        return self._turn_ended_at is not None

    def take_latency(self) -> float | None:
        """Seconds from the end of the user's turn to now, once per turn."""
        if self._turn_ended_at is None:
            return None
        latency, self._turn_ended_at = time.perf_counter() - self._turn_ended_at, None
        return latency

    # ------------------------------------------------------------ push-to-talk and audio

    def start_talking(self) -> None:
        """Push-to-talk pressed: a fresh input buffer (nothing in other modes)."""
        if self._turn_mode is not TurnMode.PUSH_TO_TALK:
            return
        self._talking = True
        self._talk_bytes = 0
        self._clear_input()
        self._announcer.set_phase(Phase.USER_SPEAKING)

    def stop_talking(self) -> bool:
        """Push-to-talk released: True when enough was said to commit it."""
        if self._turn_mode is not TurnMode.PUSH_TO_TALK or not self._talking:
            return False
        self._talking = False
        if self._talk_bytes < MIN_COMMIT_MS * p.BYTES_PER_MS:
            self._clear_input()
            self._announcer.emit(Notice("Nothing was recorded: hold the talk key while you speak."))
            self._announcer.set_phase(self.rest_phase())
            return False
        return True

    def send_audio(self, pcm: bytes) -> bool:
        """Microphone audio; in push-to-talk only while the key is held."""
        if not self._connection.live or not pcm:
            return False
        if self._turn_mode is TurnMode.PUSH_TO_TALK:
            if not self._talking:
                return False
            self._talk_bytes += len(pcm)
        return self._connection.send_audio(pcm)

    def commit(self) -> None:
        """End the user's turn now, whatever the turn detection."""
        self._connection.send(
            "input_audio_buffer.commit", lambda eid: p.simple("input_audio_buffer.commit", eid)
        )
        self.turn_ended()

    def _clear_input(self) -> None:
        self._connection.send(
            "input_audio_buffer.clear", lambda eid: p.simple("input_audio_buffer.clear", eid)
        )

    def send_text(self, text: str) -> None:
        """A typed user turn: sent, remembered, announced."""
        item_id = "item_vt" + uuid.uuid4().hex[:20]
        self._book.release_user_turns()  # the user moved on: no transcript holds them
        self._connection.send(
            "conversation.item.create", lambda eid: p.user_text_item(item_id, text, eid)
        )
        now = time.time()
        turn = Turn(Role.USER, item_id, text=text, typed=True, started_at=now, finished_at=now)
        self._book.add(turn)
        self._announcer.emit(UserTextSent(item_id, text))
        self._book.finish(turn)
        self.turn_ended()

    # ------------------------------------------------------------ server events

    def _on_speech_started(self, event: dict[str, Any]) -> None:
        self._speaking = True
        self._announcer.emit(
            SpeechStarted(p.str_field(event, "item_id"), p.int_field(event, "audio_start_ms"))
        )
        self._barge_in()
        self._announcer.set_phase(Phase.USER_SPEAKING)

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self._speaking = False
        self._announcer.emit(
            SpeechStopped(p.str_field(event, "item_id"), p.int_field(event, "audio_end_ms"))
        )
        self.turn_ended()
        self._announcer.set_phase(Phase.THINKING)

    def _on_committed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        if not item_id or item_id in self._book.by_item:
            return
        self._book.release_user_turns()
        turn = Turn(Role.USER, item_id, started_at=time.time())
        self._book.add(turn)
        self._announcer.emit(UserTurnStarted(item_id, p.opt_str(event, "previous_item_id")))
        if not self._settings.session.transcription_model:
            self._book.finish(turn)
        if self._announcer.phase is Phase.USER_SPEAKING:
            self._announcer.set_phase(Phase.THINKING)

    def _user_turn(self, item_id: str) -> Turn:
        turn = self._book.by_item.get(item_id)
        if turn is None or turn.role is not Role.USER:  # never saw it committed
            turn = Turn(Role.USER, item_id, started_at=time.time())
            self._book.add(turn)
        return turn

    def _on_delta(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        delta = p.str_field(event, "delta")
        turn = self._user_turn(item_id)
        turn.add_text(delta)
        self._announcer.emit(UserTranscriptDelta(item_id, delta))

    def _on_final(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        turn = self._user_turn(item_id)
        turn.set_text(p.str_field(event, "transcript", turn.text).strip())
        turn.finish(time.time())
        self._announcer.emit(UserTranscriptFinal(item_id, turn.text))
        self._book.finish(turn)

    def _on_failed(self, event: dict[str, Any]) -> None:
        item_id = p.str_field(event, "item_id")
        message = p.str_field(p.obj(event, "error"), "message", "transcription failed")
        turn = self._user_turn(item_id)
        turn.finish(time.time())
        self._announcer.emit(UserTranscriptFailed(item_id, message))
        self._book.finish(turn)
