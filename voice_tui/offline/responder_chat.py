"""Replies from any OpenAI-compatible chat-completions endpoint.

Ollama, llama.cpp's server, vLLM, LM Studio... all speak `/v1/chat/completions`. The
openai SDK is the client, so streaming and error handling are the SDK's. The persona's
instructions, the conversation and the session's tools are passed through, and tool
calls come back as function calls, so the tool round trip works as with the cloud.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam

from voice_tui.server.components import (
    ChatMessage,
    FunctionCallPiece,
    ResponderError,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

# Local servers ignore the key, but the SDK requires one.
_PLACEHOLDER_KEY = "not-needed"


def chat_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Realtime tool definitions ({type, name, description, parameters}) in chat format."""
    converted = []
    for tool in tools:
        if tool.get("type", "function") != "function":
            continue
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        converted.append({"type": "function", "function": function})
    return converted


def _chat_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    """An assistant tool call in chat format, whether given flat or nested."""
    if isinstance(call.get("function"), dict):
        function = call["function"]
        name, arguments = function.get("name", ""), function.get("arguments", "{}")
    else:
        name, arguments = call.get("name", ""), call.get("arguments", "{}")
    call_id = call.get("id") or call.get("call_id") or ""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments or "{}"},
    }


def chat_messages(request: ResponderRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for m in request.history:
        messages.append(_chat_message(m))
    return messages


def _chat_message(m: ChatMessage) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or None,
            "tool_calls": [_chat_tool_call(c) for c in m.tool_calls],
        }
    if m.images:  # chat-completions content parts; a vision model reads them
        parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in m.images]
        return {"role": m.role, "content": parts}
    return {"role": m.role, "content": m.content}


@dataclass
class _PendingCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ThinkingFilter:
    """Drops <think>...</think> from streamed text: reasoning models served locally
    (Qwen3, DeepSeek-R1 on llama.cpp or older Ollama) put their reasoning in the
    content, and a voice assistant must not read it aloud. Tags may be split across
    chunks, so a possible start of a tag is held back until the next chunk decides."""

    OPEN = "<think>"
    CLOSE = "</think>"

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False
        self._started = False  # leading whitespace (left after a thought) is dropped

    def feed(self, text: str) -> str:
        self._pending += text
        spoken: list[str] = []
        while True:
            tag = self.CLOSE if self._inside else self.OPEN
            at = self._pending.find(tag)
            if at < 0:
                keep = _partial_tag(self._pending, tag)
                if not self._inside:
                    spoken.append(self._pending[: len(self._pending) - keep])
                self._pending = self._pending[len(self._pending) - keep :]
                break
            if not self._inside:
                spoken.append(self._pending[:at])
            self._pending = self._pending[at + len(tag) :]
            self._inside = not self._inside
        return self._start("".join(spoken))

    def flush(self) -> str:
        """The end of the stream: whatever was held back (an unfinished thought: nothing)."""
        rest, self._pending = ("" if self._inside else self._pending), ""
        return self._start(rest)

    def _start(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def _short(error: Exception) -> str:
    """A short human sentence; never the request (it may carry a key)."""
    if isinstance(error, openai.APITimeoutError):
        return "The local model did not answer in time."
    if isinstance(error, openai.APIConnectionError):
        return "The local model's endpoint (local.chat_url) could not be reached."
    if isinstance(error, openai.AuthenticationError):
        return "The local model's endpoint refused the API key (local.chat_api_key)."
    if isinstance(error, openai.NotFoundError):
        return "The local model's endpoint does not know this model (local.chat_model)."
    if isinstance(error, openai.APIStatusError):
        return f"The local model's endpoint returned an error (HTTP {error.status_code})."
    if isinstance(error, httpx.HTTPError):
        return "The connection to the local model broke off."
    return "The local model returned something I could not understand."


class ChatCompletionsResponder:
    """The `Responder` for `[local] chat_url` / `chat_model`."""

    name = "chat-completions"

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.model = model
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _PLACEHOLDER_KEY,
            timeout=timeout_s,
            max_retries=0,  # a voice user is waiting: report, don't retry quietly
        )

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        tools = chat_tools(request.tools)
        calls: dict[int, _PendingCall] = {}
        thoughts = ThinkingFilter()
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", chat_messages(request)),
                stream=True,
                tools=cast("list[ChatCompletionToolUnionParam]", tools) if tools else openai.omit,
                max_tokens=request.max_output_tokens
                if request.max_output_tokens is not None
                else openai.omit,
            )
            async with stream:
                async for chunk in stream:
                    for choice in chunk.choices:
                        delta = choice.delta
                        spoken = thoughts.feed(delta.content or "")
                        if spoken:
                            yield TextPiece(spoken)
                        for tc in delta.tool_calls or ():
                            pending = calls.setdefault(tc.index, _PendingCall())
                            if tc.id:
                                pending.call_id = tc.id
                            if tc.function is not None:
                                if tc.function.name:
                                    pending.name += tc.function.name
                                if tc.function.arguments:
                                    pending.arguments.append(tc.function.arguments)
        except (openai.OpenAIError, httpx.HTTPError, ValueError) as e:
            raise ResponderError(_short(e)) from e
        rest = thoughts.flush()
        if rest:
            yield TextPiece(rest)
        for index in sorted(calls):
            pending = calls[index]
            if not pending.name:
                raise ResponderError("The local model sent a tool call without a name.")
            yield FunctionCallPiece(
                name=pending.name,
                arguments="".join(pending.arguments) or "{}",
                call_id=pending.call_id or f"call_{uuid.uuid4().hex[:20]}",
            )

    async def aclose(self) -> None:
        await self._client.close()
