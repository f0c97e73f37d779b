"""A small real OpenAI-compatible chat-completions endpoint for tests (127.0.0.1, SSE).

Each test queues the replies it wants (text deltas, tool calls, an HTTP error, a stall,
a broken stream); the endpoint records every request it receives.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    chunks: list[dict[str, Any]] = field(default_factory=list)  # choice deltas, in order
    status: int = 200
    stall_s: float = 0.0  # wait before answering (a slow endpoint)
    raw: bytes | None = None  # sent as the SSE body instead of the chunks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout test) breaks the pipe: expected here


class ChatEndpoint:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def text(self, *deltas: str) -> None:
        self.replies.append(Reply([{"content": d} for d in deltas]))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.received.append(Received(self.path, headers, body))
                reply = endpoint.replies.pop(0) if endpoint.replies else Reply(status=503)
                time.sleep(reply.stall_s)
                if self.path != "/v1/chat/completions" or reply.status != 200:
                    status = 404 if reply.status == 200 else reply.status
                    payload = json.dumps({"error": {"message": "test endpoint error"}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    return
                for delta in reply.chunks:
                    chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler

    def __enter__(self) -> ChatEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def chat_endpoint() -> Iterator[ChatEndpoint]:
    with ChatEndpoint() as endpoint:
        yield endpoint
