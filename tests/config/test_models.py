"""The model table: in step with the SDK's deprecations, defaults that are current,
prices by exact model id, and retired Azure settings that only earn a notice."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import openai.types.realtime.audio_transcription_param as transcription_param
import openai.types.realtime.realtime_session_create_request_param as session_param
import pytest

from voice_tui.config.loader import load_settings
from voice_tui.config.models import (
    DEFAULT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEPRECATED_MODELS,
    DEPRECATED_TRANSCRIPTION_MODELS,
    PRICE_TABLE,
)
from voice_tui.config.schema import Settings
from voice_tui.core.protocol import prices_for
from voice_tui.core.usage import TurnUsage


def sdk_deprecations(module: object, class_name: str) -> dict[str, str]:
    """`model`'s "Deprecated values" in the SDK's docstring: model id -> shutdown date."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name)
    body = cls.body
    index = next(
        i
        for i, node in enumerate(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "model"
    )
    doc = body[index + 1]
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
    text = " ".join(str(doc.value.value).split("Deprecated values:")[1].split())
    found: dict[str, str] = {}
    for names, date in re.findall(r"- (.+?): Announced shutdown date: (\d{4}-\d{2}-\d{2})", text):
        for name in re.findall(r'"([^"]+)"', names):
            found[name] = date
    assert found, "the SDK lists no deprecated values any more: update this test"
    return found


def test_realtime_deprecations_follow_the_sdk() -> None:
    sdk = sdk_deprecations(session_param, "RealtimeSessionCreateRequestParam")
    assert {m: d.shutdown for m, d in DEPRECATED_MODELS.items()} == sdk


def test_transcription_deprecations_follow_the_sdk() -> None:
    sdk = sdk_deprecations(transcription_param, "AudioTranscriptionParam")
    assert {m: d.shutdown for m, d in DEPRECATED_TRANSCRIPTION_MODELS.items()} == sdk


def test_the_defaults_are_current_models() -> None:
    settings = Settings()
    assert settings.backend.model == DEFAULT_MODEL == "gpt-realtime-2.1"
    assert settings.session.transcription_model == DEFAULT_TRANSCRIPTION_MODEL
    assert DEFAULT_MODEL not in DEPRECATED_MODELS
    assert DEFAULT_TRANSCRIPTION_MODEL not in DEPRECATED_TRANSCRIPTION_MODELS
    for gone in (*DEPRECATED_MODELS.values(), *DEPRECATED_TRANSCRIPTION_MODELS.values()):
        assert gone.replacement not in DEPRECATED_MODELS
        assert gone.replacement not in DEPRECATED_TRANSCRIPTION_MODELS
    assert settings.session.reasoning_effort == "low"


def test_prices_match_the_exact_model() -> None:
    settings = Settings()
    usage = {
        "output_tokens": 1_000_000,
        "output_token_details": {"audio_tokens": 1_000_000},
    }
    full = TurnUsage.from_response_usage(usage, prices_for(settings, "gpt-realtime-2.1"))
    mini = TurnUsage.from_response_usage(usage, prices_for(settings, "gpt-realtime-2.1-mini"))
    assert (full.cost_usd, mini.cost_usd) == (64.0, 20.0)  # not priced by prefix
    assert set(PRICE_TABLE) <= set(settings.pricing)


def test_an_unknown_model_is_price_unknown_not_free() -> None:
    prices = prices_for(Settings(), "my-azure-deployment")
    usage = TurnUsage.from_response_usage({"output_token_details": {"audio_tokens": 500}}, prices)
    assert usage.priced is False
    assert usage.output_audio_tokens == 500


def test_reasoning_tokens_are_counted_and_billed_as_text_output() -> None:
    prices = prices_for(Settings(), "gpt-realtime-2.1")
    details = {"text_tokens": 100_000, "audio_tokens": 0, "reasoning_tokens": 400_000}
    separate = TurnUsage.from_response_usage(
        {"output_tokens": 500_000, "output_token_details": details}, prices
    )
    assert separate.output_reasoning_tokens == 400_000
    assert separate.cost_usd == pytest.approx(0.5 * 24.0)
    # When the text count already holds them (output_tokens says so), not twice.
    within = TurnUsage.from_response_usage(
        {"output_tokens": 100_000, "output_token_details": details}, prices
    )
    assert within.cost_usd == pytest.approx(0.1 * 24.0)


def test_a_user_price_table_extends_the_built_in_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[pricing."my-model"]\ntext_input = 1.0\n', encoding="utf-8")
    pricing = load_settings(path, {}, {}).settings.pricing
    assert pricing["my-model"].text_input == 1.0
    assert pricing["gpt-realtime-2.1"].audio_output == 64.0


@pytest.mark.parametrize("source", ["file", "env"])
def test_retired_api_version_is_a_notice_not_a_crash(tmp_path: Path, source: str) -> None:
    path = tmp_path / "config.toml"
    text = '[azure]\nendpoint = "https://r.openai.azure.com"\n'
    env = {}
    if source == "file":
        text += 'api_version = "2025-08-28"\n'
    else:
        env["OPENAI_API_VERSION"] = "2024-10-01-preview"
    path.write_text(text, encoding="utf-8")
    notices = load_settings(path, env, {}).notices
    retired = [n for n in notices if "api-version" in n]
    assert len(retired) == 1
    assert "is ignored" in retired[0] and "\n" not in retired[0]
    if source == "env":
        assert retired[0].startswith("environment variable OPENAI_API_VERSION is ignored")
