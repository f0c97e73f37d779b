"""An MCP tool result as the JSON the model reads in its `function_call_output`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mcp_types as types

from voice_tui.core.tools import JsonObject, ToolError, ToolImage, ToolReply


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return 0


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


def result_payload(result: types.CallToolResult) -> JsonObject:
    """Structured content when the server gave it, else the content blocks; an error
    result raises ToolError with the server's own words."""
    blocks = [content_block(b) for b in result.content]
    if result.is_error:
        text = " ".join(b for b in blocks if isinstance(b, str)).strip()
        raise ToolError(text or "the MCP tool reported an error without saying why")
    if result.structured_content is not None:
        return {"result": result.structured_content}
    if len(blocks) == 1 and isinstance(blocks[0], str):
        return {"text": blocks[0]}
    return {"content": blocks}


def tool_reply(result: types.CallToolResult) -> JsonObject | ToolReply:
    """The payload, with the result's images to show the model (it cannot read
    base64 in a function output, but it can look at an image)."""
    payload = result_payload(result)
    images = tuple(
        ToolImage(block.mime_type, data)
        for block in result.content
        if isinstance(block, types.ImageContent) and (data := _decoded(block.data)) is not None
    )
    if not images:
        return payload
    payload["images_shown"] = f"{len(images)} image(s) follow this output for you to see"
    return ToolReply(payload, images)


def _decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
