"""Token usage per turn and per session, and its estimated cost.

The Realtime API bills the whole conversation again on every turn, so the cost of a
session grows with its length; users want to see it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pydantic import ConfigDict

from voice_tui.config.schema import ModelPrices


class Prices(ModelPrices):
    """US dollars per million tokens, as priced for one session: the config's
    `[pricing]` entry (the fields are declared there), frozen. `known` is False for a
    model without an entry: its turns are "price unknown", not free."""

    model_config = ConfigDict(frozen=True)
    known: bool = True


@dataclass(frozen=True, slots=True)
class TurnUsage:
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_cached_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    cost_usd: float = 0.0
    output_reasoning_tokens: int = 0  # reported by reasoning models; billed as text output
    priced: bool = True  # False: the model's price is unknown, cost_usd means nothing

    @property
    def total_tokens(self) -> int:
        return (
            self.input_text_tokens
            + self.input_audio_tokens
            + self.output_text_tokens
            + self.output_audio_tokens
        )

    @classmethod
    def from_response_usage(cls, usage: dict[str, Any] | None, prices: Prices) -> TurnUsage:
        """Build from `response.done.response.usage` (a JSON object, possibly partial)."""
        usage = usage or {}
        inp = usage.get("input_token_details") or {}
        out = usage.get("output_token_details") or {}
        text_in = int(inp.get("text_tokens") or 0)
        audio_in = int(inp.get("audio_tokens") or 0)
        cached = int(inp.get("cached_tokens") or 0)
        cached_details = inp.get("cached_tokens_details") or {}
        cached_text = int(cached_details.get("text_tokens") or 0)
        cached_audio = int(cached_details.get("audio_tokens") or 0)
        if cached and not (cached_text or cached_audio):
            cached_text = cached  # no split given: price it as text
        text_out = int(out.get("text_tokens") or 0)
        audio_out = int(out.get("audio_tokens") or 0)
        reasoning = int(out.get("reasoning_tokens") or 0)
        # Bill reasoning tokens the text and audio counts do not already hold: when
        # `output_tokens` is reported, whatever of it is neither text nor audio.
        total_out = usage.get("output_tokens")
        extra = reasoning
        if isinstance(total_out, int) and not isinstance(total_out, bool):
            extra = max(0, min(reasoning, total_out - text_out - audio_out))
        cost = (
            max(text_in - cached_text, 0) * prices.text_input
            + cached_text * prices.text_cached_input
            + max(audio_in - cached_audio, 0) * prices.audio_input
            + cached_audio * prices.audio_cached_input
            + text_out * prices.text_output
            + audio_out * prices.audio_output
            + extra * prices.text_output
        ) / 1_000_000
        if not prices.known:
            cost = 0.0
        return cls(text_in, audio_in, cached, text_out, audio_out, cost, reasoning, prices.known)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TurnUsage:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class UsageTotals:
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    reasoning_tokens: int = 0
    priced: bool = True  # False once a turn's price was unknown

    def add(self, turn: TurnUsage) -> UsageTotals:
        return UsageTotals(
            turns=self.turns + 1,
            input_tokens=self.input_tokens + turn.input_text_tokens + turn.input_audio_tokens,
            output_tokens=self.output_tokens + turn.output_text_tokens + turn.output_audio_tokens,
            cost_usd=self.cost_usd + turn.cost_usd,
            reasoning_tokens=self.reasoning_tokens + turn.output_reasoning_tokens,
            priced=self.priced and turn.priced,
        )
