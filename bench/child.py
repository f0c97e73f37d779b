"""Runs one benchmark module in this (fresh) process and writes its results as JSON.

    python -m bench.child MODULE NAME[,NAME...] OUT.json [--quick]

A process per module keeps the figures honest: memory, threads and CPU belong to that
benchmark alone, and a crash or hang cannot take the others with it.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.benches import BY_NAME
from bench.context import Context
from bench.report import BenchResult


def main(argv: list[str]) -> int:
    module_name, names_arg, out = argv[:3]
    quick = "--quick" in argv[3:]
    names = tuple(names_arg.split(","))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        ctx = Context(names, quick, Path(work))
        try:
            module = importlib.import_module(module_name)
            results: list[BenchResult] = asyncio.run(module.run(ctx))
        except Exception as exc:
            traceback.print_exc()
            results = [
                BenchResult(n, BY_NAME[n].title, error=f"{type(exc).__name__}: {exc}")
                for n in names
            ]
    elapsed = time.perf_counter() - started
    for result in results:
        result.seconds = elapsed / len(results)
    Path(out).write_text(json.dumps([r.to_json() for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
