"""CPU, as a share of one core: listening idle and while the assistant speaks, with the
TUI open and headless.

The app is voice-tui as `voice-tui` builds it (VoiceApp with the runtime connector, so
the real audio worker on the virtual devices, engine and SDK); the TUI runs headless
under Textual's run_test (layout and compositing happen, only the bytes go nowhere).
Headless is the runtime alone. The server runs in another process and speaks in real
time. The share is this process's user + system CPU time over a window of wall time.

Where the time goes, printed with every run: headless, each thread's share (the
microphone's and the speaker's PortAudio callback threads, the audio worker, the event
loop, PulseAudio's client threads); and the floor, the same device streams opened alone
with callbacks that do nothing (what PortAudio, ALSA's pulse plugin and the callback
wrapper cost before voice-tui does anything).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import psutil

from bench.context import Context
from bench.report import BenchResult, Target
from bench.threads import thread_shares, thread_ticks
from bench.world import bench_settings, poll, runtime, server_process
from voice_tui.audio.capture import input_buffering
from voice_tui.audio.devices import TARGET_RATE
from voice_tui.audio.playback import output_buffering
from voice_tui.audio.worker import AudioWorker
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import AudioSettings
from voice_tui.core.events import Phase
from voice_tui.ui.app import VoiceApp
from voice_tui.ui.launch import runtime_connector

IDLE_TARGET = 1.5  # issue 17: lighter than every peer
SPEAKING_TARGET = 4.0
SETTLE_S = 1.0
NOISE_POINTS = 0.3  # differences between two windows run one after the other
THREADS_SHOWN = 5  # the busiest threads printed per state


async def run(ctx: Context) -> list[BenchResult]:
    window = ctx.pick_s(10.0, 2.0)
    answer_s = window + SETTLE_S + 4
    result = BenchResult("cpu", "CPU share of one core")
    shares: dict[tuple[str, str], float] = {}
    threads: dict[str, dict[str, float]] = {}
    async with server_process(answer_s, paced=True) as url:
        loaded = bench_settings(url)
        for label, host in (("TUI", _tui), ("headless", _headless)):
            async with host(loaded) as (engine, audio):
                shares[label, "listening"], by_thread = await _share(window, audio)
                threads[f"{label}, listening"] = by_thread
                await engine.send_text("Tell me a long story.")
                await poll(lambda: engine.phase is Phase.ASSISTANT_SPEAKING, 30, "the answer")
                await asyncio.sleep(SETTLE_S)  # the answer is streaming steadily
                shares[label, "assistant speaking"], by_thread = await _share(window, audio)
                threads[f"{label}, assistant speaking"] = by_thread
                if engine.phase is not Phase.ASSISTANT_SPEAKING:
                    raise RuntimeError("the answer ended before the window did")
                await engine.interrupt()
                await asyncio.sleep(SETTLE_S)  # its events are rendered before we leave
    floors = {
        "listening": await _streams_alone(loaded.settings.audio, window, speaker=False),
        "assistant speaking": await _streams_alone(loaded.settings.audio, window, speaker=True),
    }
    load = psutil.getloadavg()[0]
    noise = f" (load average {load:.1f} on {psutil.cpu_count()} cores: others' work adds noise)"
    for (label, state), share in shares.items():
        target = IDLE_TARGET if state == "listening" else SPEAKING_TARGET
        headless = shares["headless", state]
        why = (
            _tui_why(share - headless, headless)
            if label == "TUI"
            else "The runtime alone (audio worker thread, engine, SDK) is over budget."
        )
        result.add(f"{label}, {state}", share, "%", Target("<=", target), miss_note=why + noise)
    for state, floor in floors.items():
        result.add(
            f"floor, {state}: the device streams alone",
            floor,
            "%",
            note="the same streams with callbacks that do nothing"
            + (" (microphone and speaker)" if state != "listening" else " (microphone)"),
        )
        for name, share in list(threads[f"headless, {state}"].items())[:THREADS_SHOWN]:
            result.add(f"headless, {state}: {name}", share, "%")
    result.details.update({"window_s": window, "cpus": psutil.cpu_count()})
    result.details["threads"] = threads
    result.details["load_average"] = list(psutil.getloadavg())  # others' load adds noise
    return [result]


def _tui_why(added: float, headless: float) -> str:
    if added <= NOISE_POINTS:
        return (
            f"The TUI adds {added:+.1f} points over headless ({headless:.1f}%), within noise: "
            "the runtime's own share is what is over (the meter's unchanged readings are "
            "dropped in the audio thread, and nothing else in the TUI runs while idle)."
        )
    return (
        f"The TUI adds {added:.1f} points over headless ({headless:.1f}%): its own "
        "rendering; profile the main thread while idle (mic meter, timers)."
    )


async def _share(window: float, audio: AudioWorker | None) -> tuple[float, dict[str, float]]:
    """This process's CPU time (user + system, all threads) over `window` seconds of wall
    time, in % of one core, and each thread's (labelled; `audio` names its callback
    threads). time.process_time is psutil's cpu_times at ns resolution (cpu_times
    counts 10 ms ticks: too coarse for the whole at a few %, fine per thread over 10 s)."""
    before, ticks, started = time.process_time(), thread_ticks(), time.perf_counter()
    await asyncio.sleep(window)
    seconds = time.perf_counter() - started
    share = 100 * (time.process_time() - before) / seconds
    known = audio.callback_threads if audio is not None else {}
    named = {tid: f"{role} callback (PortAudio)" for tid, role in known.items()}
    return share, thread_shares(ticks, thread_ticks(), seconds, named)


async def _streams_alone(settings: AudioSettings, window: float, speaker: bool) -> float:
    """CPU share of the default microphone (and speaker) opened as the runtime opens
    them, at 24 kHz, with callbacks that only keep the speaker silent."""
    import sounddevice as sd

    def heard(indata: Any, frames: int, stamp: Any, status: Any) -> None:
        pass

    def silent(outdata: np.ndarray, frames: int, stamp: Any, status: Any) -> None:
        outdata.fill(0)

    rate = TARGET_RATE
    block, latency = input_buffering(settings, rate)
    streams: list[Any] = [
        sd.InputStream(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=block,
            latency=latency,
            callback=heard,
        )
    ]
    if speaker:
        block, latency = output_buffering(settings, rate)
        streams.append(
            sd.OutputStream(
                samplerate=rate,
                channels=1,
                dtype="int16",
                blocksize=block,
                latency=latency,
                callback=silent,
            )
        )
    try:
        for stream in streams:
            stream.start()
        await asyncio.sleep(SETTLE_S)
        share, _ = await _share(window, None)
    finally:
        for stream in streams:
            stream.close()
    return share


@contextlib.asynccontextmanager
async def _headless(loaded: LoadedSettings) -> AsyncIterator[tuple[Any, AudioWorker | None]]:
    async with runtime(loaded, audio=True) as rt:
        await rt.engine.start()
        await asyncio.sleep(SETTLE_S)
        yield rt.engine, rt.audio


@contextlib.asynccontextmanager
async def _tui(loaded: LoadedSettings) -> AsyncIterator[tuple[Any, AudioWorker | None]]:
    args = argparse.Namespace(record=None, resume=False)
    app = VoiceApp(loaded.settings, connect=runtime_connector(loaded, args))
    async with app.run_test(size=(120, 40)):
        await poll(lambda: app.runtime is not None, 30, "the runtime")
        assert app.runtime is not None
        engine = app.runtime.engine
        await poll(lambda: engine.phase is Phase.LISTENING, 30, "listening")
        if app.runtime.audio is None:
            raise RuntimeError(f"no audio devices: {app.runtime.audio_problem}")
        await asyncio.sleep(SETTLE_S)
        audio = app.runtime.audio  # the UI sees it as AudioControls; it is the worker
        yield engine, audio if isinstance(audio, AudioWorker) else None
