"""voice-tui's benchmark suite: `python -m bench` (see bench.cli)."""
