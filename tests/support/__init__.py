"""What the tests share, in one package imported as `tests.support.<module>`: the test
parts of the servers, engine and UI helpers, audio signals and the virtual audio server,
and the scripts some tests run in a process of their own (see `script`).

Test modules import from here, never from each other; conftest.py files hold fixtures.
"""

from __future__ import annotations

from pathlib import Path

SUPPORT_DIR = Path(__file__).resolve().parent


def script(name: str) -> Path:
    """The path of a helper script here, for `python PATH` in a subprocess (it needs the
    repository on PYTHONPATH)."""
    path = SUPPORT_DIR / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path
