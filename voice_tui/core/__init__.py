"""The conversation core: engine, events, tools, usage.

It knows nothing of Textual or of audio devices.
"""
