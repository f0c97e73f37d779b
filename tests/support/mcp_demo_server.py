"""A real MCP server written with the official SDK, for the tests: over stdio when run as
a script, over streamable HTTP through `http_app()`.

Its tools cover what a client must handle: structured and plain results, an image, an
error result, a crash in the middle of a call, a slow call, and the environment.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import zlib

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image


def make_server() -> MCPServer:
    """A fresh server (a streamable HTTP app can run once per server object)."""
    server = MCPServer("demo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two whole numbers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """The text in capitals."""
        return text.upper() + "!"

    @server.tool(structured_output=False)
    def environment(variable: str) -> str:
        """The value of one of the server's environment variables."""
        return os.environ.get(variable, "(not set)")

    @server.tool()
    def refuse(reason: str) -> str:
        """Always fails, with the reason given."""
        raise ToolError(reason)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Waits, then says so."""
        await asyncio.sleep(seconds)
        return f"waited {seconds:g} s"

    @server.tool()
    async def crash() -> str:
        """The server process dies in the middle of this call."""
        print("demo server: crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(structured_output=False)
    def picture() -> Image:
        """A one-pixel red image."""
        return Image(data=_png_1x1(), format="png")

    return server


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


PNG_1X1_B64 = base64.b64encode(_png_1x1()).decode()


def http_app():  # type: ignore[no-untyped-def]
    return make_server().streamable_http_app()


if __name__ == "__main__":
    make_server().run()
