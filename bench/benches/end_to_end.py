"""End to end through the virtual devices: from the end of speech played into the
virtual microphone to the first assistant audio recorded from the virtual speaker.

The user's side is bench.e2e_harness (its own process and PortAudio streams, stamped
by the devices); voice-tui's runtime listens on the default source (`mic.monitor`) and
plays on the default sink (`speaker`); the local server (another process) answers each
turn with a short tone and reports its own processing time (speech_stopped to first
audio) in `response.metadata.server_processing_ms`. The server's VAD also waits
`silence_duration_ms` of silence before it ends the turn: that is the service's turn
detection, so it is subtracted too.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from bench.context import Context
from bench.probes import start_tapped
from bench.report import BenchResult
from bench.world import bench_settings, runtime, server_process


async def run(ctx: Context) -> list[BenchResult]:
    trials = ctx.pick(8, 2)
    speech = ctx.work_dir / "question.wav"
    await asyncio.to_thread(
        subprocess.run,
        ["espeak-ng", "-w", str(speech), "What is the weather like today?"],
        check=True,
        timeout=30,
    )
    async with server_process(1.0) as url:
        loaded = bench_settings(url)
        async with runtime(loaded, audio=True) as rt:
            taps = await start_tapped(rt)
            wire, playback = taps.wire, taps.playback
            rows = await _harness(str(speech), trials)
    silence_ms = loaded.settings.session.silence_duration_ms
    firsts = [c.received_at for c in playback.chunks if c.offset == 0]
    e2e, server, client, to_stop, to_delta, to_speaker = [], [], [], [], [], []
    for i, row in enumerate(rows):
        e2e.append(row["reply_ms"])
        if i < len(wire.server_processing_ms):
            server.append(wire.server_processing_ms[i])
            client.append(row["reply_ms"] - wire.server_processing_ms[i] - silence_ms)
        if i < len(wire.speech_stopped_at) and i < len(firsts):
            to_stop.append((wire.speech_stopped_at[i] - row["speech_end"]) * 1000)
            to_delta.append((firsts[i] - wire.speech_stopped_at[i]) * 1000)
            to_speaker.append((row["first_audio"] - firsts[i]) * 1000)
    result = BenchResult("end_to_end", "End to end (virtual devices)")
    result.add_distribution(
        "voice-tui share",
        client,
        "ms",
        note=f"end of speech to first answer audio, minus server processing and VAD "
        f"silence ({silence_ms} ms)",
    )
    result.add_distribution("end of speech to first answer audio", e2e, "ms")
    result.add_distribution("server processing", server, "ms", note="response.metadata")
    result.add_distribution(
        "speech end to speech_stopped received", to_stop, "ms", note="mic path + VAD wait"
    )
    result.add_distribution("speech_stopped to first delta received", to_delta, "ms")
    result.add_distribution("first delta received to speaker", to_speaker, "ms")
    result.details.update({"trials": trials, "vad_silence_ms": silence_ms})
    return [result]


async def _harness(speech: str, trials: int) -> list[dict[str, Any]]:
    env = {**os.environ, "PULSE_SINK": "mic", "PULSE_SOURCE": "speaker.monitor"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.e2e_harness",
        speech,
        str(trials),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30 + trials * 20)
    rows = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    errors = [r["error"] for r in rows if "error" in r]
    if errors or proc.returncode != 0:
        raise RuntimeError(f"the user's side failed: {errors[0] if errors else proc.returncode}")
    return rows
