"""The conversation one session remembers: items in order, their audio, their text.

Items are kept in the GA wire shape (`to_wire`) plus what the wire leaves out: the
pcm of audio content and, for user audio, a future that resolves to its transcript
once recognition finished (a response waits on it before asking the responder).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice_tui.mcp_client.names import public_name
from voice_tui.server.components import ChatMessage
from voice_tui.server.config import client_error_from
from voice_tui.server.wire import BYTES_PER_MS, ClientError, audio_ms, new_id

Status = Literal["completed", "in_progress", "incomplete"]
ROOT = "root"  # previous_item_id that inserts at the start
# Items whose audio bytes are kept (retrieve, truncate); older ones keep only the length,
# so a long conversation does not grow memory by 48 kB per second of speech.
KEEP_AUDIO_ITEMS = 32
IMAGE_TOKENS_LOW = 85  # what a low-detail image costs in OpenAI's accounting
IMAGE_TOKENS = 765  # a typical high-detail image (four tiles)


ItemType = Literal[
    "message",
    "function_call",
    "function_call_output",
    "mcp_list_tools",
    "mcp_call",
    "mcp_approval_request",
    "mcp_approval_response",
]


@dataclass(eq=False, slots=True)
class Item:
    id: str
    type: ItemType
    role: Literal["user", "assistant", "system"] | None = None
    content: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[int, bytearray] = field(default_factory=dict)  # content index -> pcm
    audio_bytes: dict[int, int] = field(default_factory=dict)  # lengths, kept after the pcm
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str = ""
    status: Status = "completed"
    transcript: asyncio.Future[str] | None = None  # user audio being recognised
    truncated: bool = False  # truncated audio: no more audio may be appended
    # MCP items (remote servers the session calls itself)
    server_label: str = ""
    mcp_tools: list[dict[str, Any]] = field(default_factory=list)  # mcp_list_tools
    approval_request_id: str | None = None  # mcp_call, mcp_approval_response
    approve: bool = False  # mcp_approval_response
    reason: str | None = None
    error: dict[str, Any] | None = None  # mcp_call that failed

    def to_wire(self, include_audio: bool = False) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": self.id,
            "object": "realtime.item",
            "type": self.type,
            "status": self.status,
        }
        if self.type == "function_call":
            return {**base, "call_id": self.call_id, "name": self.name, "arguments": self.arguments}
        if self.type == "function_call_output":
            return {**base, "call_id": self.call_id, "output": self.output}
        if self.type.startswith("mcp_"):
            return self._mcp_wire(base)
        content = []
        for index, part in enumerate(self.content):
            part = dict(part)
            if include_audio and index in self.audio:
                part["audio"] = base64.b64encode(bytes(self.audio[index])).decode()
            content.append(part)
        return {**base, "role": self.role, "content": content}

    def _mcp_wire(self, base: dict[str, Any]) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "mcp_list_tools":
            return {**wire, "server_label": self.server_label, "tools": self.mcp_tools}
        if self.type == "mcp_approval_response":
            return {
                **wire,
                "approval_request_id": self.approval_request_id,
                "approve": self.approve,
                "reason": self.reason,
            }
        wire.update(server_label=self.server_label, name=self.name, arguments=self.arguments)
        if self.type == "mcp_call":
            wire.update(
                approval_request_id=self.approval_request_id,
                output=self.output if self.error is None and self.output else None,
                error=self.error,
            )
        return wire

    def add_audio(self, content_index: int, pcm: bytes) -> None:
        self.audio.setdefault(content_index, bytearray()).extend(pcm)
        self.audio_bytes[content_index] = self.audio_bytes.get(content_index, 0) + len(pcm)

    def has_audio(self, content_index: int) -> bool:
        return content_index in self.audio_bytes

    def audio_ms(self, content_index: int) -> int:
        return audio_ms(self.audio_bytes.get(content_index, 0))

    def truncate_audio(self, content_index: int, end_ms: int) -> None:
        end = end_ms * BYTES_PER_MS
        if content_index in self.audio:
            del self.audio[content_index][end:]
        self.audio_bytes[content_index] = min(self.audio_bytes.get(content_index, 0), end)

    def text(self) -> str:
        """What the item says, as text (transcripts stand in for audio)."""
        if self.type == "function_call":
            return self.arguments
        if self.type in ("function_call_output", "mcp_call"):
            return self.output
        if self.type.startswith("mcp_"):
            return ""
        pieces = [p.get("text") or p.get("transcript") or "" for p in self.content]
        return " ".join(p for p in pieces if p)


def text_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * 1.3)


def audio_tokens(ms: int) -> int:
    return math.ceil(ms / 50)


# ---- items the client creates ------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Part(_Strict):
    type: Literal["input_text", "input_audio", "input_image", "output_text", "output_audio"]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class _NewItem(_Strict):
    type: Literal["message", "function_call", "function_call_output", "mcp_approval_response"]
    id: str | None = Field(default=None, min_length=1, max_length=64)
    object: Literal["realtime.item"] | None = None
    status: Status | None = None
    role: Literal["user", "assistant", "system"] | None = None
    content: list[_Part] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    reason: str | None = None


_ALLOWED_PARTS = {
    "user": {"input_text", "input_audio", "input_image"},
    "system": {"input_text"},
    "assistant": {"output_text", "output_audio"},
}


def item_from_client(raw: Any, max_audio_bytes: int) -> Item:
    """Validate a `conversation.item.create` item; ClientError names what is wrong."""
    try:
        new = _NewItem.model_validate(raw)
    except ValidationError as exc:
        raise client_error_from(exc, "item") from None
    item_id = new.id or new_id("item")
    if new.type == "mcp_approval_response":
        if new.approval_request_id is None or new.approve is None:
            raise _missing(
                "item.approval_request_id" if new.approval_request_id is None else "item.approve"
            )
        return Item(
            item_id,
            "mcp_approval_response",
            approval_request_id=new.approval_request_id,
            approve=new.approve,
            reason=new.reason,
        )
    if new.type == "function_call_output":
        if new.call_id is None or new.output is None:
            missing = "call_id" if new.call_id is None else "output"
            raise _missing(f"item.{missing}")
        return Item(item_id, "function_call_output", call_id=new.call_id, output=new.output)
    if new.type == "function_call":
        if new.call_id is None or new.name is None:
            raise _missing("item.call_id" if new.call_id is None else "item.name")
        return Item(
            item_id,
            "function_call",
            call_id=new.call_id,
            name=new.name,
            arguments=new.arguments or "{}",
        )
    if new.role is None:
        raise _missing("item.role")
    if not new.content:
        raise _missing("item.content")
    item = Item(item_id, "message", role=new.role)
    for index, part in enumerate(new.content):
        param = f"item.content[{index}]"
        if part.type not in _ALLOWED_PARTS[new.role]:
            allowed = " and ".join(repr(t) for t in sorted(_ALLOWED_PARTS[new.role]))
            raise ClientError(
                f"Invalid value: '{part.type}'. Supported values for {new.role} messages "
                f"are: {allowed}.",
                code="invalid_value",
                param=f"{param}.type",
            )
        if part.type in ("input_text", "output_text"):
            if part.text is None:
                raise _missing(f"{param}.text")
            item.content.append({"type": part.type, "text": part.text})
        elif part.type == "input_image":
            if part.image_url is None:
                raise _missing(f"{param}.image_url")
            check_image_url(part.image_url, f"{param}.image_url", max_audio_bytes)
            image: dict[str, Any] = {"type": "input_image", "image_url": part.image_url}
            if part.detail is not None:
                image["detail"] = part.detail
            item.content.append(image)
        elif part.type == "input_audio":
            if part.audio is None:
                raise _missing(f"{param}.audio")
            item.add_audio(index, decode_audio(part.audio, f"{param}.audio", max_audio_bytes))
            item.content.append({"type": "input_audio", "transcript": part.transcript})
        else:  # output_audio: a remembered assistant turn, restored by a client
            item.content.append({"type": "output_audio", "transcript": part.transcript or ""})
            if part.audio is not None:
                item.add_audio(index, decode_audio(part.audio, f"{param}.audio", max_audio_bytes))
    return item


IMAGE_URL_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")


def check_image_url(url: str, param: str, max_bytes: int) -> None:
    """A PNG or JPEG as a base64 data URL, as the Realtime API takes images."""
    prefix = next((p for p in IMAGE_URL_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        raise ClientError(
            f"Invalid '{param}': expected a base64 data URL of a PNG or JPEG image "
            "(data:image/png;base64,... or data:image/jpeg;base64,...).",
            code="invalid_value",
            param=param,
        )
    b64 = url[len(prefix) :]
    if len(b64) > max_bytes * 4 // 3 + 4:
        raise ClientError(
            f"The image in '{param}' is too large: at most {max_bytes // (1024 * 1024)} MiB.",
            code="invalid_value",
            param=param,
        )
    try:
        base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(
            f"Invalid '{param}': the image is not valid base64.",
            code="invalid_value",
            param=param,
        ) from None


def decode_audio(b64: str, param: str, max_bytes: int) -> bytes:
    if len(b64) > max_bytes * 4 // 3 + 4:
        raise ClientError(
            f"Audio in '{param}' is too large: at most {max_bytes // (1024 * 1024)} MiB of "
            "audio per event.",
            code="invalid_value",
            param=param,
        )
    try:
        pcm = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(
            f"Invalid '{param}': expected base64-encoded audio bytes.",
            code="invalid_value",
            param=param,
        ) from None
    if len(pcm) % 2:
        pcm = pcm[:-1]  # a torn pcm16 sample carries no sound
    return pcm


def _missing(param: str) -> ClientError:
    return ClientError(
        f"Missing required parameter: '{param}'.",
        code="missing_required_parameter",
        param=param,
    )


# ---- the conversation -------------------------------------------------------------


class Conversation:
    def __init__(self) -> None:
        self.items: list[Item] = []

    def find(self, item_id: Any, param: str = "item_id") -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise ClientError(
            f"Conversation item with id {item_id!r} does not exist.",
            code="item_not_found",
            param=param,
        )

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert `item`; returns the id of the item before it (None at the start)."""
        if any(existing.id == item.id for existing in self.items):
            raise ClientError(
                f"Item with id {item.id!r} already exists.",
                code="item_id_already_exists",
                param="item.id",
            )
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == ROOT:
            index = 0
        else:
            index = self.items.index(self.find(previous_item_id, "previous_item_id")) + 1
        self.items.insert(index, item)
        self._forget_old_audio(item)
        return self.items[index - 1].id if index > 0 else None

    def _forget_old_audio(self, newest: Item) -> None:
        """Keep the pcm of the newest item and of the KEEP_AUDIO_ITEMS - 1 before it."""
        older = [item for item in self.items if item.audio and item is not newest]
        for item in older[: max(0, len(older) - (KEEP_AUDIO_ITEMS - 1))]:
            item.audio.clear()

    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def delete(self, item_id: Any) -> Item:
        item = self.find(item_id)
        self.items.remove(item)
        return item

    async def chat_history(self, items: list[Item] | None = None) -> tuple[ChatMessage, ...]:
        """The items as chat messages, waiting for transcripts still being recognised."""
        messages: list[ChatMessage] = []
        for item in self.items if items is None else items:
            if item.transcript is not None:
                await asyncio.shield(item.transcript)
            if item.type == "function_call":
                call = {
                    "id": item.call_id,
                    "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments},
                }
                last = messages[-1] if messages else None
                if last is not None and last.role == "assistant":
                    messages[-1] = ChatMessage(
                        "assistant", last.content, (*last.tool_calls, call), None
                    )
                else:
                    messages.append(ChatMessage("assistant", "", (call,)))
            elif item.type == "function_call_output":
                messages.append(ChatMessage("tool", item.output, tool_call_id=item.call_id))
            elif item.type == "mcp_call" or (
                item.type == "mcp_approval_request" and self._denied(item.id)
            ):
                messages.extend(_mcp_call_messages(item, self._denied(item.id)))
            elif item.type.startswith("mcp_"):
                continue  # listings and approvals: what the model reads is in the calls
            else:
                assert item.role is not None
                images = tuple(
                    str(p["image_url"]) for p in item.content if p.get("type") == "input_image"
                )
                messages.append(ChatMessage(item.role, item.text(), images=images))
        return tuple(messages)

    def _denied(self, approval_request_id: str) -> bool:
        return any(
            i.type == "mcp_approval_response"
            and i.approval_request_id == approval_request_id
            and not i.approve
            for i in self.items
        )

    def approved_requests(self) -> list[Item]:
        """Approval requests the user approved that have not been called yet."""
        called = {i.approval_request_id for i in self.items if i.type == "mcp_call"}
        approved = {
            i.approval_request_id
            for i in self.items
            if i.type == "mcp_approval_response" and i.approve
        }
        return [
            i
            for i in self.items
            if i.type == "mcp_approval_request" and i.id in approved and i.id not in called
        ]

    def input_tokens(self, instructions: str, items: list[Item] | None = None) -> tuple[int, int]:
        """(text, audio) tokens a response reads: the instructions plus every item."""
        text = text_tokens(instructions)
        audio = 0
        for item in self.items if items is None else items:
            if item.audio_bytes:
                audio += sum(audio_tokens(audio_ms(n)) for n in item.audio_bytes.values())
            else:
                text += text_tokens(item.text())
            # Images are billed as input text tokens: a flat figure per image here.
            text += sum(
                IMAGE_TOKENS_LOW if p.get("detail") == "low" else IMAGE_TOKENS
                for p in item.content
                if p.get("type") == "input_image"
            )
        return text, audio


def _mcp_call_messages(item: Item, denied: bool) -> list[ChatMessage]:
    """An MCP call as chat messages: the assistant's call and what came of it."""
    call_id = f"mcp_{item.id}"
    name = public_name(item.server_label, item.name or "", ())  # as the responder saw it
    call = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": item.arguments},
    }
    if denied:
        result = '{"error": "the user declined this call"}'
    elif item.error is not None:
        result = json.dumps({"error": item.error.get("message", "the call failed")})
    else:
        result = item.output
    return [
        ChatMessage("assistant", "", (call,)),
        ChatMessage("tool", result, tool_call_id=call_id),
    ]
