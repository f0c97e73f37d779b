"""The built-in Realtime server: URL routing, authentication, one Session per socket.

It answers exactly the URLs the real services accept today: OpenAI's
`/v1/realtime?model=...` and Azure's GA `/openai/v1/realtime?model=<deployment>` (no
api-version). Azure's retired preview route `/openai/realtime?api-version=...&
deployment=...` answers like a retired endpoint (HTTP 410 naming it), so a client that
regresses to it fails here as it would in the cloud. Refusals look like the services'
own: a bad key is an HTTP 401 with OpenAI's (or Azure's) JSON body, an unknown Azure
deployment a 404 DeploymentNotFound, an unknown model an `error` event `model_not_found`
followed by a close, as OpenAI does.
"""

from __future__ import annotations

import contextlib
import http
import ipaddress
import json
import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from voice_tui.server.components import Components
from voice_tui.server.faults import FaultPlan
from voice_tui.server.session import Session, SessionOptions
from voice_tui.server.wire import azure_http_error, error_event, new_id, openai_http_error

log = logging.getLogger(__name__)

OPENAI_PATH = "/v1/realtime"
AZURE_GA_PATH = "/openai/v1/realtime"
AZURE_PREVIEW_PATH = "/openai/realtime"  # retired on 30 April 2026
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # 15 MiB of audio, base64-encoded, plus the envelope
CLOSE_POLICY = 1008


@dataclass(frozen=True, slots=True)
class _Refusal:
    """An HTTP answer instead of the WebSocket upgrade."""

    status: http.HTTPStatus
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Route:
    """What the handshake decided: a session to open, or an error to send and close."""

    options: SessionOptions | None
    error: dict[str, Any] | None = None


