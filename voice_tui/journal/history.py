"""Past conversations: list them, load one (for `--resume`), export one to Markdown.

`voice-tui history` lists sessions newest first; `voice-tui history ID [--output FILE]`
prints (or writes) one as Markdown. An id may be abbreviated to any unique prefix of
the full id (`20261121T0744`) or of its random part (`1a2b`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role, ToolCallRecord, Turn
from voice_tui.fileio import write_atomically
from voice_tui.journal.journal import SUFFIX, SessionRecord, default_sessions_dir, read_session
from voice_tui.redact import Redactor, default_redactor

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
MAX_NOTES = 3  # notes on damaged journals printed under the list


class HasSettings(Protocol):
    """What the history command needs of `LoadedSettings`."""

    @property
    def settings(self) -> Settings: ...


class SessionNotFound(LookupError):
    """No session, or more than one, matches what the user typed."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    started_at: float
    persona: str
    turns: int
    first_user_words: str
    path: Path
    problems: tuple[str, ...] = ()  # journal lines that could not be read


# -- finding sessions ----------------------------------------------------------------


def _records(directory: Path) -> list[SessionRecord]:
    """Every readable session in `directory`, newest first."""
    if not directory.is_dir():
        return []
    records = []
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            records.append(read_session(path))
        except OSError:
            continue  # unreadable file: not ours to fix here, the others still list
    records.sort(key=lambda r: (r.started_at, r.session_id), reverse=True)
    return records


def list_sessions(directory: Path, *, include_empty: bool = False) -> list[SessionSummary]:
    """Sessions newest first; those without a single turn are left out by default."""
    return [
        SessionSummary(
            session_id=r.session_id,
            started_at=r.started_at,
            persona=r.persona,
            turns=len(r.turns),
            first_user_words=r.first_user_words,
            path=r.path,
            problems=tuple(r.problems),
        )
        for r in _records(directory)
        if include_empty or r.turns
    ]


