"""Change settings in the user's config file without losing a line of it.

The file is the user's: voice-tui edits it in place with tomlkit, a round-trip TOML
library, so every comment, blank line and the order of keys and tables stay as they
were. A changed value keeps its place (and its trailing comment); a new key goes after
the last key of its table; a new table goes at the end. The result is read back with
tomllib and must say exactly what was meant (else nothing is written), validated with
the schema, then written through `fileio.write_atomically`: a crash leaves the old
file or the new one, never half of one.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, SecretStr
from tomlkit.container import Container
from tomlkit.items import InlineTable, Table

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

# What a file voice-tui creates says about itself.
NEW_FILE_HEADER = """\
# voice-tui settings (config.example.toml lists every one, with its default).
# voice-tui adds the choices you make in the app here; edit freely: your comments
# and the order of your settings are kept.
"""

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
        expected: dict[str, Any] = copy.deepcopy(document.data) if document else {}
        editable = tomlkit.parse(document.text if document else NEW_FILE_HEADER)
        origins: dict[KeyPath, str] = {}
        for dotted, value in changes.items():
            key = split_dotted(dotted)
            if value is None:
                _delete_dotted(expected, key)
                _delete_item(editable, key)
            else:
                plain = to_toml_value(value)
                set_dotted(expected, key, plain)
                _set_item(editable, key, plain)
            origins[key] = f"setting {dotted}"
        text = tomlkit.dumps(editable)
        if tomllib.loads(text) != expected:  # never write what was not meant
            raise ConfigError(
                "cannot be changed in place without changing its meaning; nothing was "
                f"written (set {', '.join(changes)} by hand)",
                path=target,
            )
        validate(expected, document=document, origins=origins, path=target)
        holds_secret = any(get_dotted(expected, key) for key in SECRET_KEYS)
        mode = PRIVATE_MODE if holds_secret or document is None else _mode_of(target)
        _atomic_write(target, text.encode("utf-8"), mode)


def _set_item(document: tomlkit.TOMLDocument, key: KeyPath, value: Any) -> None:
    """Set a value in place: an existing one keeps its line and comment; a new key goes
    after the last key of its table, before the comments and blank lines that follow
    it (they introduce the next table); a missing table is added at the end."""
    node: Any = document
    for part in key[:-1]:
        name = str(part)
        if name not in node:
            node[name] = tomlkit.table()
        node = node[name]
    name = str(key[-1])
    if name not in node and isinstance(node, Table) and not node.is_super_table():
        body = node.value.body
        after_last_key = 1 + max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
        if after_last_key < len(body):  # comments or blank lines follow the last key
            node.value._insert_at(after_last_key, name, tomlkit.item(value))
            return
    node[name] = value


def _delete_item(document: tomlkit.TOMLDocument, key: KeyPath) -> None:
    node: Any = document
    for part in key[:-1]:
        node = node.get(str(part)) if isinstance(node, Container | Table | InlineTable) else None
        if node is None:
            return
    if isinstance(node, Container | Table | InlineTable) and str(key[-1]) in node:
        del node[str(key[-1])]


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
