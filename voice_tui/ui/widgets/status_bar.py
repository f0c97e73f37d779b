"""The status bar: what answers, persona, turn mode, connection, usage, latency.

One line at any width: when everything does not fit, the least useful parts go first
(latency, the last turn, echo...), and what answers always stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from voice_tui.config.schema import LocalSettings
from voice_tui.core.events import ConnectionState, TurnMode
from voice_tui.core.usage import TurnUsage, UsageTotals

TURN_MODE_LABELS = {
    TurnMode.PUSH_TO_TALK: "push-to-talk",
    TurnMode.SERVER_VAD: "server VAD",
    TurnMode.SEMANTIC_VAD: "semantic VAD",
}
SEPARATOR = " │ "


def offline_parts(local: LocalSettings, loaded: str) -> str:
    """The offline engine by its parts: what hears and speaks (as the engine reports
    them while and after loading its models), and what answers."""
    responder = (local.chat_model or "chat model") if local.chat_url else "built-in replies"
    return f"offline · {loaded} · {responder}" if loaded else f"offline · {responder}"


@dataclass(frozen=True)
class StatusInfo:
    backend: str = ""
    model: str = ""
    # What answers, when the model name would say nothing true (the offline engine
    # pretends to be gpt-realtime): shown instead of "backend · model".
    engine: str = ""
    billed: bool = True  # False: nothing is billed (the offline engine): no cost shown
    persona: str = ""
    voice: str = ""
    turn_mode: TurnMode = TurnMode.SERVER_VAD
    connection: ConnectionState = ConnectionState.CONNECTING
    totals: UsageTotals = field(default_factory=UsageTotals)
    last_turn: TurnUsage | None = None
    latency_s: float | None = None
    echo: str = ""  # echo handling in force; "" without audio
    reasoning: str = ""  # the reasoning effort; "" for a model that does not reason
    mcp: str = ""  # "MCP 2/3 ✗ files"; "" without MCP servers

    def with_(self, **changes: object) -> StatusInfo:
        return replace(self, **changes)  # type: ignore[arg-type]


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def _usage(tokens: int, reasoning: int, cost_usd: float, priced: bool, billed: bool) -> str:
    """Tokens (of which reasoning), and the cost, or "price unknown" (never a false $0);
    no cost at all where nothing is billed."""
    thought = f" ({_tokens(reasoning)} reasoning)" if reasoning else ""
    if not billed:
        return f"{_tokens(tokens)} tok{thought}"
    cost = f"${cost_usd:.4f}" if priced else "price unknown"
    return f"{_tokens(tokens)} tok{thought} {cost}"


# A part: its priority (the lowest goes first when the line is too narrow) and its text.
Part = tuple[int, Text]


def status_parts(info: StatusInfo) -> list[Part]:
    """Every part of the bar, in order; plain Text, so no value is parsed as markup."""
    where = f"{info.backend} · {info.model}" if info.backend else "not connected"
    where = info.engine or where
    t = info.totals
    total = _usage(
        t.input_tokens + t.output_tokens, t.reasoning_tokens, t.cost_usd, t.priced, info.billed
    )
    if info.billed and t.cached_share is not None:  # the cheap part: long sessions live on it
        total += f" ({t.cached_share:.0%} cached)"
    last = (
        _usage(
            info.last_turn.total_tokens,
            info.last_turn.output_reasoning_tokens,
            info.last_turn.cost_usd,
            info.last_turn.priced,
            info.billed,
        )
        if info.last_turn
        else "—"
    )
    latency = f"{info.latency_s * 1000:.0f} ms" if info.latency_s is not None else "—"
    persona = info.persona or "—"
    if info.voice:
        persona += f" ({info.voice})"
    parts: list[Part] = [(100, Text(where, style="bold"))]
    if info.reasoning:
        parts.append((35, Text(f"thinks {info.reasoning}")))
    parts += [
        (50, Text(persona)),
        (45, Text(TURN_MODE_LABELS[info.turn_mode])),
    ]
    if info.echo:
        parts.append((30, Text(info.echo)))
    if info.mcp:
        parts.append((38, Text(info.mcp)))
    parts += [
        (40, Text(info.connection.value)),
        (60, Text.assemble(("total ", "dim"), total)),
        (20, Text.assemble(("last ", "dim"), last)),
        (10, Text.assemble(("reply ", "dim"), latency)),
    ]
    return parts


def status_text(info: StatusInfo, width: int | None = None) -> Text:
    """The bar's line, fitted to `width` cells by leaving out the least useful parts
    (what answers stays, cut short if even it does not fit)."""
    parts = status_parts(info)
    if width is not None:
        fitted = _fit(parts, width)
        if _width(fitted) > width:  # even what answers is too long: say it in short
            short = "offline" if info.engine else (info.model or info.backend)
            parts[0] = (100, Text(short or "not connected", style="bold"))
            fitted = _fit(parts, width)
        parts = fitted
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for index, (_, text) in enumerate(parts):
        if index:
            line.append(SEPARATOR, style="dim")
        line.append_text(text)
    return line


def _fit(parts: list[Part], width: int) -> list[Part]:
    """`parts` without the least useful ones, until they fit in `width` (or one is left)."""
    kept = list(parts)
    while len(kept) > 1 and _width(kept) > width:
        kept.remove(min(kept, key=lambda part: part[0]))
    return kept


def _width(parts: list[Part]) -> int:
    return sum(cell_len(text.plain) for _, text in parts) + cell_len(SEPARATOR) * (len(parts) - 1)


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { width: 100%; height: 1; padding: 0 1;
                background: $panel; color: $foreground; }
    """

    info: reactive[StatusInfo] = reactive(StatusInfo, layout=True)

    def render(self) -> Text:
        return status_text(self.info, self.content_size.width or None)

    def change(self, **changes: object) -> None:
        self.info = self.info.with_(**changes)
