"""The status bar: backend and model, persona, turn mode, connection, usage, latency."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from voice_tui.core.events import ConnectionState, TurnMode
from voice_tui.core.usage import TurnUsage, UsageTotals

TURN_MODE_LABELS = {
    TurnMode.PUSH_TO_TALK: "push-to-talk",
    TurnMode.SERVER_VAD: "server VAD",
    TurnMode.SEMANTIC_VAD: "semantic VAD",
}


@dataclass(frozen=True)
class StatusInfo:
    backend: str = ""
    model: str = ""
    persona: str = ""
    voice: str = ""
    turn_mode: TurnMode = TurnMode.SERVER_VAD
    connection: ConnectionState = ConnectionState.CONNECTING
    totals: UsageTotals = field(default_factory=UsageTotals)
    last_turn: TurnUsage | None = None
    latency_s: float | None = None
    echo: str = ""  # echo handling in force; "" without audio
    reasoning: str = ""  # the reasoning effort; "" for a model that does not reason

    def with_(self, **changes: object) -> StatusInfo:
        return replace(self, **changes)  # type: ignore[arg-type]


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def _usage(tokens: int, reasoning: int, cost_usd: float, priced: bool) -> str:
    """Tokens (of which reasoning), and the cost, or "price unknown" (never a false $0)."""
    thought = f" ({_tokens(reasoning)} reasoning)" if reasoning else ""
    cost = f"${cost_usd:.4f}" if priced else "price unknown"
    return f"{_tokens(tokens)} tok{thought} {cost}"


def status_text(info: StatusInfo) -> Text:
    """The bar's one line; plain Text segments, so no value is ever parsed as markup."""
    sep = (" │ ", "dim")
    where = f"{info.backend} · {info.model}" if info.backend else "not connected"
    t = info.totals
    session = _usage(t.input_tokens + t.output_tokens, t.reasoning_tokens, t.cost_usd, t.priced)
    last = (
        _usage(
            info.last_turn.total_tokens,
            info.last_turn.output_reasoning_tokens,
            info.last_turn.cost_usd,
            info.last_turn.priced,
        )
        if info.last_turn
        else "—"
    )
    latency = f"{info.latency_s * 1000:.0f} ms" if info.latency_s is not None else "—"
    persona = info.persona or "—"
    if info.voice:
        persona += f" ({info.voice})"
    if info.reasoning:
        where += f" · thinks {info.reasoning}"
    return Text.assemble(
        (where, "bold"),
        sep,
        persona,
        sep,
        TURN_MODE_LABELS[info.turn_mode],
        *((sep, info.echo) if info.echo else ()),
        sep,
        info.connection.value,
        sep,
        ("total ", "dim"),
        session,
        sep,
        ("last ", "dim"),
        last,
        sep,
        ("reply ", "dim"),
        latency,
    )


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { width: 100%; height: auto; max-height: 3; padding: 0 1;
                background: $panel; color: $foreground; }
    """

    info: reactive[StatusInfo] = reactive(StatusInfo, layout=True)

    def render(self) -> Text:
        return status_text(self.info)

    def change(self, **changes: object) -> None:
        self.info = self.info.with_(**changes)
