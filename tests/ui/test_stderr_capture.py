"""What C libraries print to file descriptor 2 while the TUI runs goes to the log, not
over the screen: ALSA's real underrun messages from a real PortAudio stream, and the
real Textual driver drawing on a real pseudo-terminal.

Each case runs in a child process: it rewires its own fd 2, which pytest also uses.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

from tests.support.ui import SIZE, detached_app
from tests.support.virtual_audio import VirtualAudio
from voice_tui.audio.status import AudioStats
from voice_tui.ui.widgets.audio_health import AudioHealth

REPO = Path(__file__).resolve().parents[2]

UNDERRUNS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from voice_tui.redact import Redactor
    from voice_tui.logsetup import capture_stderr, setup_logging

    log_file = Path(sys.argv[1])
    logging_setup = setup_logging(log_file, Redactor([]))
    capture = capture_stderr()
    import sounddevice as sd

    late = {"n": 0}

    def callback(out, frames, when, status):
        out[:] = 0
        late["n"] += 1
        if late["n"] % 40 == 0:
            time.sleep(0.03)  # a late callback: the device runs dry, ALSA says so on fd 2

    stream = sd.OutputStream(
        samplerate=24000, channels=1, dtype="int16", blocksize=120, latency=0.01,
        callback=callback,
    )
    stream.start()
    time.sleep(2.0)
    stream.stop()
    stream.close()
    os.write(2, b"a C library was here\\n")
    capture.terminal.write("drawn on the screen\\n")
    capture.terminal.flush()
    capture.close()
    logging_setup.close()
    sys.stderr.write("after the app\\n")
    """
)


@pytest.mark.audio
def test_alsa_underrun_messages_go_to_the_log_not_the_screen(
    virtual_audio: VirtualAudio, tmp_path: Path
) -> None:
    log_file = tmp_path / "debug.log"
    done = subprocess.run(
        [sys.executable, "-c", UNDERRUNS, str(log_file)],
        env=virtual_audio.env_full(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    screen = done.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "underrun occurred" in logged, "no underrun provoked: the test proves nothing"
    assert "voice_tui.stderr" in logged and "a C library was here" in logged
    assert "ALSA" not in screen and "a C library was here" not in screen
    assert "drawn on the screen" in screen and "after the app" in screen


APP = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from textual.app import App
    from textual.widgets import Static
    from voice_tui.redact import Redactor
    from voice_tui.logsetup import capture_stderr, setup_logging
    from voice_tui.ui.terminal import driver_on

    class Probe(App[None]):
        def compose(self):
            yield Static("PROBE-SCREEN")

        def on_mount(self):
            os.write(2, b"SCRIBBLE-FROM-C\\n")
            self.set_timer(0.3, self.exit)

    logging_setup = setup_logging(Path(sys.argv[1]), Redactor([]))
    capture = capture_stderr()
    app = Probe()
    app.driver_class = driver_on(app.driver_class, capture.terminal) or app.driver_class
    try:
        app.run()
    finally:
        capture.close()
        logging_setup.close()
    """
)


def test_the_app_draws_on_the_terminal_while_fd_2_goes_to_the_log(tmp_path: Path) -> None:
    log_file = tmp_path / "debug.log"
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 12, 60, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS="60", LINES="12")
    process = subprocess.Popen(
        [sys.executable, "-c", APP, str(log_file)],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=REPO,
    )
    os.close(child)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert process.wait(timeout=30) == 0, shown.decode(errors="replace")
    screen = shown.decode(errors="replace")
    assert "PROBE-SCREEN" in screen  # Textual drew through the kept terminal
    assert "SCRIBBLE-FROM-C" not in screen
    assert "SCRIBBLE-FROM-C" in log_file.read_text(encoding="utf-8")


async def test_audio_glitches_are_counted_in_the_side_panel() -> None:
    app = detached_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.query_one(AudioHealth)
        quiet = AudioStats(0, 0, 0, 0, 0, 24000, 24000)
        line.show(quiet)
        await pilot.pause()
        assert not line.display
        line.show(AudioStats(0, 1, 2, 12, 0, 24000, 24000))
        await pilot.pause()
        assert line.display
        assert str(line.render()) == (
            "⚠ Audio: 12 speaker underruns, 2 gaps in replies, 1 mic overflow"
        )
