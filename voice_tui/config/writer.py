"""Change settings in the user's config file without ever corrupting or losing it.

The file is re-read, the dotted-key changes applied, the result validated with the
schema, then written with tomli-w through `fileio.write_atomically`: a crash leaves
the old file or the new one, never half of one. (tomli-w does not keep comments; every
setting is kept.)
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, SecretStr

from voice_tui.config.errors import ConfigError
from voice_tui.config.loader import (
    SECRET_KEYS,
    get_dotted,
    read_document,
    set_dotted,
    split_dotted,
    validate,
)
from voice_tui.config.toml_positions import KeyPath
from voice_tui.fileio import write_atomically

PRIVATE_MODE = 0o600

# Read-modify-write must not interleave between threads of this process.
_write_lock = threading.Lock()


def save_settings(path: Path, changes: Mapping[str, Any]) -> None:
    """Apply `{"session.voice": "shimmer", ...}` to the file at `path` (created if absent).

    A value of None removes the key (TOML has no null). Raises ConfigError, leaving the
    file untouched, when the file cannot be read or the result would not be valid.
    """
    target = _real_path(path.expanduser())
    with _write_lock:
        document = read_document(target) if target.exists() else None
        data: dict[str, Any] = copy.deepcopy(document.data) if document else {}
        origins: dict[KeyPath, str] = {}
        for dotted, value in changes.items():
            key = split_dotted(dotted)
            if value is None:
                _delete_dotted(data, key)
            else:
                set_dotted(data, key, to_toml_value(value))
            origins[key] = f"setting {dotted}"
        validate(data, document=document, origins=origins, path=target)
        holds_secret = any(get_dotted(data, key) for key in SECRET_KEYS)
        mode = PRIVATE_MODE if holds_secret or document is None else _mode_of(target)
        _atomic_write(target, tomli_w.dumps(data).encode("utf-8"), mode)


async def save_settings_async(path: Path, changes: Mapping[str, Any]) -> None:
    """`save_settings` off the event loop (file I/O and fsync can take a while)."""
    await asyncio.to_thread(save_settings, path, dict(changes))


def to_toml_value(value: Any) -> Any:
    """Plain TOML-writable data from settings values (secrets unwrapped, Nones dropped)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return to_toml_value(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_toml_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_toml_value(v) for v in value]
    return value


def _atomic_write(target: Path, payload: bytes, mode: int) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, payload, mode=mode)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror or exc}", path=target) from None


def _real_path(path: Path) -> Path:
    """Write through a symlink (dotfile managers) rather than replacing it."""
    return path.resolve() if path.is_symlink() else path


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return PRIVATE_MODE


def _delete_dotted(data: dict[str, Any], key: KeyPath) -> None:
    node: Any = data
    for part in key[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(key[-1], None)
