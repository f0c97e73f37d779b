"""The built-in responder: what answers when no language model is configured.

It is honest about what it is. It repeats what it heard, answers what the session's
built-in tools can answer through real function calls (the time; ending the
conversation), and tells the user how to connect a local model or the cloud.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final

from voice_tui.offline.spoken_results import NUMBER_WORDS, count, spoken_result
from voice_tui.server.components import (
    ChatMessage,
    FunctionCallPiece,
    ResponderPiece,
    ResponderRequest,
    TextPiece,
)

TIME_TOOL: Final = "get_current_time"
END_TOOL: Final = "end_conversation"
TABLE_TOOL: Final = "check_table_availability"
WEATHER_TOOL: Final = "get_weather"

_TIME_QUESTION = re.compile(
    r"\b(what(?:'s| is)? the (?:time|date)|what time|time is it|"
    r"(?:tell|give) me the (?:time|date)|current (?:time|date)|"
    r"(?:what|which) day|what(?:'s| is) today's date|what date)\b",
    re.IGNORECASE,
)
_GOODBYE = re.compile(
    r"\b(good ?bye|bye|see you|farewell|that's all|that is all|hang up|"
    r"end (?:the|this) (?:conversation|call|chat)|stop the conversation)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\W*(hello|hi|hey|good (?:morning|afternoon|evening))\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_TABLE_QUESTION = re.compile(r"\b(table|book|booking|reserve|reservation)\b", re.IGNORECASE)
_WEATHER_PLACE = re.compile(
    r"\bweather\b.*?\b(?:in|for|at)\s+([A-Za-z][A-Za-z .,'-]{1,60}?)\s*(?:today|now)?[.?!]*$",
    re.IGNORECASE,
)
_SMALL_NUMBERS: Final = {word: n for n, word in enumerate(NUMBER_WORDS)}
_PARTY = re.compile(
    r"\b(?:for|of|party of)\s+(\d{1,2}|" + "|".join(_SMALL_NUMBERS) + r")\b"
    r"|\b(\d{1,2}|" + "|".join(_SMALL_NUMBERS) + r")\s+(?:people|persons|guests|of us)\b",
    re.IGNORECASE,
)
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = re.compile(r"\b(today|tonight|tomorrow|" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)

CONNECT_HINT: Final = (
    "For real answers, set chat_url and chat_model in the [local] section of the config "
    "to a local model such as Ollama, or set OPENAI_API_KEY to use the cloud."
)
SHORT_HELP: Final = "Connect a model in the config for real answers."


# Honest about images: it receives them, but nothing here can look at them.
IMAGE_ANSWER = (
    "I received your image, but I can't see images: I'm the offline responder, not a "
    "vision model. Point local.chat_url at a vision model to talk about it."
)


def help_text(tools: dict[str, dict[str, Any]]) -> str:
    """Who is answering, what it can do in this session (its tools), how to get more."""
    abilities = [
        ability
        for name, ability in ((TIME_TOOL, "tell the time"), (END_TOOL, "end the conversation"))
        if name in tools
    ]
    can = f"so I can only {' and '.join(abilities)}" if abilities else "so I can't answer questions"
    return f"I'm the built-in offline responder, not a language model, {can}. {CONNECT_HINT}"


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:20]}"


def _offered(tools: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(t["name"]): t for t in tools if t.get("type", "function") == "function"}


def _empty_arguments(tool: dict[str, Any]) -> str | None:
    """'{}' when the tool can be called without arguments, else None (we cannot fill them)."""
    params = tool.get("parameters") or {}
    return None if params.get("required") else "{}"


def _find_datetime(value: Any) -> datetime | None:
    """The first ISO 8601 date-time anywhere in a decoded JSON value."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        # A bare date carries no time of day: not an answer to "what time is it".
        return parsed if ("T" in value or " " in value.strip()) else None
    if isinstance(value, dict):
        items: Iterable[Any] = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _find_datetime(item)
        if found is not None:
            return found
    return None


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def speak_time(output: str) -> str | None:
    """A sentence that speaks the time in a get_current_time output, or None."""
    try:
        decoded: Any = json.loads(output)
    except ValueError:
        decoded = output
    if isinstance(decoded, dict) and decoded.get("error"):
        return None
    when = _find_datetime(decoded)
    if when is not None:
        clock = when.strftime("%I:%M %p").lstrip("0")
        return f"It's {clock} on {when.strftime('%A, %B')} {_ordinal(when.day)}."
    match = _CLOCK.search(output)
    if match:
        return f"It's {match.group(1)}:{match.group(2)}."
    return None


