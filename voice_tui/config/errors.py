"""Configuration errors, always naming the file, and the line and column where known."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration problem the user must fix; the message says where and what."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = message
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        super().__init__(f"{where}{message}")
