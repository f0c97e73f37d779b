"""The built-in Realtime server: the GA Realtime protocol over WebSocket, on this machine.

`app.start_server` (routing, keys, one session per socket), `session` (the protocol
state machine), `input_audio` + `vad` (the input buffer and voice activity),
`transcription` (recognition off the loop), `response` (sentence-by-sentence replies),
`items` (the conversation), `config` (session validation), `faults` (fault injection
for tests), `standalone` (`voice-tui serve`). The recogniser, synthesiser and responder
are pluggable (`components`).
"""
