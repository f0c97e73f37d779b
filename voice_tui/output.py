"""Standard output that says so when it cannot be written.

A command's output may go to a pipe whose reader has gone (`voice-tui history | head`)
or to a full disk (`> /dev/full`). Print calls deep inside a command would raise an
OSError that looks like any other; `GuardedOutput` turns a failed write to stdout into
`OutputError`, which no `except OSError` on the way up mistakes for a file of its own,
and which the command line reports in one line.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO


class OutputError(Exception):
    """Standard output cannot be written (a closed pipe, a full disk)."""

    def __init__(self, error: OSError) -> None:
        self.error = error
        super().__init__(f"cannot write to standard output: {error.strerror or error}")

    @property
    def reader_gone(self) -> bool:
        """The reader closed the pipe (`| head`): nothing is wrong, there is no one to tell."""
        return isinstance(self.error, BrokenPipeError) or self.error.errno == errno.EPIPE


class GuardedOutput(io.TextIOBase):
    """A text stream over another that raises `OutputError` when a write fails."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # a property in TextIOBase's stub
        return self._stream.encoding


@contextlib.contextmanager
def guarded_stdout() -> Iterator[GuardedOutput]:
    """`sys.stdout` guarded while the block runs; the original afterwards."""
    original = sys.stdout
    guard = GuardedOutput(original)
    sys.stdout = guard
    try:
        yield guard
    finally:
        sys.stdout = original


def discard_stdout(stream: TextIO) -> None:
    """Point the failed stream's file descriptor at /dev/null, so what is still buffered
    for it cannot fail again (with a traceback) when the interpreter exits. A stream
    without a descriptor of its own (a test's capture) is left alone."""
    with contextlib.suppress(OSError, ValueError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
