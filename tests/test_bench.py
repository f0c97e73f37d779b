"""The benchmark suite's smoke test: `python -m bench --quick` on two cheap benchmarks
(no audio devices needed) writes the JSON it promises. Figures are not checked: timings
belong to the benchmarks, not to tests."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import BenchResult, Metric, Target, percentile, table

REPO = Path(__file__).resolve().parents[1]

VERDICTS = {"PASS", "MISS", "INFO"}


def run_bench(*args: str, results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args, "--results-dir", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )


@pytest.mark.timeout(120)
def test_quick_run_writes_a_table_and_json_per_benchmark(tmp_path: Path) -> None:
    done = run_bench("soak", "memory", "--quick", results=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "verdict" in done.stdout and "soak" in done.stdout and "memory" in done.stdout

    latest = tmp_path / "latest.json"
    stamped = [p for p in tmp_path.glob("*.json") if p.name != "latest.json"]
    assert len(stamped) == 1 and stamped[0].name.endswith("-quick.json")
    assert latest.read_text() == stamped[0].read_text()

    document = json.loads(latest.read_text())
    assert document["quick"] is True
    assert {"started", "machine", "commit", "benches"} <= document.keys()
    assert [b["name"] for b in document["benches"]] == ["memory", "soak"]
    for bench in document["benches"]:
        assert bench["error"] is None
        assert bench["metrics"], bench["name"]
        for metric in bench["metrics"]:
            assert {"name", "value", "unit", "target", "verdict", "note"} <= metric.keys()
            assert metric["verdict"] in VERDICTS
            assert isinstance(metric["value"], float)
            target = metric["target"]
            if target is None:
                assert metric["verdict"] == "INFO"
            else:
                met = Target(target["op"], target["value"]).met_by(metric["value"])
                assert metric["verdict"] == ("PASS" if met else "MISS")
    soak = next(b for b in document["benches"] if b["name"] == "soak")
    names = {m["name"] for m in soak["metrics"]}
    assert {"threads growth", "asyncio tasks growth", "open files growth"} <= names


def test_unknown_benchmark_is_refused_by_name(tmp_path: Path) -> None:
    done = run_bench("latencyy", results=tmp_path)
    assert done.returncode == 2
    assert "unknown benchmark latencyy" in done.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_list_names_every_benchmark(tmp_path: Path) -> None:
    done = run_bench("--list", results=tmp_path)
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == [
        "mic_to_wire",
        "wire_to_speaker",
        "barge_in",
        "end_to_end",
        "echo",
        "cpu",
        "load",
        "ui",
        "memory",
        "offline",
        "soak",
    ]


def test_percentile_interpolates_and_is_nan_without_samples() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile(list(map(float, range(101))), 95) == 95.0
    assert math.isnan(percentile([], 50))


def test_a_missed_target_says_why_and_no_samples_is_a_miss() -> None:
    result = BenchResult("demo", "Demo")
    result.add("fast", 3.0, "ms", Target("<=", 5), miss_note="never shown")
    result.add("slow", 9.0, "ms", Target("<=", 5), miss_note="the device buffer")
    result.add_distribution("none", [], "ms", Target("<=", 5))
    verdicts = {m.name: m.verdict for m in result.metrics}
    assert verdicts == {
        "fast": "PASS",
        "slow": "MISS",
        "none median": "INFO",
        "none p95": "MISS",
        "none samples": "INFO",
    }
    assert result.metrics[0].note == ""
    text = table([result])
    assert "demo / slow: MISS, the device buffer" in text
    assert "n/a" in text
    again = BenchResult.from_json(json.loads(json.dumps(result.to_json())))
    assert [(m.name, m.verdict) for m in again.metrics] == [
        (m.name, m.verdict) for m in result.metrics
    ]
    assert isinstance(again.metrics[0], Metric)