class LocalServer:
    def __init__(
        self,
        components: Components,
        api_key: str | None,
        models: Collection[str] | None,
    ) -> None:
        self.components = components
        self.faults = FaultPlan()
        self.sessions: set[Session] = set()
        self.connections_accepted = 0
        self._api_key = api_key
        self._models = frozenset(models) if models is not None else None
        self._server: Server | None = None
        self.host = ""
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://{self._url_host}:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        # A wildcard address is where it listens, not where a client connects.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    async def _start(self, host: str, port: int) -> None:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,  # audio does not compress; deflate only costs CPU
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self.host, self.port = host, int(sockname[1])

    async def close(self) -> None:
        """Stop listening and end every session."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close(close_connections=True)
        await server.wait_closed()

    async def __aenter__(self) -> LocalServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the handshake ----------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse at the HTTP level (bad key, unknown path or deployment, injected fault)."""
        if self.faults.should_refuse():
            return _json_response(
                conn,
                _Refusal(
                    http.HTTPStatus.SERVICE_UNAVAILABLE,
                    openai_http_error(
                        "The server is temporarily unable to accept new sessions.",
                        "service_unavailable",
                        "server_error",
                    ),
                ),
            )
        decision = self._route(request)
        if isinstance(decision, _Refusal):
            log.info("refused %s: HTTP %d", _path_only(request.path), decision.status)
            return _json_response(conn, decision)
        return None

    def _route(self, request: Request) -> _Refusal | _Route:
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        if path == OPENAI_PATH:
            return self._openai_route(request.headers, query)
        if path == AZURE_GA_PATH:
            return self._azure_route(request.headers, query)
        if path == AZURE_PREVIEW_PATH:
            return _Refusal(
                http.HTTPStatus.GONE,
                azure_http_error(
                    "EndpointRetired",
                    f"The preview realtime endpoint {AZURE_PREVIEW_PATH}?api-version=... was "
                    f"retired on 30 April 2026. Use the GA endpoint {AZURE_GA_PATH}"
                    "?model=<deployment> (no api-version).",
                ),
            )
        return _Refusal(
            http.HTTPStatus.NOT_FOUND,
            openai_http_error(f"Invalid URL (GET {url.path})", None, "invalid_request_error"),
        )

    def _openai_route(self, headers: Headers, query: dict[str, str]) -> _Refusal | _Route:
        if self._api_key is not None:
            given = _bearer(headers)
            if given is None:
                return _Refusal(
                    http.HTTPStatus.UNAUTHORIZED,
                    openai_http_error(
                        "You didn't provide an API key. You need to provide your API key in "
                        "an Authorization header using Bearer auth (i.e. Authorization: "
                        "Bearer YOUR_KEY).",
                        None,
                        "invalid_request_error",
                    ),
                )
            if not secrets.compare_digest(given.encode(), self._api_key.encode()):
                return _Refusal(
                    http.HTTPStatus.UNAUTHORIZED,
                    openai_http_error(
                        "Incorrect API key provided. Check the key configured for this server.",
                        "invalid_api_key",
                        "invalid_request_error",
                    ),
                )
        # Like OpenAI, a bad model is reported on the open socket, then it closes.
        model = query.get("model")
        if not model:
            return _Route(
                None,
                error_event(
                    "You must provide a model parameter, e.g. /v1/realtime?model=gpt-realtime.",
                    "missing_model",
                    "model",
                ),
            )
        if self._models is not None and model not in self._models:
            return _Route(
                None,
                error_event(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "model_not_found",
                    "model",
                ),
            )
        return _Route(SessionOptions(model=model))

    def _azure_route(self, headers: Headers, query: dict[str, str]) -> _Refusal | _Route:
        if self._api_key is not None:
            given = headers.get("api-key") or _bearer(headers)
            if given is None or not secrets.compare_digest(given.encode(), self._api_key.encode()):
                return _Refusal(
                    http.HTTPStatus.UNAUTHORIZED,
                    azure_http_error(
                        "401",
                        "Access denied due to invalid subscription key or wrong API endpoint. "
                        "Make sure to provide a valid key for an active subscription and use "
                        "a correct regional API endpoint for your resource.",
                    ),
                )
        if "api-version" in query:
            return _Refusal(
                http.HTTPStatus.BAD_REQUEST,
                azure_http_error(
                    "BadRequest",
                    f"The v1 API does not take an api-version (got {query['api-version']!r}); "
                    f"remove it from {AZURE_GA_PATH}.",
                ),
            )
        deployment = query.get("model")
        if not deployment or (self._models is not None and deployment not in self._models):
            return _Refusal(
                http.HTTPStatus.NOT_FOUND,
                azure_http_error(
                    "DeploymentNotFound",
                    "The API deployment for this resource does not exist. If you created the "
                    "deployment within the last 5 minutes, please wait a moment and try again.",
                ),
            )
        return _Route(SessionOptions(model=deployment))

    # ---- the sessions -------------------------------------------------------------------

    async def _handle(self, conn: ServerConnection) -> None:
        route = self._route(conn.request) if conn.request is not None else None
        if not isinstance(route, _Route):  # pragma: no cover - the handshake accepted it
            await conn.close(CLOSE_POLICY, "refused")
            return
        if route.options is None:
            assert route.error is not None
            log.info("rejected session: %s", route.error["error"]["message"])
            event = {"type": "error", "event_id": new_id("event"), **route.error}
            with contextlib.suppress(Exception):
                await conn.send(json.dumps(event))
            await conn.close(CLOSE_POLICY, str(route.error["error"]["code"]))
            return
        self.connections_accepted += 1
        session = Session(conn, self.components, route.options, self.faults)
        self.sessions.add(session)
        log.info(
            "session %s opened: model %s, client %s",
            session.config.id,
            route.options.model,
            _peer(conn),
        )
        try:
            await session.serve()
        except Exception:
            log.exception("session %s failed", session.config.id)
        finally:
            self.sessions.discard(session)
            log.info("session %s closed (%s)", session.config.id, _close_code(conn))


async def start_server(
    components: Components,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    models: Collection[str] | None = None,
) -> LocalServer:
    """Start listening with `components` (the caller picks them: the offline engine's
    from `voice_tui.offline.build_components`, or a test's own)."""
    server = LocalServer(components, api_key, models)
    await server._start(host, port)
    return server


def is_loopback(host: str) -> bool:
    """Only this machine can connect (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _bearer(headers: Headers) -> str | None:
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _json_response(conn: ServerConnection, refusal: _Refusal) -> Response:
    response = conn.respond(refusal.status, json.dumps(refusal.body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _path_only(path: str) -> str:
    return urlsplit(path).path  # the query may carry a deployment or other details


def _peer(conn: ServerConnection) -> str:
    address = conn.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


def _close_code(conn: ServerConnection) -> str:
    code = conn.close_code
    return f"code {code}" if code is not None else "no close frame"
