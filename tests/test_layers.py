"""The layers hold at run time too: importing a layer loads nothing above it, nor what
it is meant to know nothing of (lint-imports checks the import statements; this also
catches imports by name and side doors through third-party packages)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after_import(module: str) -> set[str]:
    """Top-level packages and voice_tui subpackages in sys.modules after importing
    `module` in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        f"import {module}\n"
        "names = {n.split('.')[0] for n in sys.modules}\n"
        "names |= {'.'.join(n.split('.')[:2]) for n in sys.modules if n.startswith('voice_tui.')}\n"
        "print(json.dumps(sorted(names)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("module", "never"),
    [
        ("voice_tui.core.engine", {"textual", "sounddevice", "voice_tui.audio", "voice_tui.ui"}),
        ("voice_tui.server.app", {"voice_tui.offline", "voice_tui.core", "voice_tui.journal"}),
        ("voice_tui.audio.worker", {"openai", "websockets", "voice_tui.backends"}),
        ("voice_tui.config.loader", {"voice_tui.core", "textual"}),
        ("voice_tui.redact", {"voice_tui.journal", "voice_tui.core", "textual"}),
    ],
)
def test_a_layer_loads_nothing_it_must_not_know(module: str, never: set[str]) -> None:
    loaded = loaded_after_import(module)
    assert module.split(".")[0] in loaded  # the probe saw the import
    assert loaded & never == set()
