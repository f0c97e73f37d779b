"""The Azure OpenAI backend, GA: the plain SDK client on `<endpoint>/openai/v1`.

Azure's GA realtime endpoint is `wss://<resource>.openai.azure.com/openai/v1/realtime?
model=<deployment>`, with no api-version; the key, or without one a Microsoft Entra ID
token from azure-identity (the optional `voice-tui[azure]` extra), goes out as
`Authorization: Bearer`. (`AsyncAzureOpenAI` builds the preview URL `/openai/realtime?
api-version=...&deployment=...`, retired on 30 April 2026: it is not used.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from openai import AsyncOpenAI

from voice_tui.backends.base import BackendError, ErrorContext, mask_key
from voice_tui.backends.sdk import SdkBackend
from voice_tui.config.schema import Settings

KEY_SETTING = "azure.api_key (or AZURE_OPENAI_API_KEY)"
AZURE_SESSION_LIMIT_S = 30 * 60.0  # Azure ends a realtime session after 30 minutes

TokenProvider = Callable[[], Awaitable[str]]


def entra_token_provider(scope: str, credential: Any = None) -> TokenProvider | None:
    """A bearer-token provider for `scope` from an azure-identity async credential
    (default: DefaultAzureCredential: `az login`, managed identity...), or None when
    azure-identity is not installed."""
    try:
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

        # Its async credentials need aiohttp (the extra installs both).
        credential = credential if credential is not None else DefaultAzureCredential()
    except ImportError:
        return None
    provider: TokenProvider = get_bearer_token_provider(credential, scope)
    return provider


def v1_base_url(endpoint: str) -> str:
    """`<endpoint>/openai/v1` from an endpoint given with or without a trailing slash
    or the `/openai/v1` (or `/openai`) suffix."""
    base = endpoint.strip().rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if base.endswith(suffix):
            base = base.removesuffix(suffix)
            break
    return f"{base.rstrip('/')}/openai/v1"


class AzureBackend(SdkBackend):
    name = "azure"
    session_limit_s = AZURE_SESSION_LIMIT_S

    def __init__(self, settings: Settings, *, credential: Any = None) -> None:
        """`credential`: an azure-identity async credential to sign in with when there is
        no key (default: DefaultAzureCredential)."""
        a = settings.azure
        if not a.endpoint:
            raise BackendError(
                "No Azure endpoint: set azure.endpoint (or AZURE_OPENAI_ENDPOINT) to "
                "https://<resource>.openai.azure.com.",
                setting="azure.endpoint",
            )
        parts = urlsplit(a.endpoint.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise BackendError(
                f"azure.endpoint {a.endpoint!r} is not a URL like "
                "https://<resource>.openai.azure.com.",
                setting="azure.endpoint",
            )
        self.base_url = v1_base_url(a.endpoint)
        self.model = a.deployment or settings.backend.model
        self.model_id = a.model or self.model  # what the deployment serves, if known
        self.notice: str | None = None
        self.description = f"Azure · {self.model} · {parts.netloc}"
        self.context = ErrorContext(
            kind="azure",
            url=self.base_url,
            url_setting="azure.endpoint",
            key_setting=KEY_SETTING,
            key_hint=mask_key(a.api_key.get_secret_value()) if a.api_key else "",
            model=self.model,
            model_setting="azure.deployment (or AZURE_OPENAI_DEPLOYMENT)",
        )
        self._credential: str | TokenProvider | None = (
            a.api_key.get_secret_value() if a.api_key else None
        )
        if self._credential is None and a.use_entra_id:
            self._credential = entra_token_provider(a.entra_scope, credential)
        if self._credential is None:
            how = (
                ", or install azure-identity and aiohttp (pip install 'voice-tui[azure]') "
                "and sign in with `az login`"
                if a.use_entra_id
                else ", or set azure.use_entra_id = true"
            )
            raise BackendError(
                f"No Azure credentials: set {KEY_SETTING}{how}.", setting="azure.api_key"
            )

    def _new_client(self) -> AsyncOpenAI:
        return AsyncOpenAI(api_key=self._credential, base_url=self.base_url, max_retries=0)
