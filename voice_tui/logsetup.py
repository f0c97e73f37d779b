"""Logging for an app that owns the terminal.

While the TUI runs, nothing may be written to the terminal: a stray stderr line would
tear the screen. So the root logger gets exactly two kinds of handler:

- always, a collector that keeps warnings and errors (redacted) for the UI to show;
- with `--log-file`, a DEBUG file handler (owner-only permissions), including the
  openai SDK's and websockets' debug output, with every secret redacted, tracebacks too.

Crash output goes through the redactor as well (`sys.excepthook`, `threading.excepthook`).
"""

from __future__ import annotations

import collections
import io
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from voice_tui.redact import (
    RedactingFilter,
    RedactingFormatter,
    Redactor,
    set_default_redactor,
)

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_COLLECTED = 200

# Loggers worth DEBUG in a debug log: ours, the SDK (its websocket handshake logs
# go through it), and the websocket library itself.
DEBUG_LOGGERS = ("voice_tui", "openai", "websockets")

# Told the level name ("WARNING", "ERROR"...) and the redacted message.
WarningListener = Callable[[str, str], None]


class CollectingHandler(logging.Handler):
    """Keeps the latest warnings (already redacted by its filter) for the UI and tells
    an optional listener. The listener may be called from any thread."""

    def __init__(self, redactor: Redactor, maxlen: int = MAX_COLLECTED) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: collections.deque[str] = collections.deque(maxlen=maxlen)
        self.listener: WarningListener | None = None
        self.addFilter(RedactingFilter(redactor))
        self.setFormatter(RedactingFormatter(redactor, "%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()  # the message, without a traceback, for the UI
            self.messages.append(text)
            listener = self.listener
            if listener is not None:
                listener(record.levelname, text)
        except Exception:
            self.handleError(record)


class LoggingSetup:
    """What `setup_logging` installed; `close()` puts the previous state back."""

    def __init__(
        self,
        redactor: Redactor,
        collector: CollectingHandler,
        file_handler: logging.Handler | None,
        log_file: Path | None,
    ) -> None:
        self.redactor = redactor
        self.collector = collector
        self.file_handler = file_handler
        self.log_file = log_file
        root = logging.getLogger()
        self._saved_root_handlers = list(root.handlers)
        self._saved_root_level = root.level
        self._saved_levels = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
        self._saved_excepthook = sys.excepthook
        self._saved_thread_excepthook = threading.excepthook
        self._saved_raise_exceptions = logging.raiseExceptions
        self.previous_redactor: Redactor | None = None

    @property
    def warnings(self) -> list[str]:
        return list(self.collector.messages)

    def set_warning_listener(self, listener: WarningListener | None) -> None:
        self.collector.listener = listener

    def close(self) -> None:
        root = logging.getLogger()
        for handler in (self.collector, self.file_handler):
            if handler is not None:
                root.removeHandler(handler)
                handler.close()
        for handler in self._saved_root_handlers:
            root.addHandler(handler)
        root.setLevel(self._saved_root_level)
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
        sys.excepthook = self._saved_excepthook
        threading.excepthook = self._saved_thread_excepthook
        logging.raiseExceptions = self._saved_raise_exceptions
        logging.captureWarnings(False)
        set_default_redactor(self.previous_redactor)


def _open_owner_only(path: Path) -> logging.FileHandler:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create it 0600 before logging opens it: a debug log is a private record.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return logging.FileHandler(path, mode="a", encoding="utf-8")


def setup_logging(log_file: Path | None, redactor: Redactor) -> LoggingSetup:
    """Configure the root logger for the whole process (see the module docstring).

    Raises OSError when `log_file` cannot be opened: the user asked for it explicitly,
    so the caller reports that instead of silently running without it.
    """
    root = logging.getLogger()
    file_handler: logging.Handler | None = None
    if log_file is not None:
        file_handler = _open_owner_only(log_file)
        file_handler.setLevel(logging.DEBUG)
        file_handler.addFilter(RedactingFilter(redactor))
        file_handler.setFormatter(RedactingFormatter(redactor, LOG_FORMAT, DATE_FORMAT))

    collector = CollectingHandler(redactor)
    setup = LoggingSetup(redactor, collector, file_handler, log_file)

    # Anything already on the root (OPENAI_LOG's basicConfig, say) writes to the
    # terminal, unredacted: replace it.
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(collector)
    if file_handler is not None:
        root.addHandler(file_handler)
        root.setLevel(logging.DEBUG)
        for name in DEBUG_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
    else:
        root.setLevel(logging.WARNING)

    setup.previous_redactor = set_default_redactor(redactor)  # journal, exports
    logging.raiseExceptions = False  # a failing handler must not print to the terminal
    logging.captureWarnings(True)  # `warnings.warn` output goes to the collector too
    _install_crash_hooks(redactor)
    return setup


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what is written before passing it on: for consoles
    that print crash reports, such as a Textual app's `error_console`."""

    def __init__(self, target: TextIO, redactor: Redactor) -> None:
        super().__init__()
        self._target = target
        self._redactor = redactor

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write(self._redactor.redact(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()


def format_exception_redacted(
    redactor: Redactor,
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
) -> str:
    return redactor.redact("".join(traceback.format_exception(exc_type, exc, tb)))


def _install_crash_hooks(redactor: Redactor) -> None:
    """Uncaught exceptions: log them (to the file, redacted) and print them redacted."""
    crash_log = logging.getLogger("voice_tui.crash")

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        crash_log.critical("uncaught exception", exc_info=(exc_type, exc, tb))
        sys.stderr.write(format_exception_redacted(redactor, exc_type, exc, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        exc = args.exc_value if args.exc_value is not None else args.exc_type()
        name = args.thread.name if args.thread is not None else "?"
        # A thread dying is not a crash of the app: log it; the UI shows the warning.
        crash_log.error(
            "uncaught exception in thread %s",
            name,
            exc_info=(args.exc_type, exc, args.exc_traceback),
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
