"""The engine's two exceptions: one for its callers, one between its parts."""

from __future__ import annotations


class EngineError(Exception):
    """The engine could not start or continue; `message` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OpenFailed(Exception):
    """A session could not be opened; `fatal` when retrying cannot help."""

    def __init__(self, message: str, *, fatal: bool, setting: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.setting = setting
