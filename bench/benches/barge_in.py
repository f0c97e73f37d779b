"""Barge-in: from receipt of `input_audio_buffer.speech_started` to the speaker going
silent at the DAC.

The local server (another process) speaks a long answer in real time; voice-tui's
runtime plays it on the virtual speaker; speech (espeak-ng) is played into the virtual
microphone mid-answer, the server's VAD reports it, and the engine stops playback.
The output is silent once the last non-silent sample the player handed over (the end
of its short fade) has reached the DAC. The user's speech makes the server answer
again, so the next trial talks over that answer.
"""

from __future__ import annotations

from bench.context import Context
from bench.probes import start_tapped
from bench.report import BenchResult, Target
from bench.world import (
    Events,
    bench_settings,
    play_into_mic,
    poll,
    runtime,
    server_process,
    spoken,
)
from voice_tui.audio.playback import FADE_MS
from voice_tui.core.events import AssistantInterrupted, AudioChunk

HEARD_BEFORE_MS = 800  # let the answer play this long before talking over it


async def run(ctx: Context) -> list[BenchResult]:
    trials = ctx.pick(10, 2)
    speech = spoken(ctx.work_dir / "stop.wav", "Wait, stop, I have a question.")
    to_silence: list[float] = []
    handed: list[float] = []
    missed = 0
    async with server_process(8.0, paced=True) as url:
        loaded = bench_settings(url)
        async with runtime(loaded, audio=True) as rt:
            taps = await start_tapped(rt)
            audio, wire, playback, events = taps.audio, taps.wire, taps.playback, taps.events
            await rt.engine.send_text("Tell me a long story.")
            for _ in range(trials):
                await events.wait_for(lambda: _last_chunk(events) is not None, 30, "an answer")
                chunk = _last_chunk(events)
                assert chunk is not None
                await poll(
                    lambda item=chunk.item_id: audio.heard(item) >= HEARD_BEFORE_MS,  # type: ignore[misc]
                    30,
                    "the answer to play",
                )
                before = len(wire.speech_started_at)
                await play_into_mic(speech)
                await events.wait_for(
                    lambda: events.count(AssistantInterrupted) > 0, 30, "the barge-in"
                )
                await poll(lambda: not audio.is_playing(), 10, "silence")
                if len(wire.speech_started_at) <= before:
                    missed += 1
                    continue
                started = wire.speech_started_at[before]
                end = playback.audible_until  # just past the fade's last sample
                dac = playback.dac_time_of(end - 1)
                last_block = playback.handed_time_of(end - 1)
                if dac is None or last_block is None:
                    missed += 1
                    continue
                to_silence.append((dac + 1 / playback.rate - started) * 1000)
                # <= 0 when nothing was handed over after the event (no fade was needed)
                handed.append(max(0.0, (last_block - started) * 1000))
                events.events.clear()  # the next trial waits for the next answer
            block_ms = loaded.settings.audio.block_ms
    result = BenchResult("barge_in", "Barge-in to silence")
    result.add_distribution(
        "speech_started to silent DAC",
        to_silence,
        "ms",
        Target("<=", block_ms),
        note=f"target: one block ({block_ms} ms)",
        miss_note=(
            "What the device already holds plays out first (its buffer: audio.latency, see "
            "'device buffer' in wire_to_speaker), after the wait for the next callback (a "
            f"third of it) and the {FADE_MS:g} ms fade; voice-tui's part is the next row."
        ),
    )
    result.add_distribution(
        "to last sound handed to device",
        handed,
        "ms",
        Target("<=", block_ms),
        note="receipt to the callback that handed over the fade-out (voice-tui's part)",
    )
    result.add("trials without a measurement", missed, "", Target("==", 0))
    result.details["trials"] = trials
    return [result]


def _last_chunk(events: Events) -> AudioChunk | None:
    chunks = [e for e in events.events if isinstance(e, AudioChunk)]
    return chunks[-1] if chunks else None
