"""What a benchmark is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Context:
    names: tuple[str, ...]  # the benches asked of this module (one module may serve several)
    quick: bool  # a smoke run: fewer repetitions, shorter windows
    work_dir: Path  # scratch space, deleted afterwards

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def pick_s(self, full: float, quick: float) -> float:
        return quick if self.quick else full
