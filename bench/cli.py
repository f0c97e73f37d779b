"""`python -m bench [NAME...] [--quick]`: run the benchmarks, print a table, write JSON.

Each benchmark module runs in a process of its own. Audio benchmarks get a private
virtual PulseAudio server (real, clocked PortAudio devices, nothing reaches your
speakers); config and data go to a temporary directory. Results are written to
bench/results/<UTC timestamp>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import vaudio
from bench.benches import BENCHES, BY_NAME, BenchInfo
from bench.report import BenchResult, table
from voice_tui.fileio import write_atomically

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="voice-tui benchmarks: latency, CPU and memory, against their targets.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="benchmarks to run (default: all; see --list)"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (~1 minute)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        metavar="DIR",
        help=f"where the JSON goes (default: {RESULTS_DIR.relative_to(REPO)})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for b in BENCHES:
            print(f"{b.name:16} {b.title}{'  (virtual audio)' if b.needs_audio else ''}")
        return 0
    unknown = [n for n in args.names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    chosen = [b for b in BENCHES if not args.names or b.name in args.names]
    started = datetime.now(UTC)
    results = run_all(chosen, quick=args.quick)
    print(table(results))
    path = write_results(results, args.results_dir, started, quick=args.quick)
    print(f"\nwritten: {path} (and latest.json)")
    return 1 if any(r.error for r in results) else 0


def run_all(chosen: Sequence[BenchInfo], *, quick: bool) -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="voice-tui-bench-") as tmp:
        env = {
            **os.environ,
            "VOICE_TUI_CONFIG": str(Path(tmp) / "config.toml"),
            "VOICE_TUI_DATA_DIR": str(Path(tmp) / "data"),
        }
        for key in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
            env.pop(key, None)  # everything runs against the local server
        audio: vaudio.VirtualAudio | None = None
        audio_problem: str | None = None
        if any(b.needs_audio for b in chosen):
            try:
                audio = vaudio.start(Path(tmp) / "virtual-audio")
                env.update(audio.env)
            except vaudio.VirtualAudioError as exc:
                audio_problem = f"virtual audio unavailable: {exc}"
        try:
            results: list[BenchResult] = []
            for module, infos in _by_module(chosen):
                if audio_problem and any(b.needs_audio for b in infos):
                    results += [BenchResult(b.name, b.title, error=audio_problem) for b in infos]
                    continue
                print(f"running {', '.join(b.name for b in infos)} ...", file=sys.stderr)
                results += _run_module(module, infos, quick, env, Path(tmp))
            return results
        finally:
            if audio is not None:
                audio.stop()


def _by_module(chosen: Sequence[BenchInfo]) -> list[tuple[str, list[BenchInfo]]]:
    groups: dict[str, list[BenchInfo]] = {}
    for b in chosen:
        groups.setdefault(b.module, []).append(b)
    return list(groups.items())


def _run_module(
    module: str, infos: list[BenchInfo], quick: bool, env: dict[str, str], tmp: Path
) -> list[BenchResult]:
    out = tmp / f"{module}.json"
    argv = [sys.executable, "-m", "bench.child", module, ",".join(b.name for b in infos), str(out)]
    if quick:
        argv.append("--quick")
    timeout = sum(b.timeout_s for b in infos) / (3 if quick else 1)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv, cwd=REPO, env=env, timeout=timeout, capture_output=True, text=True, check=False
        )
        problem = _last_line(done.stderr) if done.returncode != 0 else None
    except subprocess.TimeoutExpired:
        problem = f"did not finish within {timeout:.0f} s"
    if out.exists():
        results = [BenchResult.from_json(r) for r in json.loads(out.read_text())]
        if len(results) == len(infos):
            return results
    why = problem or "produced no results"
    elapsed = time.perf_counter() - started
    return [BenchResult(b.name, b.title, error=why, seconds=elapsed) for b in infos]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed without a message"


def write_results(
    results: Sequence[BenchResult], directory: Path, started: datetime, *, quick: bool
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "quick": quick,
        "machine": _machine(),
        "commit": _commit(),
        "benches": [r.to_json() for r in results],
    }
    text = json.dumps(document, indent=2) + "\n"
    path = directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if quick else ''}.json"
    for target in (path, directory / "latest.json"):
        write_atomically(target, text, mode=0o644)  # a reader never sees half a file
    return path


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