def load_session(id_or_prefix: str, directory: Path) -> SessionRecord:
    """The one session whose id (or random part) starts with `id_or_prefix`."""
    wanted = id_or_prefix.strip().removesuffix(SUFFIX)
    if not wanted:
        raise SessionNotFound("no session id given")
    matches = []
    for path in sorted(directory.glob(f"*{SUFFIX}")) if directory.is_dir() else []:
        stem = path.name.removesuffix(SUFFIX)
        random_part = stem.rpartition("-")[2]
        if stem == wanted:
            matches = [path]
            break
        if stem.startswith(wanted) or random_part.startswith(wanted):
            matches.append(path)
    if not matches:
        raise SessionNotFound(
            f"no session matches {wanted!r} in {directory} (`voice-tui history` lists them)"
        )
    if len(matches) > 1:
        names = ", ".join(p.name.removesuffix(SUFFIX) for p in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise SessionNotFound(f"{wanted!r} matches several sessions: {names}{more}")
    return read_session(matches[0])


def last_session(directory: Path) -> SessionRecord | None:
    """The newest session that has turns (for `--resume`); None when there is none.
    Its `turns` are the whole conversation: a resumed session holds the turns it
    carried over, so resuming again continues from the very beginning."""
    for record in _records(directory):
        if record.turns:
            return record
    return None


# -- Markdown ------------------------------------------------------------------------


def _when(timestamp: float, fmt: str = "%H:%M:%S") -> str:
    if timestamp <= 0:
        return "?"
    return datetime.fromtimestamp(timestamp, UTC).strftime(fmt)


def _fence(text: str, lang: str = "") -> str:
    """A code block that no backtick run inside `text` can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def _unheard(turn: Turn) -> str:
    if turn.heard_text and turn.text.startswith(turn.heard_text):
        return turn.text[len(turn.heard_text) :].strip()
    return "" if turn.heard_text else turn.text


def _tool_call_markdown(call: ToolCallRecord) -> list[str]:
    status = "ok" if call.ok else f"failed: {call.error or 'error'}"
    return [
        f"- Tool call `{call.name}` ({status}, {call.duration_s:.2f} s)",
        "",
        "  Arguments:",
        "",
        _indent(_fence(_pretty_json(call.arguments), "json")),
        "",
        "  Result:",
        "",
        _indent(_fence(_pretty_json(call.output), "json")),
        "",
    ]


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def _turn_markdown(turn: Turn) -> list[str]:
    who = "You" if turn.role is Role.USER else "Assistant"
    tags = []
    if turn.typed:
        tags.append("typed")
    if turn.interrupted:
        tags.append("interrupted")
    suffix = f" — {', '.join(tags)}" if tags else ""
    out = [f"**{who}** ({_when(turn.started_at or turn.finished_at)}){suffix}", ""]
    if turn.interrupted:
        out += ["Heard:", "", _quote(turn.heard_text or "(nothing)"), ""]
        unheard = _unheard(turn)
        if unheard:
            out += ["Not heard:", "", _quote(unheard), ""]
    elif turn.text:
        out += [_quote(turn.text), ""]
    if turn.image is not None:
        out += [f"🖼 Showed an image: {turn.image.description} (`{turn.image.path}`)", ""]
    for call in turn.tool_calls:
        out += _tool_call_markdown(call)
    return out


def export_markdown(record: SessionRecord, redactor: Redactor | None = None) -> str:
    """The conversation as Markdown, passed through `redactor` (default: the
    process's, see `redact.default_redactor`)."""
    lines = [
        f"# Conversation of {_when(record.started_at, '%Y-%m-%d %H:%M UTC')}",
        "",
        f"- Session: `{record.session_id}`",
        f"- Backend: {record.backend or '?'}, model: {record.model or '?'}",
        f"- Persona: {_personas(record)}",
    ]
    if record.resumed_from:
        lines.append(f"- Continues session `{record.resumed_from}`")
    if record.ended_at is None:
        lines.append("- The session did not close cleanly (the last turn may be missing)")
    if record.problems:
        lines.append(f"- {problems_note(record.problems)}")
    lines.append("")
    changes = sorted(record.persona_changes)
    for index, turn in enumerate(record.turns):
        if index == 0 and record.resumed_turns:
            lines += ["## Earlier in this conversation", ""]
        if index == record.resumed_turns and record.resumed_turns:
            lines += ["## This session", ""]
        while changes and index >= record.resumed_turns and changes[0][0] <= turn.started_at:
            lines += _persona_change(*changes.pop(0))
        lines += _turn_markdown(turn)
    for change in changes:  # chosen after the last turn
        lines += _persona_change(*change)
    lines += ["## Usage", ""]
    lines += _usage_lines(record)
    markdown = "\n".join(lines).rstrip() + "\n"
    return (redactor if redactor is not None else default_redactor()).redact(markdown)


def _personas(record: SessionRecord) -> str:
    """The first persona, then each one chosen later, in order."""
    names = [record.persona or "?", *(name for _, name in sorted(record.persona_changes))]
    return ", then ".join(names)


def _persona_change(at: float, name: str) -> list[str]:
    return [f"*Persona changed to {name} ({_when(at, '%H:%M:%S')}).*", ""]


def _usage_lines(record: SessionRecord) -> list[str]:
    totals = record.totals
    if totals is not None:
        tokens_in, tokens_out, cost, responses, priced = (
            totals.input_tokens,
            totals.output_tokens,
            totals.cost_usd,
            totals.turns,
            totals.priced,
        )
    else:  # no closing line: add up what the turns recorded
        usages = [t.usage for t in record.new_turns if t.usage is not None]
        tokens_in = sum(u.input_text_tokens + u.input_audio_tokens for u in usages)
        tokens_out = sum(u.output_text_tokens + u.output_audio_tokens for u in usages)
        cost = sum(u.cost_usd for u in usages)
        responses = len(usages)
        priced = all(u.priced for u in usages)
    return [
        f"- Responses: {responses}",
        f"- Input tokens: {tokens_in}",
        f"- Output tokens: {tokens_out}",
        f"- Estimated cost: ${cost:.4f}" if priced else "- Estimated cost: price unknown",
    ]


def problems_note(problems: list[str] | tuple[str, ...]) -> str:
    """One sentence on the journal lines that were left out, naming the first."""
    count = len(problems)
    lines = "1 line of the journal" if count == 1 else f"{count} lines of the journal"
    verb = "was" if count == 1 else "were"
    more = f", and {count - 1} more" if count > 1 else ""
    return f"{lines} could not be read and {verb} left out ({problems[0]}{more})"


# -- the command ---------------------------------------------------------------------


def _print_list(sessions: list[SessionSummary], directory: Path, out: TextIO, err: TextIO) -> None:
    if not sessions:
        print(f"No conversations yet (journal: {directory}).", file=out)
        return
    for s in sessions:
        words = " ".join(s.first_user_words.split())
        if len(words) > 50:
            words = words[:49] + "…"
        when = _when(s.started_at, "%Y-%m-%d %H:%M")
        mark = " !" if s.problems else ""
        print(
            f"{s.session_id}  {when}  {s.persona:<14} {s.turns:>4} turns{mark}  {words}",
            file=out,
        )
    # The list stays clean for pipes; the notes go to stderr, a few at most.
    flagged = [s for s in sessions if s.problems]
    for s in flagged[:MAX_NOTES]:
        print(f"voice-tui: {s.session_id} (!): {problems_note(s.problems)}", file=err)
    if len(flagged) > MAX_NOTES:
        more = len(flagged) - MAX_NOTES
        print(f"voice-tui: and {more} more (!): `voice-tui history ID` says which lines", file=err)


def history_command(
    loaded: HasSettings,
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`voice-tui history [SESSION] [--output FILE]`."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    directory = default_sessions_dir(loaded.settings, env)
    session = getattr(args, "session", None)
    output: Path | None = getattr(args, "output", None)
    if not session:
        if output is not None:
            print("voice-tui: history --output needs a SESSION to export", file=err)
            return EXIT_USAGE
        _print_list(list_sessions(directory), directory, out, err)
        return EXIT_OK
    try:
        record = load_session(session, directory)
    except SessionNotFound as exc:
        print(f"voice-tui: {exc}", file=err)
        return EXIT_USAGE
    except OSError as exc:
        print(f"voice-tui: cannot read session {session!r}: {exc.strerror or exc}", file=err)
        return EXIT_FAILURE
    if record.problems:
        print(f"voice-tui: {record.session_id}: {problems_note(record.problems)}", file=err)
    # Journals are redacted as written; this also covers one written before a key
    # was configured.
    markdown = export_markdown(record, Redactor.from_settings(loaded.settings, env))
    if output is None:
        out.write(markdown)
        return EXIT_OK
    try:
        write_atomically(output.expanduser(), markdown)
    except OSError as exc:
        print(f"voice-tui: cannot write {output}: {exc.strerror or exc}", file=err)
        return EXIT_FAILURE
    print(f"Exported {record.session_id} to {output}", file=out)
    return EXIT_OK
