"""`${VARIABLE}` references in MCP server settings, so secrets stay in the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariable(Exception):
    """A referenced environment variable is not set (the message names it, no value)."""


def expand(value: str, env: Mapping[str, str], *, where: str) -> str:
    """`value` with each `${NAME}` replaced by the environment's value; an unset or
    empty variable raises MissingVariable naming it and `where` it is used."""
    missing = [name for name in _REFERENCE.findall(value) if not env.get(name)]
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise MissingVariable(f"{where} uses ${{{missing[0]}}}, but {names} is not set")
    return _REFERENCE.sub(lambda m: env[m.group(1)], value)


def expand_all(values: Mapping[str, str], env: Mapping[str, str], *, where: str) -> dict[str, str]:
    return {key: expand(v, env, where=f"{where}.{key}") for key, v in values.items()}


def references(value: str) -> list[str]:
    """The names of the variables `value` refers to."""
    return _REFERENCE.findall(value)
