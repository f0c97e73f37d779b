"""UI choices (persona, turn mode, devices, echo handling, theme) saved to the user's
config file, edited in place so the user's comments and order stay (config/writer.py).

Choices arrive on the event loop; the file is written on a worker thread. Changes that
pile up while a write is under way are merged, and writes never overlap, so the newest
value of each setting is the one that ends up in the file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ChoiceSaver:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def add(self, changes: Mapping[str, Any]) -> None:
        """Any thread: queue dotted-key changes for the next write."""
        with self._pending_lock:
            self._pending.update(changes)

    def write_pending(self) -> None:
        """Worker thread: write what is queued (atomically; raises ConfigError)."""
        from voice_tui.config.writer import save_settings

        with self._write_lock:
            with self._pending_lock:
                changes, self._pending = self._pending, {}
            if changes:
                save_settings(self.path, changes)
