"""Load the configuration: defaults < file < environment < command-line overrides.

Every problem is reported with the file, line and column it comes from (or the
environment variable / command-line flag that set it), in plain words, and all of them
at once so the user fixes the file in one go.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voice_tui.config.errors import ConfigError
from voice_tui.config.keys import key_problems
from voice_tui.config.paths import default_config_path
from voice_tui.config.problems import Problem, problems_from_validation, unknown_tool_problems
from voice_tui.config.schema import Settings
from voice_tui.config.toml_positions import KeyPath, key_positions

# Environment variables the OpenAI and Azure SDKs read, mapped to our keys.
ENV_KEYS: dict[str, KeyPath] = {
    "OPENAI_API_KEY": ("openai", "api_key"),
    "OPENAI_BASE_URL": ("openai", "base_url"),
    "AZURE_OPENAI_ENDPOINT": ("azure", "endpoint"),
    "AZURE_OPENAI_API_KEY": ("azure", "api_key"),
    "AZURE_OPENAI_DEPLOYMENT": ("azure", "deployment"),
    "OPENAI_API_VERSION": ("azure", "api_version"),
    "VOICE_TUI_LOCAL_API_KEY": ("local", "api_key"),
}

SECRET_KEYS: tuple[KeyPath, ...] = (
    ("openai", "api_key"),
    ("azure", "api_key"),
    ("local", "chat_api_key"),
    ("local", "api_key"),
)


@dataclass
class LoadedSettings:
    settings: Settings
    path: Path  # the config file in use (it may not exist yet)
    exists: bool
    notices: list[str] = field(default_factory=list)  # one line each, for the status bar


@dataclass(frozen=True)
class TomlDocument:
    path: Path
    text: str
    data: dict[str, Any]


class ConfigProblems(ConfigError):
    """Several problems at once; `problems` lists them, the first sets line/column."""

    def __init__(self, lines: list[str], *, path: Path, line: int | None, column: int | None):
        super().__init__(f"{len(lines)} problems:\n  " + "\n  ".join(lines), path=path)
        self.line = line
        self.column = column
        self.problems = lines


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    """Read, merge and validate. Raises ConfigError naming file:line:col and the key.

    `path` is an explicit `--config`: it must exist. Otherwise `$VOICE_TUI_CONFIG` or
    the platform's config dir is used, and a missing file just means defaults.
    """
    env = os.environ if env is None else env
    config_path = path.expanduser() if path is not None else default_config_path(env)
    notices: list[str] = []
    document = read_document(config_path) if path is not None or config_path.exists() else None
    if document is None:
        notices.append(
            f"No config file at {config_path}: using defaults "
            "(config.example.toml shows every setting)."
        )

    data: dict[str, Any] = dict(document.data) if document else {}
    origins: dict[KeyPath, str] = {}
    for variable, key in ENV_KEYS.items():
        value = env.get(variable, "").strip()
        if value:
            set_dotted(data, key, value)
            origins[key] = f"environment variable {variable}"
    for dotted, value in (overrides or {}).items():
        if value is not None:
            key = split_dotted(dotted)
            set_dotted(data, key, value)
            origins[key] = f"command line ({dotted})"

    settings = validate(data, document=document, origins=origins, path=config_path)
    if settings.azure.api_version and settings.azure.endpoint:
        where = origins.get(("azure", "api_version"), "azure.api_version")
        notices.append(
            f"{where} is ignored: Azure's GA realtime endpoint (/openai/v1) takes no "
            "api-version (2025-08-28 was a gpt-realtime model version); remove it."
        )
    if document is not None:
        notice = _permission_notice(document)
        if notice:
            notices.append(notice)
    return LoadedSettings(settings, config_path, document is not None, notices)


def read_document(path: Path) -> TomlDocument:
    """Read and parse a TOML file; every failure is a ConfigError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such file", path=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a TOML file", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            "is not UTF-8 text (TOML files must be UTF-8)", path=path, line=line, column=column
        ) from None
    return TomlDocument(path, text, parse_toml(text, path))


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, path) from None


