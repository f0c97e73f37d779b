"""The built-in Realtime server: the GA Realtime protocol over WebSocket, on this machine.

`app.start_server` (routing, keys, one session per socket), `session` (the protocol
state machine), `input_audio` + `vad` (the input buffer and voice activity),
`transcription` (recognition off the loop), `response` (sentence-by-sentence replies),
`items` (the conversation), `config` (session validation), `faults` (fault injection
for tests). The recogniser, synthesiser and responder are passed in (`components`):
the server never loads the offline engine itself (`voice_tui.serve` and the local
backend build it with `voice_tui.offline.build_components`).
"""