def _greeting(instructions: str) -> str:
    """A greeting line from the persona's instructions ("You are X." -> "Hello, I am X.")."""
    first = re.split(r"(?<=[.!?])\s", instructions.strip(), maxsplit=1)[0]
    intro = re.match(r"you(?: are|'re)\s+(.+?)[.!?]?$", first, re.IGNORECASE)
    if intro:
        who = re.sub(r"\byour\b", "my", intro.group(1), flags=re.IGNORECASE)
        return f"Hello, I am {who}."
    return "Hello!"


def _tool_name(history: tuple[ChatMessage, ...], call_id: str | None) -> str | None:
    for message in reversed(history):
        for call in message.tool_calls:
            if call.get("id") == call_id or call.get("call_id") == call_id:
                function = call.get("function")
                if isinstance(function, dict):
                    return str(function.get("name", ""))
                return str(call.get("name", ""))
    return None


def _has_said(history: tuple[ChatMessage, ...], text: str) -> bool:
    return any(m.role == "assistant" and text in m.content for m in history)


class BuiltinResponder:
    """The `Responder` used when no chat-completions endpoint is configured."""

    name = "builtin"

    async def respond(self, request: ResponderRequest) -> AsyncIterator[ResponderPiece]:
        for piece in self._answer(request):
            yield piece

    def _answer(self, request: ResponderRequest) -> list[ResponderPiece]:
        history = request.history
        tools = _offered(request.tools)
        conversation = [m for m in history if m.role != "system"]
        if not conversation:
            greeting = _greeting(request.instructions)
            return [TextPiece(greeting), TextPiece(" " + help_text(tools))]
        last = conversation[-1]
        if last.role == "tool":
            return self._after_tool(history, last, request.instructions)
        if last.role != "user":
            # Asked to speak again without anything new from the user.
            return [TextPiece("Is there anything else I can help with?")]
        # The user's messages since the assistant last spoke: an image among them is
        # answered honestly first.
        recent = []
        for message in reversed(conversation):
            if message.role != "user":
                break
            recent.append(message)
        shown = any(m.images for m in recent)
        if shown and not last.content.strip():
            return [TextPiece(IMAGE_ANSWER)]
        answer = self._answer_user(history, last.content.strip(), tools, request.instructions)
        if shown:
            return [TextPiece(IMAGE_ANSWER + " "), *answer]
        return answer

    def _answer_user(
        self,
        history: tuple[ChatMessage, ...],
        heard: str,
        tools: dict[str, dict[str, Any]],
        instructions: str = "",
    ) -> list[ResponderPiece]:
        if not heard:
            return [TextPiece("Sorry, I didn't catch that. Could you say it again?")]
        if _TIME_QUESTION.search(heard) and TIME_TOOL in tools:
            arguments = _empty_arguments(tools[TIME_TOOL])
            if arguments is not None:
                return [FunctionCallPiece(TIME_TOOL, arguments, _new_call_id())]
        call = _tool_request(history, heard, tools)
        if call is not None:
            return [call]
        if TABLE_TOOL in tools and (_TABLE_QUESTION.search(heard) or _asked_for_details(history)):
            return [TextPiece(in_persona(instructions, _ask_for_booking_details(history, heard)))]
        if _GOODBYE.search(heard):
            # As the cloud model does: call end_conversation first; its output asks for the
            # goodbye, which the next response says (see _after_tool).
            if END_TOOL in tools:
                arguments = _empty_arguments(tools[END_TOOL])
                if arguments is not None:
                    return [FunctionCallPiece(END_TOOL, arguments, _new_call_id())]
            return [TextPiece("Goodbye!")]
        opening = "Hello!" if _GREETING.search(heard) else f'I heard: "{heard}".'
        hint = SHORT_HELP if _has_said(history, CONNECT_HINT) else help_text(tools)
        return [TextPiece(opening), TextPiece(" " + hint)]

    def _after_tool(
        self, history: tuple[ChatMessage, ...], result: ChatMessage, instructions: str
    ) -> list[ResponderPiece]:
        name = _tool_name(history, result.tool_call_id)
        if name == TIME_TOOL:
            sentence = speak_time(result.content)
            if sentence is not None:
                return [TextPiece(sentence)]
            return [TextPiece("Sorry, the clock tool did not give me the time.")]
        if name == END_TOOL:
            # The goodbye was already said with the call; say it only if it was not.
            said_goodbye = any(
                m.role == "assistant" and "Goodbye" in m.content for m in history[-3:]
            )
            return [] if said_goodbye else [TextPiece("Goodbye!")]
        sentence = spoken_result(name or "the tool", result.content)
        return [TextPiece(in_persona(instructions, sentence))]