# tomllib's wording where it leaves the user guessing.
_PLAIN_SYNTAX_MESSAGES = {
    "Invalid value": 'invalid value (text needs quotes, e.g. theme = "dark")',
    "Illegal character '\\n'": "the line ends inside a string (a closing quote is missing)",
    "Unterminated string": "a string is not closed (a closing quote is missing)",
}


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, path: Path) -> ConfigError:
    message = str(exc)
    line: int | None = None
    column: int | None = None
    head, sep, tail = message.rpartition(" (at ")
    if sep:
        message = head
        where = tail.rstrip(")")
        if where == "end of document":
            lines = text.split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        elif where.startswith("line "):
            line_text, _, column_text = where.removeprefix("line ").partition(", column ")
            if line_text.isdigit() and column_text.isdigit():
                line, column = int(line_text), int(column_text)
    message = _PLAIN_SYNTAX_MESSAGES.get(message, message)
    if message == "Cannot overwrite a value" or message.startswith("Cannot declare"):
        # tomllib reports where the value ends; the scanner finds the second definition.
        duplicate = key_positions(text).first_duplicate
        if duplicate is not None:
            line, column = duplicate.line, duplicate.column
        message = "this key or table is already defined above"
    return ConfigError(
        f"TOML syntax error: {_lower_first(message)}", path=path, line=line, column=column
    )


def validate(
    data: dict[str, Any],
    *,
    document: TomlDocument | None,
    origins: Mapping[KeyPath, str],
    path: Path,
) -> Settings:
    """Validate merged data against the schema; raise every problem, each placed."""
    problems = unknown_tool_problems(data) + key_problems(data)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, data) + problems
    if not problems and settings is not None:
        return settings
    raise _placed_error(problems, document=document, origins=origins, path=path)


@dataclass(frozen=True)
class _Placed:
    message: str
    source: str | None  # "environment variable X" / "command line (k)"; None: the file
    line: int | None = None
    column: int | None = None

    def render(self, path: Path) -> str:
        if self.source is not None:
            return f"{self.source}: {self.message}"
        return str(ConfigError(self.message, path=path, line=self.line, column=self.column))


def _placed_error(
    problems: list[Problem],
    *,
    document: TomlDocument | None,
    origins: Mapping[KeyPath, str],
    path: Path,
) -> ConfigError:
    positions = key_positions(document.text) if document else None
    placed: list[_Placed] = []
    for problem in problems:
        source = _origin(problem.candidates[0], origins)
        found = None
        if source is None and positions is not None:
            found = next(filter(None, map(positions.find, problem.candidates)), None)
        if found is None:
            placed.append(_Placed(problem.message, source))
        else:
            placed.append(_Placed(problem.message, None, found[0].line, found[0].column))
    placed.sort(key=lambda p: (p.line is None, p.line or 0, p.column or 0))
    if len(placed) == 1:
        only = placed[0]
        if only.source is not None:
            return ConfigError(only.render(path))
        return ConfigError(only.message, path=path, line=only.line, column=only.column)
    first = placed[0]
    return ConfigProblems(
        [p.render(path) for p in placed], path=path, line=first.line, column=first.column
    )


def _origin(key: KeyPath, origins: Mapping[KeyPath, str]) -> str | None:
    """The environment variable or flag that set this key (or a parent of it), if any."""
    for end in range(len(key), 0, -1):
        if key[:end] in origins:
            return origins[key[:end]]
    return None


def _permission_notice(document: TomlDocument) -> str | None:
    """A file holding a key that others may read: say how to fix, never the key."""
    if os.name != "posix" or not any(get_dotted(document.data, key) for key in SECRET_KEYS):
        return None
    try:
        mode = document.path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{document.path} holds an API key and other users can read it: "
            f"run `chmod 600 {document.path}`."
        )
    return None


def split_dotted(dotted: str) -> KeyPath:
    parts = tuple(part.strip() for part in dotted.split("."))
    if not all(parts):
        raise ConfigError(f"{dotted!r} is not a dotted key like 'session.voice'")
    return parts


def set_dotted(data: dict[str, Any], key: KeyPath, value: Any) -> None:
    """Set `data[a][b]... = value`, creating (or replacing non-table) parents."""
    node = data
    for part in key[:-1]:
        child = node.get(str(part))
        # A copy: never mutate a parsed document someone else may hold.
        child = dict(child) if isinstance(child, dict) else {}
        node[str(part)] = child
        node = child
    node[str(key[-1])] = value


def get_dotted(data: Mapping[str, Any], key: KeyPath) -> Any:
    node: Any = data
    for part in key:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
