"""A whole runtime (engine + audio worker) in a process of its own, so it has its own
PortAudio and audio-server environment; it talks to a local server it starts itself.
Reports JSON lines; commands on stdin: `say TEXT`, `reopen`, `quit`."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from tests.support.engine import API_KEY, MODEL, TEST_PERSONA, Recorder, tone_components
from tests.support.json_lines import emit
from voice_tui.audio.status import AudioStatus
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import Settings
from voice_tui.core.conversation import Role
from voice_tui.core.events import Phase, PhaseChanged, TurnCompleted
from voice_tui.runtime import build_runtime
from voice_tui.server.app import start_server


def emit_status(status: AudioStatus) -> None:
    emit(
        "status",
        problem=status.problem,
        input=status.input_device,
        output=status.output_device,
        text_mode=status.text_mode,
    )


async def main(data_dir: Path) -> None:
    server = await start_server(components=tone_components(), api_key=API_KEY, models=[MODEL])
    settings = Settings.model_validate(
        {
            "backend": {"kind": "openai", "model": MODEL},
            "openai": {"api_key": API_KEY, "base_url": server.base_url},
            "session": {"persona": "Tester"},
            "audio": {"latency": "low"},
            "journal": {"enabled": False},
            "tools": {"data_dir": str(data_dir)},
            "personas": [TEST_PERSONA.model_dump()],
        }
    )
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    threading.Thread(target=read_stdin, daemon=True).start()

    def on_status(status: AudioStatus) -> None:  # worker thread
        loop.call_soon_threadsafe(emit_status, status)

    rt = await build_runtime(
        LoadedSettings(settings, data_dir / "config.toml", False),
        audio=True,
        on_audio_status=on_status,
    )
    rec = Recorder()
    rt.engine.subscribe(rec)
    await rt.engine.start()
    assert rt.audio is not None
    emit("ready", text_mode=rt.text_mode, problem=rt.audio_problem)
    while (command := await commands.get()) != "quit":
        if command.startswith("say "):
            mark = len(rec.events)
            await rt.engine.send_text(command[4:])
            done = await rec.wait_for(
                TurnCompleted, lambda e: e.turn.role is Role.ASSISTANT, after=mark
            )
            if not rt.text_mode:  # wait until it has been played out
                await rec.wait_for(
                    PhaseChanged, lambda e: e.phase is Phase.LISTENING, after=mark, within_s=20
                )
            emit(
                "answer",
                text=done.turn.text,
                heard_ms=rt.audio.heard(done.turn.item_id),
                text_mode=rt.text_mode,
            )
        elif command == "reopen":
            status = await rt.reopen_audio()
            assert status is not None
            emit("reopened", problem=status.problem, text_mode=rt.text_mode)
    await rt.aclose()
    await server.close()
    emit("closed")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
