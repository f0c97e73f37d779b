"""An MCP tool result as the JSON the model reads in its `function_call_output`."""

from __future__ import annotations

import mcp_types as types

from voice_tui.core.tools import JsonObject, ToolError, ToolImage, ToolReply
from voice_tui.mcp_client.content import content_block, decoded


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
        if isinstance(block, types.ImageContent) and (data := decoded(block.data)) is not None
    )
    if not images:
        return payload
    payload["images_shown"] = f"{len(images)} image(s) follow this output for you to see"
    return ToolReply(payload, images)
