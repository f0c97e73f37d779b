"""Client events checked strictly against the official SDK's request types.

The `openai` SDK declares every client event as a TypedDict
(`openai.types.realtime.*Param`). pydantic models of our own would only check what we
thought of; this walks the SDK's own declarations, so an unknown or misplaced key, a
missing required one, a wrong type or a content part of the wrong kind is refused the
way the real service refuses it (an `error` event naming the parameter), and a client
that drifts from the protocol fails against this server as it would in the cloud.
"""

from __future__ import annotations

import collections.abc
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from openai.types.realtime import (
    RealtimeClientEventParam,
    ResponseCreateEventParam,
)
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)
from typing_extensions import is_typeddict

from voice_tui.server.wire import json_type_name, shown_value

# Fields the SDK types as an object but whose docstrings say `null` turns them off
# (RealtimeAudioConfigInputParam.noise_reduction / .transcription): the docs win.
NULLABLE_BY_DOCS = frozenset(
    {"session.audio.input.noise_reduction", "session.audio.input.transcription"}
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an event breaks the SDK's declaration, phrased as the service does."""

    message: str
    code: str
    param: str


def _event_types() -> dict[str, tuple[Any, ...]]:
    by_type: dict[str, tuple[Any, ...]] = {}
    for member in get_args(RealtimeClientEventParam):
        (literal,) = get_args(_hints(member)["type"])
        by_type[literal] = (member,)
    # The SDK's send() also takes response.create with item references as input.
    by_type["response.create"] = (ResponseCreateEventParam, ResponseCreateEventWithReferencesParam)
    return by_type


@functools.cache
def _hints(typed_dict: Any) -> dict[str, Any]:
    return typing.get_type_hints(typed_dict)


@functools.cache
def _by_type() -> dict[str, tuple[Any, ...]]:
    return _event_types()


def check_client_event(event: dict[str, Any]) -> list[Problem]:
    """Every problem of one client event (a parsed JSON object); [] when it is valid."""
    kind = event.get("type")
    members = _by_type().get(kind) if isinstance(kind, str) else None
    if members is None:
        supported = ", ".join(f"'{name}'" for name in _by_type())
        return [
            Problem(
                f"Invalid value: {shown_value(kind)}. Supported values are: {supported}.",
                "invalid_value",
                "type",
            )
        ]
    return _check_union(event, members, "")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, tp: Any, path: str) -> list[Problem]:
    origin = get_origin(tp)
    if tp is Any or tp is object:
        return []
    if origin is typing.Annotated:
        return _check(value, get_args(tp)[0], path)
    if origin is Union or origin is types.UnionType:
        if value is None and path in NULLABLE_BY_DOCS:
            return []
        return _check_union(value, get_args(tp), path)
    if origin is Literal:
        allowed = get_args(tp)
        if any(value == a and type(value) is type(a) for a in allowed):
            return []
        supported = ", ".join(shown_value(a) for a in allowed)
        return [
            Problem(
                f"Invalid value: {shown_value(value)}. Supported values are: {supported}.",
                "invalid_value",
                path,
            )
        ]
    if is_typeddict(tp):
        if value is None and path in NULLABLE_BY_DOCS:
            return []
        return _check_typed_dict(value, tp, path)
    if tp is type(None):
        return [] if value is None else [_wrong_type(value, "null", path)]
    if tp is str:
        return [] if isinstance(value, str) else [_wrong_type(value, "a string", path)]
    if tp is bool:
        return [] if isinstance(value, bool) else [_wrong_type(value, "a boolean", path)]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [_wrong_type(value, "an integer", path)]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [_wrong_type(value, "a number", path)]
    if _is_sequence(origin):
        if not isinstance(value, list):
            return [_wrong_type(value, "an array", path)]
        (item_type,) = get_args(tp) or (Any,)
        problems: list[Problem] = []
        for index, item in enumerate(value):
            problems += _check(item, item_type, f"{path}[{index}]")
        return problems
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        if not isinstance(value, dict):
            return [_wrong_type(value, "an object", path)]
        args = get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        out: list[Problem] = []
        for key, item in value.items():
            out += _check(item, value_type, _join(path, str(key)))
        return out
    raise TypeError(f"no check for the SDK type {tp!r} at {path!r}")  # a new SDK construct


def _is_sequence(origin: Any) -> bool:
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence):
        return True
    return getattr(origin, "__name__", "") == "SequenceNotStr"


def _check_typed_dict(value: Any, typed_dict: Any, path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [_wrong_type(value, "an object", path)]
    hints = _hints(typed_dict)
    problems: list[Problem] = []
    for key in value:
        if key not in hints:
            param = _join(path, str(key))
            problems.append(Problem(f"Unknown parameter: '{param}'.", "unknown_parameter", param))
    for key in sorted(typed_dict.__required_keys__):
        if key not in value:
            param = _join(path, key)
            problems.append(
                Problem(
                    f"Missing required parameter: '{param}'.", "missing_required_parameter", param
                )
            )
    for key, item in value.items():
        if key in hints:
            problems += _check(item, hints[key], _join(path, key))
    return problems


def _check_union(value: Any, members: tuple[Any, ...], path: str) -> list[Problem]:
    """Valid when one member accepts it; else the problems of the member it was most
    plainly meant to be (the one whose `type`/`role` literals it matches)."""
    if value is not None and len(members) > 1:
        members = tuple(m for m in members if m is not type(None))
    tags = _type_tags(members)
    if tags and isinstance(value, dict) and "type" in value and value["type"] not in tags:
        param = _join(path, "type")
        supported = ", ".join(shown_value(t) for t in tags)
        return [
            Problem(
                f"Invalid value: {shown_value(value['type'])}. Supported values are: {supported}.",
                "invalid_value",
                param,
            )
        ]
    best: tuple[int, int, list[Problem]] | None = None
    for member in members:
        problems = _check(value, member, path)
        if not problems:
            return []
        score = (_literal_matches(value, member), -len(problems))
        if best is None or score > best[:2]:
            best = (*score, problems)
    assert best is not None
    return best[2]


def _type_tags(members: tuple[Any, ...]) -> list[Any]:
    """The `type` literals of a union of TypedDicts that all have one, else []."""
    tags: list[Any] = []
    for member in members:
        tp = _hints(member).get("type") if is_typeddict(member) else None
        if tp is None or get_origin(tp) is not Literal:
            return []
        tags += [t for t in get_args(tp) if t not in tags]
    return tags


def _literal_matches(value: Any, member: Any) -> int:
    if not (isinstance(value, dict) and is_typeddict(member)):
        return -1
    matched = 0
    for key, tp in _hints(member).items():
        if get_origin(tp) is Literal and key in value:
            matched += 1 if value[key] in get_args(tp) else -10
    return matched


def _wrong_type(value: Any, wanted: str, path: str) -> Problem:
    return Problem(
        f"Invalid type for '{path}': expected {wanted}, but got {json_type_name(value)} instead.",
        "invalid_type",
        path,
    )
