"""One MCP server, connected in the background with the official `mcp` SDK.

A supervisor task owns the transport (a stdio subprocess or a streamable HTTP
session) and the `ClientSession`: the SDK's context managers must be entered and left
in one task. It connects, lists the tools, and waits until the connection breaks (the
server's output ends, or a call finds the transport gone); then it reconnects with
backoff. Every change of state is reported through `on_status`, so the tools can be
withdrawn while the server is down and offered again once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Self, TextIO, cast

import anyio
import httpx2
import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from voice_tui.config.envrefs import MissingVariable, expand, expand_all
from voice_tui.config.schema import McpServerSettings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0
STDERR_TAIL_CHARS = 300


class ServerState(enum.Enum):
    CONNECTING = "connecting"
    READY = "ready"
    FAILED = "failed"  # retried after `retry_in_s`
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    state: ServerState
    tools: tuple[str, ...] = ()  # the server's own tool names (allowed ones), when ready
    detail: str = ""  # why it failed, in plain words; never holds secrets
    retry_in_s: float | None = None

    def describe(self) -> str:
        if self.state is ServerState.READY:
            return f"{self.name}: ready ({len(self.tools)} tools)"
        if self.state is ServerState.FAILED:
            retry = f"; retrying in {self.retry_in_s:.3g} s" if self.retry_in_s else ""
            return f"{self.name}: failed ({self.detail}){retry}"
        return f"{self.name}: {self.state.value}"


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.first_s * self.factor ** max(failures - 1, 0), self.max_s)


class ServerUnavailable(Exception):
    """The server is not connected (connecting, restarting or stopped)."""


class ConnectionBroken(Exception):
    """The transport failed during a call: the server crashed or went away."""


class McpConnection:
    def __init__(
        self,
        settings: McpServerSettings,
        env: Mapping[str, str],
        on_status: Callable[[McpConnection], None] = lambda _: None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._env = env
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self.status = ServerStatus(self.name, ServerState.STOPPED)
        self.tools: list[types.Tool] = []
        self._session: ClientSession | None = None
        self._broken = asyncio.Event()
        self._ready = asyncio.Event()  # set on every READY or FAILED (for wait_settled)
        self._task: asyncio.Task[None] | None = None
        self._http_error: int | None = None  # the last HTTP error status seen
        self.connects = 0  # successful connections (a restart makes it 2)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.name}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set(ServerStatus(self.name, ServerState.STOPPED))

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def wait_settled(self) -> ServerStatus:
        """Until the next time the server is ready or has failed."""
        while self.status.state not in (ServerState.READY, ServerState.FAILED):
            self._ready.clear()
            await self._ready.wait()
        return self.status

    def _set(self, status: ServerStatus) -> None:
        self.status = status
        if status.state in (ServerState.READY, ServerState.FAILED):
            self._ready.set()
        try:
            self._on_status(self)
        except Exception:
            log.exception("MCP status listener failed")

    async def _supervise(self) -> None:
        failures = 0
        while True:
            self._set(ServerStatus(self.name, ServerState.CONNECTING))
            stderr = _stderr_file()
            try:
                reason = await self._run_once(stderr)
                failures = 0  # it was up: start the backoff again
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # anyio raises exception groups
                reason = _describe(exc, stderr, self._http_error)
                log.info("MCP server %s failed: %s", self.name, reason)
            finally:
                self._session = None
                self.tools = []
                stderr.close()
            failures += 1
            delay = self._backoff.delay(failures)
            self._set(ServerStatus(self.name, ServerState.FAILED, detail=reason, retry_in_s=delay))
            await asyncio.sleep(delay)

    async def _run_once(self, stderr: IO[str]) -> str:
        """Connect, list the tools, and wait until the connection breaks; returns why."""
        self._broken = asyncio.Event()
        self._http_error = None
        async with contextlib.AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(self._transport(stderr))
            watched = _WatchedReadStream(read, self._broken.set)
            session = await stack.enter_async_context(
                ClientSession(watched, write, read_timeout_seconds=None)
            )
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await session.initialize()
                tools = await _list_all_tools(session)
            allowed = self.settings.allowed_tools
            self.tools = [t for t in tools if allowed is None or t.name in allowed]
            self._session = session
            self.connects += 1
            self._set(
                ServerStatus(self.name, ServerState.READY, tools=tuple(t.name for t in self.tools))
            )
            await self._broken.wait()
            self._session = None
        tail = _stderr_tail(stderr)
        return f"it stopped: {tail}" if tail else "it stopped"

    def _transport(self, stderr: IO[str]) -> contextlib.AbstractAsyncContextManager[Any]:
        s = self.settings
        where = f"mcp_servers {s.name!r}"
        if s.command is not None:
            params = StdioServerParameters(
                command=expand(s.command, self._env, where=f"{where} command"),
                args=[expand(a, self._env, where=f"{where} args") for a in s.args],
                env=expand_all(s.env, self._env, where=f"{where} env") or None,
                cwd=os.path.expanduser(s.cwd) if s.cwd else None,
            )
            return stdio_client(params, errlog=cast(TextIO, stderr))
        assert s.url is not None  # the schema holds either a command or a url
        url = expand(s.url, self._env, where=f"{where} url")
        headers = expand_all(s.headers, self._env, where=f"{where} headers")
        return _http_transport(url, headers, self._note_http_status)

    async def _note_http_status(self, response: httpx2.Response) -> None:
        # The SDK reports a refused request as a bare "error response": keep the status.
        if response.status_code >= 400:
            self._http_error = response.status_code

    # ------------------------------------------------------------ calls

    async def call(
        self, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> types.CallToolResult:
        """Call a tool; raises ServerUnavailable, ConnectionBroken, or TimeoutError."""
        session = self._session
        if session is None:
            raise ServerUnavailable(self._unavailable_reason())
        try:
            async with asyncio.timeout(timeout_s):
                return await session.call_tool(tool, arguments)
        except MCPError as exc:
            if exc.error.code == types.CONNECTION_CLOSED:
                self._broken.set()
                message = f"the MCP server {self.name!r} stopped during the call"
                raise ConnectionBroken(message) from None
            raise
        except (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._broken.set()
            message = f"the MCP server {self.name!r} went away during the call"
            raise ConnectionBroken(message) from None

    def _unavailable_reason(self) -> str:
        status = self.status
        if status.state is ServerState.FAILED:
            return f"the MCP server {self.name!r} is down ({status.detail}); it is restarting"
        if status.state is ServerState.READY:  # the connection broke a moment ago
            return f"the MCP server {self.name!r} stopped; it is restarting"
        if status.state is ServerState.CONNECTING:
            return f"the MCP server {self.name!r} is still connecting"
        return f"the MCP server {self.name!r} is not running"


@contextlib.asynccontextmanager
async def _http_transport(
    url: str, headers: dict[str, str], on_response: Callable[[httpx2.Response], Awaitable[None]]
) -> Any:
    async with create_mcp_http_client(headers=headers) as client:
        client.event_hooks["response"].append(on_response)
        async with streamable_http_client(url, http_client=client) as streams:
            yield streams


async def _list_all_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(
            params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
        )
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


class _WatchedReadStream:
    """The transport's read stream, telling when it ends (the server's output closed):
    that is how a server that dies while idle is noticed."""

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:  # e.g. last_context
        return getattr(self._inner, name)


def _stderr_file() -> IO[str]:
    # The server's stderr must not reach the terminal (it would tear the TUI); its
    # last words explain a failure.
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")


def _stderr_tail(stderr: IO[str]) -> str:
    try:
        stderr.flush()
        stderr.seek(0)
        lines = [line.strip() for line in stderr.read().splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return lines[-1][-STDERR_TAIL_CHARS:] if lines else ""


_HTTP_REASONS = {401: "unauthorized: check the token", 403: "forbidden", 404: "not found"}


def _describe(exc: BaseException, stderr: IO[str], http_status: int | None = None) -> str:
    """The plain reason a connection failed, from the innermost useful exception."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MissingVariable):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"cannot run the command: {exc.strerror}"
    if isinstance(exc, TimeoutError):
        tail = _stderr_tail(stderr)
        return f"no answer within {CONNECT_TIMEOUT_S:.0f} s" + (f": {tail}" if tail else "")
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from the server"
    if isinstance(exc, httpx2.TransportError):
        return f"cannot reach the server ({type(exc).__name__})"
    if isinstance(exc, MCPError) and http_status is not None:
        reason = _HTTP_REASONS.get(http_status, "the server refused the request")
        return f"HTTP {http_status} from the server ({reason})"
    if isinstance(exc, MCPError):
        tail = _stderr_tail(stderr)
        return tail or exc.error.message
    tail = _stderr_tail(stderr)
    return tail or f"{type(exc).__name__}: {exc}"


async def _ignore_response(_: httpx2.Response) -> None:
    return None


@contextlib.asynccontextmanager
async def http_session(url: str, headers: Mapping[str, str]) -> Any:
    """One streamable HTTP session, initialised (for short jobs: list, call, close)."""
    async with (
        _http_transport(url, dict(headers), _ignore_response) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def list_tools_at(url: str, headers: Mapping[str, str]) -> list[types.Tool]:
    async with http_session(url, headers) as session:
        return await _list_all_tools(session)


def describe_failure(exc: BaseException) -> str:
    """The plain reason an MCP connection or call failed."""
    return _describe(exc, io.StringIO())
