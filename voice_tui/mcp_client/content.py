"""MCP content blocks in words a model can read (binary content described, not
inlined): shared by voice-tui's own MCP calls and the built-in server's remote ones."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mcp_types as types

JsonObject = dict[str, Any]


def decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decoded_size(data: str) -> int:
    raw = decoded(data)
    return len(raw) if raw is not None else 0


def content_block(block: Any) -> JsonObject | str:
    """One content block: text stays text; binary content is described, not inlined
    (the model cannot read base64, and it would fill the output limit)."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return {"type": kind, "mime_type": block.mime_type, "bytes": _decoded_size(block.data)}
    if isinstance(block, types.ResourceLink):
        return {"type": "resource_link", "uri": str(block.uri), "name": block.name}
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return {"type": "resource", "uri": str(resource.uri), "text": resource.text}
        return {
            "type": "resource",
            "uri": str(resource.uri),
            "mime_type": resource.mime_type,
            "bytes": _decoded_size(resource.blob),
        }
    return {"type": str(getattr(block, "type", "unknown"))}
