"""Turn schema violations into plain-words problems, each tied to the key it is about.

Pydantic's locations mix data keys with schema tags (`("audio", "input_device", "int")`
for one branch of a union); the data itself tells them apart. Errors about the same
value (one per union branch) are merged into one "must be A or B" sentence.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from voice_tui.config.personas import BUILTIN_TOOL_NAMES
from voice_tui.config.schema import Settings
from voice_tui.config.toml_positions import KeyPath

# Values never shown in messages.
SECRET_FIELDS = frozenset({"api_key", "chat_api_key"})

_EXPECTED: dict[str, str] = {
    "string_type": "a string in quotes",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": 'a list, like ["a", "b"]',
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}

_BOUNDS: dict[str, str] = {
    "greater_than_equal": "at least {ge}",
    "greater_than": "more than {gt}",
    "less_than_equal": "at most {le}",
    "less_than": "less than {lt}",
    "string_too_short": "at least {min_length} character(s) long",
    "too_short": "at least {min_length} item(s) long",
}

# Model-level validators have no location; they name the key their message is about.
_MODEL_ERROR_KEYS: dict[str, list[KeyPath]] = {
    "session.persona": [("session", "persona"), ("personas",)],
}


@dataclass(frozen=True)
class Problem:
    candidates: list[KeyPath]  # where to point in the file, best first
    message: str


def dotted(key: KeyPath) -> str:
    """`("personas", 2, "voice")` -> `personas[2].voice`, quoting odd names."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if part and all(c.isalnum() or c in "_-" for c in part) else f'"{part}"'
        out += f".{name}" if out else name
    return out


def table_label(table: KeyPath, data: Mapping[str, Any]) -> str:
    if not table:
        return "at the top level"
    if isinstance(table[-1], int):
        entry = _walk(data, table)
        name = entry.get("name") if isinstance(entry, Mapping) else None
        label = f"in [[{dotted(table[:-1])}]] entry {table[-1] + 1}"
        return f"{label} ({name!r})" if isinstance(name, str) and name else label
    return f"in [{dotted(table)}]"


def problems_from_validation(exc: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    # Value errors grouped by the value they are about (one per union branch).
    value_errors: dict[KeyPath, list[ErrorDetails]] = {}
    for error in exc.errors():
        loc: KeyPath = tuple(error["loc"])
        kind = error["type"]
        if not loc:
            problems.append(_model_problem(error))
        elif kind == "extra_forbidden":
            problems.append(_unknown_key(loc, data))
        elif kind == "missing":
            table = _data_prefix(loc, data)
            name = loc[len(table)]
            problems.append(
                Problem([loc, table], f"missing key '{name}' {table_label(table, data)}")
            )
        else:
            value_errors.setdefault(_data_prefix(loc, data), []).append(error)
    for key, errors in value_errors.items():
        problems.append(Problem([key], _wrong_value(key, errors, data)))
    return problems


def unknown_tool_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Persona tool names must be names of built-in tools."""
    personas = data.get("personas")
    if not isinstance(personas, list):
        return []
    known = list(BUILTIN_TOOL_NAMES)
    problems: list[Problem] = []
    for index, persona in enumerate(personas):
        tools = persona.get("tools") if isinstance(persona, Mapping) else None
        if not isinstance(tools, list):
            continue
        for position, tool in enumerate(tools):
            if isinstance(tool, str) and tool not in known:
                key: KeyPath = ("personas", index, "tools", position)
                hint = _did_you_mean(tool, known)
                problems.append(
                    Problem(
                        [key],
                        f"unknown tool '{tool}' {table_label(key[:2], data)}{hint}; "
                        f"the tools are: {', '.join(sorted(known))}",
                    )
                )
    return problems


def _model_problem(error: ErrorDetails) -> Problem:
    message = error["msg"].removeprefix("Value error, ")
    for prefix, candidates in _MODEL_ERROR_KEYS.items():
        if message.startswith(prefix):
            return Problem(candidates, message)
    return Problem([()], message)


def _unknown_key(loc: KeyPath, data: Mapping[str, Any]) -> Problem:
    table, name = loc[:-1], str(loc[-1])
    known = _field_names(table)
    return Problem(
        [loc], f"unknown key '{name}' {table_label(table, data)}{_did_you_mean(name, known)}"
    )


def _wrong_value(key: KeyPath, errors: list[ErrorDetails], data: Mapping[str, Any]) -> str:
    wanted: list[str] = []
    for error in errors:
        ctx = error.get("ctx") or {}
        kind = error["type"]
        if kind in _EXPECTED:
            text = _EXPECTED[kind]
        elif kind == "literal_error":
            expected = str(ctx.get("expected", ""))
            text = f"one of {expected}" if " or " in expected else expected
        elif kind in _BOUNDS:
            text = _BOUNDS[kind].format(**{k: _number(v) for k, v in ctx.items()})
        elif kind == "value_error":
            return f"{dotted(key)}: {error['msg'].removeprefix('Value error, ')}"
        else:
            text = error["msg"].removeprefix("Input should be ")
        if text not in wanted:
            wanted.append(text)
    value = _walk(data, key)
    shown = "" if key and key[-1] in SECRET_FIELDS else f", not {_show(value)}"
    return f"{dotted(key)} must be {' or '.join(wanted)}{shown}"


def _data_prefix(loc: KeyPath, data: Mapping[str, Any]) -> KeyPath:
    """The longest start of `loc` that exists in the data (the rest are schema tags)."""
    node: Any = data
    for depth, part in enumerate(loc):
        if not _has(node, part):
            return loc[:depth]
        node = node[part]
    return loc


def _has(node: object, part: str | int) -> bool:
    if isinstance(part, str):
        return isinstance(node, Mapping) and part in node
    return isinstance(node, list) and 0 <= part < len(node)


def _walk(data: Any, key: KeyPath) -> Any:
    node = data
    for part in key:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _field_names(table: KeyPath) -> list[str]:
    """The keys the schema allows in a table (for "did you mean")."""
    annotation: Any = Settings
    for part in table:
        annotation = _without_none(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(part, int) and origin is list:
            annotation = typing.get_args(annotation)[0]
        elif isinstance(part, str) and _is_model(annotation):
            info = annotation.model_fields.get(part)
            annotation = info.annotation if info else None
        elif isinstance(part, str) and origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _without_none(annotation)
    return list(annotation.model_fields) if _is_model(annotation) else []


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f'"{text}"'
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)
