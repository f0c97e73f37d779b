"""A small JSON document on disk that tools read and update safely.

Updates are read-modify-write under two locks: an asyncio lock (tool calls of one
registry) and an advisory file lock (other registries and other voice-tui processes), and
the file is replaced atomically (`fileio.write_atomically`), so a crash never leaves
half a file. A file that cannot be parsed is never overwritten: the tool reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from voice_tui.core.tools.registry import ToolError
from voice_tui.fileio import write_atomically

try:  # POSIX; elsewhere the asyncio lock alone serialises this process's calls
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")
Document = dict[str, Any]


class JsonFileStore:
    def __init__(self, path: Path, list_key: str) -> None:
        self.path = path
        self.list_key = list_key  # the document is {"version": 1, list_key: [...]}
        self._lock = asyncio.Lock()

    async def read(self) -> Document:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._load)

    async def update(self, change: Callable[[Document], T]) -> T:
        """Apply `change` to the current document and save it; `change` may raise ToolError
        to refuse (then nothing is written)."""

        def work() -> T:
            document = self._load()
            result = change(document)
            self._save(document)
            return result

        async with self._lock:
            return await asyncio.to_thread(self._locked, work)

    def _locked(self, work: Callable[[], T]) -> T:
        with self._file_lock():
            return work()

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        except OSError as exc:
            raise ToolError(f"cannot use the data folder {self.path.parent}: {exc}") from exc
        with handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield  # the lock is released when the handle closes

    def _load(self) -> Document:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": 1, self.list_key: []}
        except OSError as exc:
            raise ToolError(f"cannot read {self.path}: {exc}") from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"{self.path} is damaged ({exc}); it was left untouched, fix or move it to continue"
            ) from exc
        if not isinstance(document, dict) or not isinstance(document.get(self.list_key), list):
            raise ToolError(
                f"{self.path} does not hold a {self.list_key!r} list; it was left untouched"
            )
        return document

    def _save(self, document: Document) -> None:
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        try:
            write_atomically(self.path, text)
        except OSError as exc:
            raise ToolError(f"cannot save {self.path}: {exc}") from exc
