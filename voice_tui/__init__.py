"""voice-tui: a voice assistant that lives in your terminal."""

__version__ = "0.1.0"
