"""The terminal the app draws on, kept apart from file descriptor 2.

Textual writes the screen to `sys.__stderr__`, i.e. fd 2, the same descriptor C
libraries print their complaints to (ALSA: `underrun occurred`). While the app runs,
fd 2 goes to the log instead (`logsetup.capture_stderr`), and the app draws through the
driver made here, on a copy of the original descriptor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from textual.driver import Driver

if TYPE_CHECKING:
    from textual.app import App


def driver_on(base: type[Driver], terminal: TextIO) -> type[Driver] | None:
    """`base` (Textual's driver for this platform) drawing on `terminal`; None when
    `base` is not the POSIX terminal driver, whose output stream this knows."""
    from textual.drivers.linux_driver import LinuxDriver

    if not issubclass(base, LinuxDriver):
        return None

    class TerminalDriver(base):  # type: ignore[valid-type,misc]
        def __init__(self, app: App[Any], **kwargs: Any) -> None:
            super().__init__(app, **kwargs)
            self._file = terminal  # LinuxDriver's output stream (Textual: sys.__stderr__)

    return TerminalDriver
