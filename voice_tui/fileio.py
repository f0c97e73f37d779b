"""Crash-safe file writes shared by the config writer, the journal, exports and tool stores.

A write goes to a temporary file in the target's folder, is fsynced, and is then
`os.replace`d over the target: a crash leaves the old file or the new one, never half
of either. The temporary file is private (0600) unless a mode is given.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` all at once (text is written as UTF-8).

    The folder must exist. `mode` sets the file's permissions before it takes the
    name; without it the file is 0600. Raises OSError, leaving no temporary file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a new or renamed entry itself durable; best effort, as not every platform
    can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
