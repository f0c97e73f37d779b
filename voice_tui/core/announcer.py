"""The engine's voice towards its listeners: every `AppEvent`, and the phase.

The phase only changes here, and every change is announced as `PhaseChanged`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from voice_tui.core.events import AppEvent, Phase, PhaseChanged

log = logging.getLogger(__name__)

Listener = Callable[[AppEvent], None]


class Announcer:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._phase = Phase.IDLE

    @property
    def phase(self) -> Phase:
        return self._phase

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: AppEvent) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken consumer must not stop the conversation
                log.exception("event listener failed on %s", type(event).__name__)

    def set_phase(self, phase: Phase) -> None:
        if phase is not self._phase:
            self._phase = phase
            self.emit(PhaseChanged(phase))
