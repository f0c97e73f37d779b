"""The conversation core: engine, events, tools, usage. Knows nothing of Textual or audio devices."""
