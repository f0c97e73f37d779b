"""What a benchmark produces: metrics with a target and a verdict, a table, a JSON file.

A metric is one number (a median, a p95, a count...) with its unit and, when the issue
sets one, a target; the verdict is PASS or MISS against it, INFO when there is none.
A missed target carries a plain note saying why.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["PASS", "MISS", "INFO"]
Op = Literal["<=", "<", ">=", ">", "=="]

_OPS: dict[Op, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass(frozen=True, slots=True)
class Target:
    op: Op
    value: float

    def met_by(self, value: float) -> bool:
        return not math.isnan(value) and _OPS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.op} {_fmt(self.value)}"


@dataclass(slots=True)
class Metric:
    name: str
    value: float
    unit: str
    target: Target | None = None
    note: str = ""  # why a target is missed, or what the figure means

    @property
    def verdict(self) -> Verdict:
        if self.target is None:
            return "INFO"
        return "PASS" if self.target.met_by(self.value) else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if math.isnan(self.value) else self.value,
            "unit": self.unit,
            "target": asdict(self.target) if self.target else None,
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass(slots=True)
class BenchResult:
    """One benchmark's outcome; `error` set when it could not run to the end."""

    name: str
    title: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # raw context: devices, counts
    error: str | None = None
    seconds: float = 0.0

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        target: Target | None = None,
        note: str = "",
        miss_note: str = "",
    ) -> Metric:
        """Record a metric; `miss_note` is attached only when the target is missed."""
        metric = Metric(name, float(value), unit, target, note)
        if miss_note and metric.verdict == "MISS":
            metric.note = f"{note} {miss_note}".strip()
        self.metrics.append(metric)
        return metric

    def add_distribution(
        self,
        name: str,
        samples: Sequence[float],
        unit: str,
        p95_target: Target | None = None,
        note: str = "",
        miss_note: str = "",
    ) -> None:
        """Median and p95 of `samples` (the target applies to the p95) and the count."""
        self.add(f"{name} median", percentile(samples, 50), unit, note=note)
        self.add(f"{name} p95", percentile(samples, 95), unit, p95_target, note, miss_note)
        self.add(f"{name} samples", len(samples), "")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "metrics": [m.to_json() for m in self.metrics],
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        result = cls(
            name=str(data["name"]),
            title=str(data.get("title", "")),
            details=dict(data.get("details") or {}),
            error=data.get("error"),
            seconds=float(data.get("seconds", 0.0)),
        )
        for m in data.get("metrics", []):
            target = Target(m["target"]["op"], float(m["target"]["value"])) if m["target"] else None
            value = math.nan if m["value"] is None else float(m["value"])
            result.metrics.append(Metric(m["name"], value, m["unit"], target, m.get("note", "")))
        return result


def percentile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile; NaN for no samples (shown as "n/a", a MISS)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3g}"


def table(results: Sequence[BenchResult]) -> str:
    """A plain-text table: one row per metric, notes under missed targets."""
    rows: list[tuple[str, str, str, str, str]] = []
    notes: list[str] = []
    for result in results:
        if result.error:
            rows.append((result.name, "ERROR", "", "", ""))
            notes.append(f"{result.name}: could not run: {result.error}")
        for m in result.metrics:
            value = f"{_fmt(m.value)} {m.unit}".strip()
            target = str(m.target) + (f" {m.unit}" if m.unit else "") if m.target else ""
            rows.append((result.name, m.name, value, target, m.verdict if m.target else ""))
            if m.note and m.verdict == "MISS":
                notes.append(f"{result.name} / {m.name}: MISS, {m.note}")
    header = ("bench", "metric", "value", "target", "verdict")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if notes:
        lines += ["", "Missed targets and errors:", *(f"- {n}" for n in notes)]
    return "\n".join(lines)
