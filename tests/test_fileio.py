"""`fileio.write_atomically`: all or nothing, private unless told, no temp file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from voice_tui.fileio import write_atomically


def test_text_replaces_the_file_and_is_private_by_default(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("old", encoding="utf-8")
    write_atomically(path, "new ✓\n")
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]


def test_bytes_with_a_mode(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    write_atomically(path, b"\x00\x01", mode=0o644)
    assert path.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.json"
    path.write_text("{}", encoding="utf-8")

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, '{"a": 1}')
    assert path.read_text(encoding="utf-8") == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["store.json"]


def test_a_missing_folder_is_an_error_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "absent" / "x.txt", "x")
    assert not (tmp_path / "absent").exists()
