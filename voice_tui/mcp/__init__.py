"""MCP servers as tools: local servers voice-tui connects to (stdio or streamable HTTP)
with the official `mcp` SDK, and remote ones the Realtime service calls itself."""

from voice_tui.mcp.manager import McpManager
from voice_tui.mcp_client.connection import Backoff, McpConnection, ServerState, ServerStatus

__all__ = ["Backoff", "McpConnection", "McpManager", "ServerState", "ServerStatus"]
