"""Microphone to wire, and wire to speaker, in one conversation.

voice-tui's own runtime (audio worker on the virtual devices, engine, real SDK
connection) talks to the local server in another process; the server's voice streams
its answers in real time, as a live model does. Meanwhile the microphone (the silent
virtual mic) streams as it always does; at the end a spoken question goes into it.

- mic_to_wire: from the capture time the input callback stamps on each block (the
  newest sample's ADC time from PortAudio's input timestamp) to the moment the
  `input_audio_buffer.append` carrying that block has been written to the socket.
- wire_to_speaker: from the moment `recv_bytes` returned an `output_audio.delta` to
  the moment its first sample reaches the DAC (the output callback's time, corrected
  by PortAudio's output timestamp), for the first chunk of each answer and for the
  steady stream after it; split into the time inside voice-tui (until the callback
  hands the sample over) and the device's own buffer.
"""

from __future__ import annotations

from bench.context import Context
from bench.probes import PlaybackTap, WireTap, start_tapped
from bench.report import BenchResult, Target, percentile
from bench.world import bench_settings, play_into_mic, poll, runtime, server_process, spoken
from voice_tui.audio.worker import QUIET_BATCH_MS
from voice_tui.core.events import ResponseFinished


async def run(ctx: Context) -> list[BenchResult]:
    answers = ctx.pick(8, 2)
    answer_s = ctx.pick_s(4.0, 1.5)
    async with server_process(answer_s, paced=True) as url:
        loaded = bench_settings(url)
        async with runtime(loaded, audio=True) as rt:
            taps = await start_tapped(rt, tap_engine=True)
            audio, wire, playback, events = taps.audio, taps.wire, taps.playback, taps.events
            for n in range(1, answers + 1):
                await rt.engine.send_text("Tell me more.")
                await events.wait_for(
                    lambda n=n: events.count(ResponseFinished) >= n,  # type: ignore[misc]
                    answer_s + 30,
                    "an answer",
                )
                await poll(lambda: not audio.is_playing(), answer_s + 10, "playback to end")
            if "mic_to_wire" in ctx.names:
                # A voice goes out block by block (a silent room in batches): a spoken
                # question, and the silence that ends its turn.
                question = spoken(ctx.work_dir / "question.wav", "What will the weather be?")
                await play_into_mic(question)
                await events.wait_for(
                    lambda: events.count(ResponseFinished) > answers,
                    answer_s + 30,
                    "the answer to the spoken question",
                )
                await poll(lambda: not audio.is_playing(), answer_s + 10, "playback to end")
            stats = audio.stats
            block_ms = loaded.settings.audio.block_ms
            latency = audio.output_latency_s
    results = []
    if "mic_to_wire" in ctx.names:
        results.append(_mic_to_wire(wire, block_ms))
    if "wire_to_speaker" in ctx.names:
        results.append(
            _wire_to_speaker(
                playback,
                stats.underruns,
                stats.device_output_underflows,
                loaded.settings.audio.jitter_ms,
            )
        )
        results[-1].details.update(
            {"answers": answers, "answer_s": answer_s, "output_latency_s": latency}
        )
    return results


def _mic_to_wire(wire: WireTap, block_ms: int) -> BenchResult:
    """Blocks sent one by one (a voice) against the target; the batches of a quiet room
    (QUIET_BATCH_MS) as information."""
    result = BenchResult("mic_to_wire", "Microphone to wire")
    single = [i for i, span in enumerate(wire.mic_span_s) if span * 1000 <= block_ms + 1]
    batched = [i for i, span in enumerate(wire.mic_span_s) if span * 1000 > block_ms + 1]
    result.add_distribution(
        "oldest sample to wire",
        [wire.mic_oldest_to_wire_s[i] * 1000 for i in single],
        "ms",
        Target("<=", block_ms + 5),
        note=f"blocks sent one by one; target: one block ({block_ms} ms) + 5 ms",
        miss_note="Blocks waited in the worker or on the loop before being sent.",
    )
    result.add_distribution(
        "newest sample to wire",
        [wire.mic_to_wire_s[i] * 1000 for i in single],
        "ms",
        note="voice-tui's own handling: ring, worker, loop hop, send",
    )
    result.add_distribution(
        "quiet room: oldest sample to wire",
        [wire.mic_oldest_to_wire_s[i] * 1000 for i in batched],
        "ms",
        note=f"nothing playing, mic below -50 dBFS: sent in batches of {QUIET_BATCH_MS} ms",
    )
    result.details["unmatched_appends"] = wire.unmatched_appends
    return result


def _wire_to_speaker(
    tap: PlaybackTap, underruns: int, device_underflows: int, jitter_ms: int
) -> BenchResult:
    result = BenchResult("wire_to_speaker", "Wire to speaker")
    first: list[float] = []
    steady: list[float] = []
    inside: list[float] = []
    device: list[float] = []
    lost = 0
    for chunk in tap.chunks:
        index = tap.timeline_index(chunk.item_id, chunk.offset)
        dac = tap.dac_time_of(index) if index is not None else None
        handed = tap.handed_time_of(index) if index is not None else None
        if dac is None or handed is None:
            lost += 1
            continue
        (first if chunk.offset == 0 else steady).append((dac - chunk.received_at) * 1000)
        inside.append((handed - chunk.received_at) * 1000)
        device.append((dac - handed) * 1000)
    why = (
        f"The device's own buffer is {percentile(device, 50):.0f} ms of it (audio.latency: "
        f"two periods buffered plus the one being filled), voice-tui's part "
        f"{percentile(inside, 50):.0f} ms (jitter buffer, the rest of a delta ahead, the "
        "wait for the next callback)."
    )
    result.add_distribution("first chunk", first, "ms", Target("<=", 60), miss_note=why)
    result.add_distribution("steady", steady, "ms", Target("<=", 40), miss_note=why)
    result.add_distribution("inside voice-tui", inside, "ms", note="receipt to handed to device")
    result.add_distribution("device buffer", device, "ms", note="handed to device to DAC")
    gaps = tap.gaps()
    where = sorted({round(at) for at, _ in gaps})
    result.add(
        "underruns (gaps heard)",
        len(gaps),
        "",
        Target("==", 0),
        note=f"silences inside answers on the device timeline, "
        f"{sum(ms for _, ms in gaps):.0f} ms in all, at {where[:8]} ms into the answer",
        miss_note=(
            "The stream ran dry: a delta came later than the jitter buffer "
            f"(audio.jitter_ms, {jitter_ms} ms, grown by 20 ms after each underrun in a "
            "response) covered."
        ),
    )
    result.details["gaps_ms"] = [[round(at, 1), round(ms, 1)] for at, ms in gaps]
    result.add(
        "device underflows",
        device_underflows,
        "",
        Target("==", 0),
        note="blocks the device ran out before (PortAudio's output underflow): gaps too",
        miss_note="The output callback ran late (a busy machine, or the GIL held elsewhere).",
    )
    result.add(
        "player underrun counter",
        underruns,
        "",
        note=(
            f"AudioStats.underruns (device underflows: {device_underflows}): blocks left "
            "short while the response went on; should equal the gaps heard"
        ),
    )
    result.details["chunks_not_found"] = lost
    return result
