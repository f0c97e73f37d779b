"""Keep secrets out of everything voice-tui writes: logs, the journal, exports, errors.

A `Redactor` knows the actual secret values (every `SecretStr` in the settings and the
API-key environment variables) and replaces each occurrence with a masked form that
still lets a user tell keys apart ("sk-pr…[redacted]"). Matching the real values,
rather than guessing key shapes with patterns, means nothing secret slips through
because it looked unusual, and nothing harmless is mangled.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from voice_tui.config.schema import Settings

REDACTED = "[redacted]"

# Shorter values are too likely to occur in ordinary text to be worth masking
# (and no real API key is this short).
MIN_SECRET_LENGTH = 8

# Environment variables that hold keys whatever their value looks like...
KNOWN_SECRET_ENV_VARS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
# ...and the naming convention for the rest (VOICE_TUI_OPENAI__API_KEY, *_TOKEN...).
_SECRET_ENV_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)


# A secret is also recognised by its beginning followed by key characters: tracebacks
# and reprs truncate long strings ("sk-proj-abc..."), and a prefix is still a secret.
PREFIX_LENGTH = 12
_KEY_CHARS = r"[A-Za-z0-9_\-+/=~]*"  # not ".": it ends sentences and marks truncation


def _secret_regex(secret: str) -> str:
    whole = re.escape(secret)
    if len(secret) <= PREFIX_LENGTH:
        return whole
    return f"{whole}|{re.escape(secret[:PREFIX_LENGTH])}{_KEY_CHARS}"


def mask(secret: str) -> str:
    """A short, recognisable prefix and the marker; never more than a quarter of it."""
    shown = min(5, len(secret) // 4)
    return f"{secret[:shown]}…{REDACTED}"


def secrets_in_settings(settings: BaseModel) -> list[str]:
    """Every SecretStr value anywhere in a settings model (nested models, lists, dicts)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(settings)
    return found


def secrets_in_env(env: Mapping[str, str]) -> list[str]:
    return [
        value
        for name, value in env.items()
        if name in KNOWN_SECRET_ENV_VARS or _SECRET_ENV_NAME.search(name)
    ]


class Redactor:
    """Replaces known secret values in text. Thread-safe; secrets can be added later
    (an Entra ID token fetched mid-session, for instance)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._masks: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._ordered: list[str] = []
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if env is None else env
        return cls([*secrets_in_settings(settings), *secrets_in_env(env)])

    def add(self, secret: str | SecretStr | None) -> None:
        if isinstance(secret, SecretStr):
            secret = secret.get_secret_value()
        if not secret:
            return
        secret = secret.strip()
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._masks:
                return
            masks = {**self._masks, secret: mask(secret)}
            # Longest first, so a key that contains another is masked whole.
            ordered = sorted(masks, key=len, reverse=True)
            self._pattern = re.compile("|".join(f"({_secret_regex(s)})" for s in ordered))
            self._masks = masks
            self._ordered = ordered

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        # One consistent snapshot: `add` may run on another thread.
        pattern, masks, ordered = self._pattern, self._masks, self._ordered
        if pattern is None:
            return text
        return pattern.sub(lambda m: masks[ordered[(m.lastindex or 1) - 1]], text)

    def contains_secret(self, text: str) -> bool:
        pattern = self._pattern
        return pattern is not None and pattern.search(text) is not None


# Credentials in a log whatever their value: a server logs what its clients send
# (websockets' debug log of request headers), keys voice-tui was never told about.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|api-key|x-api-key|ocp-apim-subscription-key"
    r"|cookie|set-cookie)(['\"]?\s*:\s*)([^\r\n,}]+)"
)
_CREDENTIAL_QUERY = re.compile(
    r"(?i)([?&](?:api-key|api_key|key|access_token|token|sig)=)[^&\s#\"']+"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")


def scrub_credentials(text: str) -> str:
    """Blank every credential-bearing header value, `Bearer` token and key-like query
    parameter in log text."""
    text = _CREDENTIAL_HEADER.sub(
        # A value the Redactor already masked keeps its telling prefix ("sk-pr…").
        lambda m: m[0] if REDACTED in m[3] else f"{m[1]}{m[2]}{REDACTED}",
        text,
    )
    text = _CREDENTIAL_QUERY.sub(lambda m: f"{m[1]}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)


_process_redactor: Redactor | None = None


def set_default_redactor(redactor: Redactor | None) -> Redactor | None:
    """Make `redactor` the process's default (setup_logging does this); returns the
    previous one so it can be put back."""
    global _process_redactor
    previous, _process_redactor = _process_redactor, redactor
    return previous


def default_redactor() -> Redactor:
    """The redactor installed for this process (it knows the configured keys), else
    one that knows the keys in the environment. Writers that are not handed a
    redactor use this, so a missing argument never means an unredacted file."""
    if _process_redactor is not None:
        return _process_redactor
    return Redactor(secrets_in_env(os.environ))


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, arguments, traceback and stack before any
    handler formats it. Attach to handlers (a logger's filters do not see records
    propagated from child loggers such as `openai` or `websockets`)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        def redact(text: str) -> str:
            return scrub_credentials(self._redactor.redact(text))

        try:
            message = record.getMessage()
        except Exception:  # bad format args: keep what can be kept, readable
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output is redacted: the last line of defence for
    anything a filter could not see (a secret in a custom attribute, say)."""

    def __init__(self, redactor: Redactor, fmt: str | None = None, datefmt: str | None = None):
        super().__init__(fmt, datefmt)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return scrub_credentials(self._redactor.redact(super().format(record)))
