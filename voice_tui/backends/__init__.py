"""Where the conversation runs: OpenAI, Azure OpenAI, or the built-in local server."""

from voice_tui.backends.base import Backend, BackendError, mask_key
from voice_tui.backends.select import select_backend

__all__ = ["Backend", "BackendError", "mask_key", "select_backend"]
