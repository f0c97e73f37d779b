"""What a typed line means: a message to send, or `/file PATH` (send a file's text).

Both have a limit, so nothing the user can type or paste turns into a turn the app, the
model or the journal cannot handle: a typed message holds `MAX_TYPED_CHARS` characters
(a long paragraph), a file `MAX_FILE_CHARS` (about 8,000 tokens: a page of notes, well
inside every realtime model's context). Errors are `TypedError`s whose text the user
reads as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_TYPED_CHARS = 4_000
MAX_FILE_CHARS = 32_000
FILE_COMMAND = "/file"
# UTF-8 takes at most 4 bytes a character: a bigger file cannot fit, and is not read.
_MAX_FILE_BYTES = MAX_FILE_CHARS * 4
# Control characters other than tab and newline: never part of a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|\r|\n)\s*")


class TypedError(ValueError):
    """The line cannot be sent; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What to send: the text, and the file it came from (None: typed)."""

    text: str
    source: Path | None = None


def one_line(text: str) -> str:
    """Pasted text as one input line: line breaks become spaces, control characters
    go (the line is sent as one message anyway; nothing of the words is lost)."""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", text))


def too_long_message(attempted: int | None, *, pasted: bool) -> str:
    """What the user reads when text would make the input line too long."""
    if not pasted:
        what = "A"
    elif attempted is None:  # typed out by the terminal: its length is not known
        what = "That paste is too long: a"
    else:
        what = f"That paste would make the message {attempted:,} characters long: a"
    refused = " (nothing was pasted)" if pasted else ""
    return (
        f"{what} typed message holds at most {MAX_TYPED_CHARS:,} characters{refused}. "
        f"To send a longer text, save it to a file and type {FILE_COMMAND} PATH "
        f"(up to {MAX_FILE_CHARS:,} characters)."
    )


def file_argument(line: str) -> str | None:
    """The PATH of a `/file PATH` line ("" when it is missing); None for a message."""
    stripped = line.strip()
    command, _, rest = stripped.partition(" ")
    if command != FILE_COMMAND:
        return None
    return rest.strip()


def read_message_file(argument: str, cwd: Path | None = None) -> Outgoing:
    """The text of the file `argument` names, ready to send (blocking: call it off the
    event loop). Raises TypedError naming the file and the problem."""
    if not argument:
        raise TypedError(f"{FILE_COMMAND} needs a file: {FILE_COMMAND} PATH")
    if len(argument) >= 2 and argument[0] == argument[-1] and argument[0] in "\"'":
        argument = argument[1:-1]  # a quoted path, e.g. dropped in by a file manager
    path = Path(argument).expanduser()
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise TypedError(f"{path} is a folder, not a file.")
        if size > _MAX_FILE_BYTES:
            raise TypedError(_file_too_long(path, f"{size:,} bytes"))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TypedError(f"No such file: {path}") from None
    except PermissionError:
        raise TypedError(f"Cannot read {path}: permission denied.") from None
    except OSError as exc:
        raise TypedError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if b"\x00" in raw:
        raise TypedError(f"{path} is not a text file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TypedError(f"{path} is not UTF-8 text.") from None
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise TypedError(f"{path} is empty: nothing to send.")
    if len(text) > MAX_FILE_CHARS:
        raise TypedError(_file_too_long(path, f"{len(text):,} characters"))
    return Outgoing(text, path)


def _file_too_long(path: Path, size: str) -> str:
    return f"{path} has {size}; {FILE_COMMAND} sends at most {MAX_FILE_CHARS:,} characters."
