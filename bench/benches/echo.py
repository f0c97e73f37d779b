"""Open speakers (issue 8): echo reduction, self-interruptions, barge-in over the echo,
and what the canceller costs.

The scenario is the echo tests' own (tests/support/echo_scenario.py): the local server
speaks long espeak-ng answers through the real SDK, engine and AudioWorker with the
echo processor the runtime installs (`audio.echo = "aec"`), and a PulseAudio loopback
feeds the virtual speaker back into the virtual microphone at LEVEL dB, DELAY_MS late.
A self-interruption is a `speech_started` while nobody spoke.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess

from bench.context import Context
from bench.report import BenchResult, Target
from tests.support.echo_scenario import EchoSession, echo_loopback, open_echo_session
from tests.support.virtual_audio import VirtualAudio
from voice_tui.core.events import AudioChunk

DELAY_MS = 40
SHORT_STORY = (  # about 4 s of speech, for the quick run
    "Once upon a time, an old fisherman told stories to anyone who would listen."
)


async def run(ctx: Context) -> list[BenchResult]:
    audio = VirtualAudio({k: os.environ[k] for k in ("PULSE_SERVER", "PULSE_COOKIE")})
    speech = ctx.work_dir / "excuse-me.wav"
    await asyncio.to_thread(
        subprocess.run,
        ["espeak-ng", "-w", str(speech), "Excuse me, can I ask something?"],
        check=True,
        timeout=30,
    )
    result = BenchResult("echo", "Open speakers: echo cancellation")
    cpu_shares: list[float] = []
    story = {"story": SHORT_STORY} if ctx.quick else {}
    levels = ((-12, 1),) if ctx.quick else ((-12, 4), (-6, 2))  # quick: a smoke run
    for level, answers in levels:
        with echo_loopback(audio, level, DELAY_MS):
            async with open_echo_session(audio, ctx.work_dir / f"aec{level}", "aec", **story) as s:
                runs = [await s.answer() for _ in range(answers)]
                assert s.processor is not None
                stats = s.processor.stats
                cpu_shares.append(stats.cpu_share)
                minutes = _speech_minutes(s)
        interruptions = sum(r.speech_started for r in runs)
        figures = [r.figures for r in runs if r.figures is not None]
        result.add(
            f"self-interruptions per 10 min at {level} dB",
            interruptions * 10 / minutes if minutes else float("nan"),
            "",
            Target("==", 0),
            note=f"{interruptions} in {minutes:.1f} min of assistant speech",
            miss_note="Residual echo reached the server's VAD as speech.",
        )
        result.add(
            f"residual-echo frames passed at {level} dB",
            stats.passed_while_active,
            "",
            Target("==", 0),
            note=f"10 ms frames the guard let through while only the assistant spoke "
            f"({stats.late_frames} muted because the far end came late)",
            miss_note="The guard took residual echo for the user's voice.",
        )
        if figures:
            result.add(
                f"echo reduction at {level} dB (canceller)",
                statistics.median(f.canceller_erle_db for f in figures),
                "dB",
                note="ERLE: echo in the mic over what AEC3 left, median over answers",
            )
            result.add(
                f"echo reduction at {level} dB (sent)",
                statistics.median(f.total_erle_db for f in figures),
                "dB",
                note="with the residual-echo guard: echo in the mic over what was sent",
            )
    trials = ctx.pick(4, 1)
    with echo_loopback(audio, -12, DELAY_MS):
        async with open_echo_session(audio, ctx.work_dir / "barge", "aec", **story) as s:
            barge = [await s.barge_in(speech) for _ in range(trials)]
            assert s.processor is not None
            cpu_shares.append(s.processor.stats.cpu_share)
    detected = [b for b in barge if b.detected]
    result.add(
        "barge-in detected over the echo at -12 dB",
        100 * len(detected) / len(barge),
        "%",
        Target("==", 100),
        note=f"{len(detected)} of {len(barge)} trials",
        miss_note="The user's speech was taken for echo.",
    )
    delays = [b.delay_ms for b in detected if b.delay_ms is not None]
    result.add_distribution(
        "barge-in delay", delays, "ms", note="start of the user's speech to speech_started"
    )
    result.add(
        "canceller CPU",
        100 * max(cpu_shares),
        "%",
        note="of one core, on the audio thread (AEC3 + guard), worst session",
    )
    result.details.update({"delay_ms": DELAY_MS, "barge_in_trials": trials})
    return [result]


def _speech_minutes(session: EchoSession) -> float:
    samples = sum(len(e.pcm) // 2 for _, e in session.events if isinstance(e, AudioChunk))
    return samples / 24_000 / 60