def in_persona(instructions: str, sentence: str) -> str:
    """A touch of the persona's manner, as its instructions describe it."""
    manner = instructions.casefold()
    if "cowboy" in manner:
        return f"Well partner, {sentence[:1].lower()}{sentence[1:]}"
    if "pirate" in manner:
        return f"Arr, {sentence[:1].lower()}{sentence[1:]}"
    return sentence


def _recent_user_text(history: tuple[ChatMessage, ...], heard: str) -> list[str]:
    """The newest user message first, then the two before it (details said earlier)."""
    earlier = [m.content for m in history if m.role == "user"][-3:-1]
    return [heard, *reversed(earlier)]


def _party_size(texts: list[str]) -> int | None:
    for text in texts:
        match = _PARTY.search(text)
        if match:
            token = (match.group(1) or match.group(2)).casefold()
            size = int(token) if token.isdigit() else _SMALL_NUMBERS.get(token)
            if size:
                return size
    return None


def _booking_day(texts: list[str], today: date) -> date | None:
    for text in texts:
        match = _DAY.search(text)
        if not match:
            continue
        word = match.group(1).casefold()
        if word in ("today", "tonight"):
            return today
        if word == "tomorrow":
            return today + timedelta(days=1)
        ahead = (_WEEKDAYS.index(word) - today.weekday()) % 7
        return today + timedelta(days=ahead)
    return None


def _tool_request(
    history: tuple[ChatMessage, ...], heard: str, tools: dict[str, dict[str, Any]]
) -> FunctionCallPiece | None:
    """A real call to the table or weather tool when the user asked with enough detail."""
    if WEATHER_TOOL in tools:
        place = _WEATHER_PLACE.search(heard)
        if place:
            location = place.group(1).strip(" .,?!")
            return FunctionCallPiece(
                WEATHER_TOOL, json.dumps({"location": location}), _new_call_id()
            )
    if TABLE_TOOL in tools and (_TABLE_QUESTION.search(heard) or _asked_for_details(history)):
        texts = _recent_user_text(history, heard)
        size, day = _party_size(texts), _booking_day(texts, date.today())
        if size is not None and day is not None:
            arguments = {"date": day.isoformat(), "party_size": size}
            return FunctionCallPiece(TABLE_TOOL, json.dumps(arguments), _new_call_id())
    return None


_DETAIL_QUESTIONS: Final = ("For how many people", "On which day?")


def _asked_for_details(history: tuple[ChatMessage, ...]) -> bool:
    """The last thing said was our question about the booking: this is the answer."""
    said = [m.content for m in history if m.role == "assistant"]
    return bool(said) and any(q in said[-1] for q in _DETAIL_QUESTIONS)


def _ask_for_booking_details(history: tuple[ChatMessage, ...], heard: str) -> str:
    texts = _recent_user_text(history, heard)
    size, day = _party_size(texts), _booking_day(texts, date.today())
    if size is None and day is None:
        return "Sure. For how many people, and on which day?"
    if size is None:
        return "Sure. For how many people?"
    return f"Sure, a table for {count(size)}. On which day?"
