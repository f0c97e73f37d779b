"""The MCP client side that needs nothing of the conversation: connections (stdio or
streamable HTTP, with the official `mcp` SDK), API-safe tool names, content in words.
Used by voice-tui's own MCP tools (voice_tui.mcp) and by the built-in server's remote
MCP tools alike."""
