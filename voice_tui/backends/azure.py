"""The Azure OpenAI backend: `AsyncAzureOpenAI` + `client.realtime.connect(model=deployment)`.

Authenticates with `azure.api_key`, or without one with a Microsoft Entra ID token from
azure-identity (the optional `voice-tui[azure]` extra) when it is installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from openai import AsyncAzureOpenAI

from voice_tui.backends.base import BackendError, ErrorContext, mask_key
from voice_tui.backends.sdk import SdkBackend
from voice_tui.config.schema import Settings

KEY_SETTING = "azure.api_key (or AZURE_OPENAI_API_KEY)"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"

TokenProvider = Callable[[], Awaitable[str]]


def _entra_token_provider() -> TokenProvider | None:
    try:
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        return None
    provider: TokenProvider = get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)
    return provider


def websocket_base_url(endpoint: str) -> str | None:
    """The SDK forces wss:// unless told otherwise; a plain-http endpoint (a local
    server) keeps ws://."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http":
        return None
    return f"ws://{parts.netloc}{parts.path.rstrip('/')}/openai"


class AzureBackend(SdkBackend):
    name = "azure"

    def __init__(self, settings: Settings) -> None:
        a = settings.azure
        if not a.endpoint:
            raise BackendError(
                "No Azure endpoint: set azure.endpoint (or AZURE_OPENAI_ENDPOINT) to "
                "https://<resource>.openai.azure.com.",
                setting="azure.endpoint",
            )
        self.endpoint = a.endpoint
        self.model = a.deployment or settings.backend.model
        self.api_version = a.api_version
        self.notice: str | None = None
        self.description = f"Azure · {self.model} · {urlsplit(a.endpoint).netloc}"
        self.context = ErrorContext(
            kind="azure",
            url=a.endpoint,
            url_setting="azure.endpoint",
            key_setting=KEY_SETTING,
            key_hint=mask_key(a.api_key.get_secret_value()) if a.api_key else "",
            model=self.model,
            model_setting="azure.deployment (or AZURE_OPENAI_DEPLOYMENT)",
            api_version=a.api_version,
        )
        self._api_key = a.api_key.get_secret_value() if a.api_key else None
        self._token_provider: TokenProvider | None = None
        if not self._api_key:
            if a.use_entra_id:
                self._token_provider = _entra_token_provider()
            if self._token_provider is None:
                how = (
                    ", or install azure-identity (pip install 'voice-tui[azure]') to sign "
                    "in with Microsoft Entra ID"
                    if a.use_entra_id
                    else ", or set azure.use_entra_id = true"
                )
                raise BackendError(
                    f"No Azure credentials: set {KEY_SETTING}{how}.",
                    setting="azure.api_key",
                )

    def _new_client(self) -> AsyncAzureOpenAI:
        return AsyncAzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            api_key=self._api_key,
            azure_ad_token_provider=self._token_provider,
            websocket_base_url=websocket_base_url(self.endpoint),
            max_retries=0,
        )
