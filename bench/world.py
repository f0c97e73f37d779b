"""What a benchmark runs against: the local server in its own process, settings that
point the real openai SDK at it, and voice-tui's own runtime (the app's composition
root), with the probes attached."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server_proc import API_KEY
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import Settings
from voice_tui.core.events import AppEvent
from voice_tui.runtime import Runtime, build_runtime

READY_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def server_process(
    answer_s: float = 2.0, *, paced: bool = False, offline: bool = False
) -> AsyncIterator[str]:
    """Start `bench.server_proc`; yields its base URL."""
    argv = [sys.executable, "-m", "bench.server_proc", "--answer-s", str(answer_s)]
    if paced:
        argv.append("--paced")
    if offline:
        argv.append("--offline")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT_S)
        text = line.decode().strip()
        if not text.startswith("READY "):
            raise RuntimeError(f"the bench server did not start (said {text!r})")
        yield text.removeprefix("READY ")
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def bench_settings(base_url: str, **sections: dict[str, Any]) -> LoadedSettings:
    """Settings for the OpenAI backend at `base_url`; journal and tool files in a temp dir
    (the user's own data is never touched)."""
    work = Path(os.environ.get("VOICE_TUI_DATA_DIR") or tempfile.mkdtemp(prefix="bench-"))
    data: dict[str, Any] = {
        "backend": {"kind": "openai"},
        "openai": {"api_key": API_KEY, "base_url": base_url},
        "tools": {"data_dir": str(work / "tools")},
        "journal": {"dir": str(work / "sessions")},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return LoadedSettings(Settings.model_validate(data), work / "config.toml", exists=False)


@dataclass
class Events:
    """Every engine event, with a way to wait for one."""

    events: list[AppEvent]
    changed: asyncio.Event

    @classmethod
    def new(cls) -> Events:
        return cls([], asyncio.Event())

    def __call__(self, event: AppEvent) -> None:
        self.events.append(event)
        self.changed.set()

    def count(self, kind: type[Any]) -> int:
        return sum(isinstance(e, kind) for e in self.events)

    async def wait_for(self, test: Callable[[], bool], limit_s: float, what: str) -> None:
        """Until `test()` holds; a guard against hangs, not a measurement."""
        try:
            async with asyncio.timeout(limit_s):
                while not test():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise RuntimeError(f"timed out after {limit_s:.0f} s waiting for {what}") from None


async def poll(test: Callable[[], bool], limit_s: float, what: str, every: float = 0.01) -> None:
    """Until `test()` holds, for state that lives on the audio thread (no event to await)."""
    try:
        async with asyncio.timeout(limit_s):
            while not test():  # noqa: ASYNC110
                await asyncio.sleep(every)
    except TimeoutError:
        raise RuntimeError(f"timed out after {limit_s:.0f} s waiting for {what}") from None


@contextlib.asynccontextmanager
async def runtime(loaded: LoadedSettings, *, audio: bool) -> AsyncIterator[Runtime]:
    rt = await build_runtime(loaded, audio=audio)
    try:
        if audio and rt.audio is None:
            raise RuntimeError(f"no audio devices: {rt.audio_problem}")
        yield rt
    finally:
        await rt.aclose()


def spoken(path: Path, text: str) -> Path:
    """`text` said by espeak-ng into the WAV file `path`."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=30)
    return path


async def play_into_mic(wav: Path) -> None:
    """Play `wav` into the virtual microphone (returns once it has been played)."""
    proc = await asyncio.create_subprocess_exec(
        "paplay", "--device=mic", str(wav), env={**os.environ}
    )
    if await proc.wait() != 0:
        raise RuntimeError("paplay could not play into the virtual microphone")
