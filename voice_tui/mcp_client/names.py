"""Names the Realtime API accepts for MCP tools: `^[a-zA-Z0-9_-]+$`, at most 64 long,
unique across servers and built-in tools.

`<server>__<tool>` says where a tool comes from; characters the API refuses become `_`,
and a name that is too long or already taken gets a short hash of its origin instead
of its tail, so the same server and tool get the same name every time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

MAX_NAME_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 8


def public_name(server: str, tool: str, taken: Collection[str]) -> str:
    safe_tool = _UNSAFE.sub("_", tool).strip("_-") or "tool"
    base = f"{server}__{safe_tool}"
    if len(base) <= MAX_NAME_LENGTH and base not in taken and safe_tool == tool:
        return base
    seed = f"{server}\0{tool}"
    for attempt in range(100):
        digest = hashlib.sha1(f"{seed}\0{attempt}".encode()).hexdigest()[:_HASH_LENGTH]
        stem = base[: MAX_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("_-")
        name = f"{stem}_{digest}"
        if name not in taken:
            return name
    raise ValueError(f"no free name for {server}/{tool}")  # 100 hash clashes: impossible
