"""A helper script in a process of its own (its own PortAudio, its own audio-server
environment) that reports JSON lines on stdout and takes commands on stdin."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


def emit(kind: str, **data: object) -> None:
    """One report line (the script's side)."""
    print(json.dumps({"kind": kind, **data}), flush=True)


class JsonLinesProcess:
    """The test's side: start `script`, send commands, wait for a report of a kind."""

    def __init__(
        self, script: Path, *args: str, env: dict[str, str], cwd: Path, timeout_s: float = 20
    ) -> None:
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def next(self, kind: str, timeout: float | None = None) -> dict[str, Any]:
        """The next report of `kind` (earlier reports of other kinds are dropped)."""
        while True:
            try:
                message = self.lines.get(timeout=timeout or self.timeout_s)
            except queue.Empty:
                raise AssertionError(f"the probe said no {kind!r}") from None
            if message["kind"] == kind:
                return message
