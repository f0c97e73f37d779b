"""The session journal: one JSONL file per session, a line per finished turn.

File layout (`<sessions dir>/<YYYYmmddTHHMMSSZ>-<8 hex>.jsonl`, mode 0600):

    {"type": "session", ...}      header: id, start, backend, model, persona, version
    {"type": "turn", "turn": {...}}   one per finished turn (`Turn.to_json()`), in order;
                                      "resumed": true for turns carried over by --resume
    {"type": "persona", "at", "name"}  the persona changed (the header names the first)
    {"type": "amend", "turn": {...}}  a turn written earlier, as it is now: an answer cut
                                      while it still played (interrupted, with the heard
                                      part); it replaces the earlier turn of that item_id
    {"type": "end", ...}          on a clean close: end time, reason, usage totals

Each line is written with one `write()` to an O_APPEND descriptor and fsynced before
`on_event` returns, so a crash or `kill -9` loses at most the turn in progress; a
reader skips a truncated last line. Any OSError (full disk, unwritable directory)
disables the journal with one warning: the conversation itself goes on.

Writes happen on the caller's thread (the event loop). A turn is a few hundred bytes
every few seconds, and `fsync` of that is far cheaper than the guarantee is worth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voice_tui import __version__
from voice_tui.config.paths import data_dir
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Turn
from voice_tui.core.events import (
    AppEvent,
    ConversationEnded,
    PersonaApplied,
    ResponseFinished,
    TurnAmended,
    TurnCompleted,
)
from voice_tui.core.usage import TurnUsage, UsageTotals
from voice_tui.fileio import fsync_directory
from voice_tui.redact import Redactor, default_redactor

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX = ".jsonl"

WarningCallback = Callable[[str], None]


def default_sessions_dir(
    settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """`journal.dir` from the config when set, else `<user data dir>/sessions`."""
    if settings is not None and settings.journal.dir:
        return Path(settings.journal.dir).expanduser()
    return data_dir(env) / "sessions"


def new_session_id(started_at: float) -> str:
    stamp = datetime.fromtimestamp(started_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """What the header records about a session. Never holds keys."""

    backend: str
    model: str
    persona: str
    started_at: float = field(default_factory=time.time)
    resumed_from: str | None = None  # the session `--resume` continued


class Journal:
    """Appends finished turns of one session. Subscribe `on_event` to the engine."""

    def __init__(
        self,
        session_id: str,
        path: Path | None,
        fd: int | None,
        meta: SessionMeta,
        on_warning: WarningCallback | None,
        redactor: Redactor | None,
    ) -> None:
        self.session_id = session_id
        self.path = path
        self.meta = meta
        self.turns_written = 0
        self.warning: str | None = None  # set when journaling was disabled by an error
        self._fd = fd
        self._on_warning = on_warning
        self._redactor = redactor if redactor is not None else default_redactor()
        self._lock = threading.Lock()
        self._totals: UsageTotals | None = None
        self._end_reason = ""

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path | None,
        meta: SessionMeta,
        *,
        on_warning: WarningCallback | None = None,
        redactor: Redactor | None = None,
        resumed_turns: Iterable[Turn] = (),
    ) -> Journal:
        """Create the session file and write its header (and any turns carried over by
        `--resume`, so every file holds its whole conversation). Never raises for I/O
        errors: the journal is then disabled and `on_warning` told once.

        Every line goes through `redactor` (default: the process's, see
        `redact.default_redactor`)."""
        directory = default_sessions_dir() if directory is None else directory
        session_id = new_session_id(meta.started_at)
        journal = cls(session_id, None, None, meta, on_warning, redactor)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{session_id}{SUFFIX}"
            # 0600: a conversation is private. O_EXCL: never append to someone else's file.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            journal._disable(f"cannot create a session file in {directory}", exc)
            return journal
        journal.path, journal._fd = path, fd
        fsync_directory(directory)  # the new name itself survives a power cut
        lines = [journal._header()]
        lines += [{"type": "turn", "resumed": True, "turn": t.to_json()} for t in resumed_turns]
        journal._write(lines)
        return journal

    @classmethod
    def disabled(cls, meta: SessionMeta) -> Journal:
        """A journal that writes nothing (`journal.enabled = false`)."""
        return cls(new_session_id(meta.started_at), None, None, meta, None, None)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    # -- writing -----------------------------------------------------------------

    def on_event(self, event: AppEvent) -> None:
        """Engine listener (called on the loop)."""
        if isinstance(event, TurnCompleted):
            self.append_turn(event.turn)
        elif isinstance(event, TurnAmended):
            self.amend_turn(event.turn)
        elif isinstance(event, ResponseFinished):
            self._totals = event.totals
        elif isinstance(event, PersonaApplied):
            self._write([{"type": "persona", "at": time.time(), "name": event.name}])
        elif isinstance(event, ConversationEnded):
            self._end_reason = event.reason

    def append_turn(self, turn: Turn) -> None:
        if self._write([{"type": "turn", "turn": turn.to_json()}]):
            self.turns_written += 1

    def amend_turn(self, turn: Turn) -> None:
        """`turn` was written already and has changed since (cut while it played)."""
        self._write([{"type": "amend", "turn": turn.to_json()}])

    def close(self, totals: UsageTotals | None = None, reason: str | None = None) -> None:
        """Write the closing line (usage totals) and close the file. Idempotent."""
        with self._lock:
            if self._fd is None:
                return
        totals = totals if totals is not None else self._totals
        end = {
            "type": "end",
            "ended_at": time.time(),
            "reason": reason if reason is not None else self._end_reason,
            "turns": self.turns_written,
            "totals": _totals_json(totals) if totals is not None else None,
        }
        self._write([end])
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as exc:  # e.g. a deferred write error surfacing on close
                self._warn(f"the journal {self.path} may be incomplete", exc)

    def _header(self) -> dict[str, Any]:
        m = self.meta
        return {
            "type": "session",
            "format": FORMAT_VERSION,
            "session_id": self.session_id,
            "started_at": m.started_at,
            "started": datetime.fromtimestamp(m.started_at, UTC).isoformat(),
            "backend": m.backend,
            "model": m.model,
            "persona": m.persona,
            "resumed_from": m.resumed_from,
            "voice_tui_version": __version__,
        }

    def _write(self, records: list[dict[str, Any]]) -> bool:
        text = "".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
        )
        data = self._redactor.redact(text).encode("utf-8")
        with self._lock:
            fd = self._fd
            if fd is None:
                return False
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked (signals, pipes)
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as exc:
                self._fd = None
                _close_quietly(fd)
                failure: OSError | None = exc
            else:
                failure = None
        if failure is not None:
            self._disable(f"cannot write to {self.path}", failure)
            return False
        return True

    def _disable(self, what: str, exc: OSError) -> None:
        self._warn(
            f"Journal disabled: {what} ({exc.strerror or exc}). The conversation goes on", exc
        )

    def _warn(self, message: str, exc: OSError) -> None:
        if self.warning is not None:
            return  # one warning per session is enough
        self.warning = message if message.startswith("Journal") else f"Journal: {message}"
        report_warning(self.warning, exc, self._on_warning)


def report_warning(message: str, exc: OSError, on_warning: WarningCallback | None) -> None:
    """One user-facing warning: through the callback when there is one (the traceback
    then goes to the debug log only, so a callback that logs does not double it)."""
    log.log(logging.DEBUG if on_warning else logging.WARNING, "%s", message, exc_info=exc)
    if on_warning is not None:
        on_warning(message)


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _totals_json(totals: UsageTotals) -> dict[str, Any]:
    return {
        "turns": totals.turns,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cost_usd": totals.cost_usd,
        "reasoning_tokens": totals.reasoning_tokens,
        "priced": totals.priced,
    }


# -- reading -------------------------------------------------------------------


@dataclass(slots=True)
class SessionRecord:
    """One journal file read back."""

    session_id: str
    path: Path
    started_at: float = 0.0
    backend: str = ""
    model: str = ""
    persona: str = ""
    resumed_from: str | None = None
    voice_tui_version: str = ""
    turns: list[Turn] = field(default_factory=list)
    resumed_turns: int = 0  # how many of `turns` were carried over from `resumed_from`
    ended_at: float | None = None  # None: the session did not close cleanly
    end_reason: str = ""
    totals: UsageTotals | None = None
    problems: list[str] = field(default_factory=list)  # lines that could not be read
    # Each change of persona after the first (`persona`): (when, the new persona).
    persona_changes: list[tuple[float, str]] = field(default_factory=list)

    @property
    def new_turns(self) -> list[Turn]:
        return self.turns[self.resumed_turns :]

    @property
    def first_user_words(self) -> str:
        for turn in self.new_turns or self.turns:
            if turn.role.value == "user" and turn.text.strip():
                return turn.text.strip()
        return ""


def read_session(path: Path) -> SessionRecord:
    """Read a journal file, tolerating a truncated last line (a crash mid-write) and
    skipping, with a note in `problems`, any other line it cannot understand.
    Raises OSError only when the file itself cannot be read."""
    raw = path.read_bytes()
    record = SessionRecord(session_id=path.name.removesuffix(SUFFIX), path=path)
    lines = raw.split(b"\n")
    complete = raw.endswith(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last = number == len(lines)
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise JournalLineError("not a JSON object")
            _apply_line(record, data)
        except ValueError as exc:  # JSONDecodeError and JournalLineError are ValueErrors
            if is_last and not complete:
                record.problems.append(f"line {number}: truncated (the session was cut off)")
            else:
                record.problems.append(f"line {number}: skipped ({exc})")
    return record


class JournalLineError(ValueError):
    """A line of valid JSON that is not what the journal writes."""


def _apply_line(record: SessionRecord, data: dict[str, Any]) -> None:
    """Apply one line; raises JournalLineError, changing nothing, when its shape is wrong."""
    kind = data.get("type")
    if kind == "session":
        record.session_id = _text(data, "session_id") or record.session_id
        record.started_at = _number(data, "started_at")
        record.backend = _text(data, "backend")
        record.model = _text(data, "model")
        record.persona = _text(data, "persona")
        record.resumed_from = _text(data, "resumed_from") or None
        record.voice_tui_version = _text(data, "voice_tui_version")
    elif kind == "turn":
        turn = turn_from_json(data.get("turn"))
        if data.get("resumed") is True and record.resumed_turns == len(record.turns):
            record.resumed_turns += 1
        record.turns.append(turn)
    elif kind == "persona":
        at, name = _number(data, "at"), _text(data, "name")
        if not name:
            raise JournalLineError("a persona line names no persona")
        record.persona_changes.append((at, name))
    elif kind == "amend":
        turn = turn_from_json(data.get("turn"))
        index = _amended_index(record, turn)
        if index is None:
            raise JournalLineError(f"it amends turn {turn.item_id!r}, which no line before holds")
        record.turns[index] = turn
    elif kind == "end":
        totals = data.get("totals")
        if totals is not None and not isinstance(totals, dict):
            raise JournalLineError("'totals' is not an object")
        ended_at, reason = _number(data, "ended_at"), _text(data, "reason")
        if isinstance(totals, dict):
            record.totals = UsageTotals(
                turns=int(_number(totals, "turns", "totals.")),
                input_tokens=int(_number(totals, "input_tokens", "totals.")),
                output_tokens=int(_number(totals, "output_tokens", "totals.")),
                cost_usd=_number(totals, "cost_usd", "totals."),
                reasoning_tokens=int(_number(totals, "reasoning_tokens", "totals.")),
                priced=totals.get("priced", True) is not False,
                cached_tokens=int(_number(totals, "cached_tokens", "totals.")),
            )
        record.ended_at, record.end_reason = ended_at, reason
    else:
        raise JournalLineError(f"unknown line type {kind!r}")


def _amended_index(record: SessionRecord, turn: Turn) -> int | None:
    """Where the turn an amendment replaces is: the latest of its item and role."""
    for index in range(len(record.turns) - 1, record.resumed_turns - 1, -1):
        earlier = record.turns[index]
        if turn.item_id and earlier.item_id == turn.item_id and earlier.role is turn.role:
            return index
    return None


def turn_from_json(value: object) -> Turn:
    """A journaled turn, checked field by field: a line of the wrong shape is refused
    here rather than failing later in an export or a `--resume`."""
    if not isinstance(value, dict):
        raise JournalLineError("'turn' is not an object")
    role = value.get("role")
    if role not in ("user", "assistant"):
        raise JournalLineError(f"turn.role is {role!r}, not 'user' or 'assistant'")
    for name in ("item_id", "text", "heard_text"):
        _text(value, name, "turn.")
    for name in ("typed", "interrupted"):
        _flag(value, name, "turn.")
    for name in ("started_at", "finished_at"):
        _number(value, name, "turn.")
    calls = value.get("tool_calls", [])
    if not isinstance(calls, list):
        raise JournalLineError("turn.tool_calls is not a list")
    for index, call in enumerate(calls):
        where = f"turn.tool_calls[{index}]."
        if not isinstance(call, dict):
            raise JournalLineError(f"{where[:-1]} is not an object")
        for name in ("call_id", "name", "arguments", "output", "error"):
            _text(call, name, where)
        _flag(call, "ok", where)
        _number(call, "duration_s", where)
        unknown = set(call) - _TOOL_CALL_FIELDS
        if unknown:
            raise JournalLineError(f"{where}{sorted(unknown)[0]} is not a tool call field")
    usage = value.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise JournalLineError("turn.usage is not an object")
        for usage_field in fields(TurnUsage):  # a field it does not know is ignored
            if isinstance(usage_field.default, bool):
                _flag(usage, usage_field.name, "turn.usage.")
            else:
                _number(usage, usage_field.name, "turn.usage.")
    return Turn.from_json(value)


_TOOL_CALL_FIELDS = frozenset(
    {"call_id", "name", "arguments", "output", "ok", "error", "duration_s"}
)


def _text(data: dict[str, Any], name: str, where: str = "") -> str:
    """A string field; absent or null reads as empty."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise JournalLineError(f"{where}{name} is not text")
    return value


def _number(data: dict[str, Any], name: str, where: str = "") -> float:
    """A numeric field; absent or null reads as 0."""
    value = data.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JournalLineError(f"{where}{name} is not a number")
    return float(value)


def _flag(data: dict[str, Any], name: str, where: str = "") -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise JournalLineError(f"{where}{name} is not true or false")
    return value
