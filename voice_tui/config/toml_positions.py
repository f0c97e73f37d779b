"""Where each key of a TOML document is written: line and column, for error messages.

`tomllib` gives values but no positions, so validation errors (which know only a key
path such as `("personas", 2, "voice")`) are placed back in the file by this small
scanner. It understands headers, array-of-tables indexes, dotted and quoted keys,
inline tables and array elements (`("personas", 0, "tools", 2)` is the third tool's
name), and skips strings of all four kinds without interpreting them. It never
raises: on text it cannot follow it returns what it found.
"""

from __future__ import annotations

import contextlib
import tomllib
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


class _Malformed(Exception):
    """The scanner lost track of the syntax; stop and keep what was found."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.positions: dict[KeyPath, Position] = {}
        # Array-of-tables: resolved path of the array -> index of its latest element.
        self.array_index: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.first_duplicate: Position | None = None
        self.explicit: set[KeyPath] = set()  # defined by a header or a key, not implied

    # -- low-level helpers -------------------------------------------------------------
    def position(self, offset: int) -> Position:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Position(line, column)

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.text[j] if j < len(self.text) else ""

    def skip_inline_space(self) -> None:
        while self.peek() in (" ", "\t"):
            self.i += 1

    def skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def record(self, path: KeyPath, offset: int) -> None:
        """An explicit definition; a second one of the same path is TOML's duplicate."""
        if path in self.explicit:
            if self.first_duplicate is None:
                self.first_duplicate = self.position(offset)
            return
        self.explicit.add(path)
        self.positions[path] = self.position(offset)

    def imply(self, path: KeyPath, offset: int) -> None:
        """A table implied by a dotted key or header, e.g. `a` in `[a.b]`."""
        for end in range(1, len(path)):
            self.positions.setdefault(path[:end], self.position(offset))

    # -- strings and values ------------------------------------------------------------
    def skip_string(self) -> str:
        """Skip a string at `self.i`; return its raw source text (quotes included)."""
        start = self.i
        quote = self.peek()
        escapes = quote == '"'
        if self.text.startswith(quote * 3, self.i):
            end = self._find_closing(quote * 3, start + 3, escapes=escapes) + 3
            # In `""""` or `"""""` the first one or two quotes are content.
            extra = 0
            while extra < 2 and self.text.startswith(quote, end + extra):
                extra += 1
            self.i = end + extra
        else:
            self.i = self._find_closing(quote, start + 1, escapes=escapes) + 1
        return self.text[start : self.i]

    def _find_closing(self, delimiter: str, j: int, *, escapes: bool) -> int:
        text = self.text
        multiline = len(delimiter) == 3
        while j < len(text):
            c = text[j]
            if escapes and c == "\\":
                j += 2
                continue
            if c == "\n" and not multiline:
                raise _Malformed
            if text.startswith(delimiter, j):
                return j
            j += 1
        raise _Malformed

    def skip_space_and_comments(self) -> None:
        """Inside arrays (and lenient inline tables) newlines and comments may appear."""
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                self.skip_to_line_end()
            else:
                return

    def parse_value(self, path: KeyPath) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.skip_string()
        elif c == "{":
            self.parse_inline_table(path)
        elif c == "[":
            self.parse_array(path)
        else:  # numbers, booleans, dates: up to the next delimiter
            while self.i < len(self.text) and self.peek() not in ",]}\n#":
                self.i += 1

    def parse_array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip_space_and_comments()
            if self.peek() == "]":
                self.i += 1
                return
            if not self.peek():
                raise _Malformed
            self.record((*path, index), self.i)
            self.parse_value((*path, index))
            index += 1
            self.skip_space_and_comments()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "]":
                raise _Malformed

    def parse_inline_table(self, path: KeyPath) -> None:
        self.i += 1
        while True:
            self.skip_space_and_comments()
            if self.peek() == "}":
                self.i += 1
                return
            self.parse_assignment(path)
            self.skip_space_and_comments()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "}":
                raise _Malformed

    # -- keys and headers --------------------------------------------------------------
    def parse_key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with the offset where it starts."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_inline_space()
            start = self.i
            c = self.peek()
            if c in ('"', "'"):
                raw = self.skip_string()
                try:
                    parts.append((str(tomllib.loads(f"k = {raw}")["k"]), start))
                except tomllib.TOMLDecodeError as exc:
                    raise _Malformed from exc
            else:
                while self.peek() in _BARE_KEY_CHARS and self.peek():
                    self.i += 1
                if self.i == start:
                    raise _Malformed
                parts.append((self.text[start : self.i], start))
            self.skip_inline_space()
            if self.peek() != ".":
                return parts
            self.i += 1

    def resolve(self, names: list[str]) -> KeyPath:
        """A header's names with the current index of each array of tables inserted."""
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in self.array_index:
                path = (*path, self.array_index[path])
        return path

    def parse_header(self) -> None:
        start = self.i
        is_array = self.text.startswith("[[", self.i)
        self.i += 2 if is_array else 1
        parts = self.parse_key()
        names = [name for name, _ in parts]
        self.i += 2 if is_array else 1
        if is_array:
            array_path = (*self.resolve(names[:-1]), names[-1])
            index = self.array_index.get(array_path, -1) + 1
            self.array_index[array_path] = index
            self.table = (*array_path, index)
            self.positions.setdefault(array_path, self.position(start))
            self.record(self.table, start)
        else:
            self.table = self.resolve(names)
            self.record(self.table, start)
        self.imply(self.table, start)

    def parse_assignment(self, table: KeyPath) -> None:
        """`key = value` within `table`: record the key, then the keys inside the value."""
        parts = self.parse_key()
        path = (*table, *(name for name, _ in parts))
        for end in range(len(table) + 1, len(path)):
            self.positions.setdefault(path[:end], self.position(parts[0][1]))
        self.record(path, parts[-1][1])
        if self.peek() != "=":
            raise _Malformed
        self.i += 1
        self.skip_inline_space()
        self.parse_value(path)

    def scan(self) -> None:
        while True:
            self.skip_space_and_comments()
            if self.i >= len(self.text):
                return
            if self.peek() == "[":
                self.parse_header()
                self.skip_to_line_end()
            else:
                self.parse_assignment(self.table)


@dataclass(frozen=True)
class KeyPositions:
    """Positions of the keys, tables and array-of-tables elements of one document."""

    positions: dict[KeyPath, Position]
    first_duplicate: Position | None  # where a key or table is defined a second time

    def find(self, path: KeyPath) -> tuple[Position, KeyPath] | None:
        """The position of `path`, else of its nearest written ancestor (and which)."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found, path[:end]
        return None


def key_positions(text: str) -> KeyPositions:
    scanner = _Scanner(text)
    with contextlib.suppress(_Malformed, IndexError):
        scanner.scan()
    return KeyPositions(scanner.positions, scanner.first_duplicate)
