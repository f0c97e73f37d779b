"""build_runtime fits the session to the backend's model: deprecation notices, the
reasoning effort in session.update for reasoning models only, Azure's transcription
deployment, and renewal before each service's own session limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import API_KEY, Recorder, engine_settings, tone_components
from voice_tui.config.loader import LoadedSettings
from voice_tui.config.schema import Settings
from voice_tui.core.events import Notice, SessionReady
from voice_tui.runtime import build_runtime
from voice_tui.server.app import LocalServer, start_server


@pytest.fixture
async def any_model_server() -> AsyncIterator[LocalServer]:
    srv = await start_server(components=tone_components(), api_key=API_KEY)
    try:
        yield srv
    finally:
        await srv.close()


def loaded(settings: Settings, tmp_path: Path, **sections: dict[str, Any]) -> LoadedSettings:
    data = settings.model_dump(mode="python")
    data["openai"]["api_key"] = settings.openai.api_key
    data["journal"] = {"enabled": False}
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return LoadedSettings(Settings.model_validate(data), tmp_path / "config.toml", False)


async def started(loaded_settings: LoadedSettings) -> tuple[Any, Recorder]:
    rt = await build_runtime(loaded_settings, audio=False)
    rec = Recorder()
    rt.engine.subscribe(rec)
    await rt.engine.start()
    await rec.wait_for(SessionReady)
    return rt, rec


async def started_on_azure(
    server: LocalServer, tmp_path: Path, **azure: str
) -> tuple[Any, Recorder]:
    """A runtime on the Azure backend against `server`, deployment "team-voice" with
    the key; `azure`: further azure.* settings."""
    base = engine_settings(server.base_url, tmp_path)
    return await started(
        loaded(
            base,
            tmp_path,
            backend={"kind": "azure"},
            openai={"api_key": None, "base_url": None},
            azure={
                "endpoint": server.azure_endpoint,
                "deployment": "team-voice",
                "api_key": API_KEY,
                **azure,
            },
        )
    )


async def test_a_deprecated_model_starts_with_the_notice(
    any_model_server: LocalServer, tmp_path: Path
) -> None:
    base = engine_settings(any_model_server.base_url, tmp_path)
    rt, rec = await started(
        loaded(
            base,
            tmp_path,
            backend={"model": "gpt-realtime"},
            session={"transcription_model": "gpt-4o-mini-transcribe"},
        )
    )
    try:
        notices = [n.message for n in rec.of(Notice)]
        assert (
            "gpt-realtime is deprecated: OpenAI shuts it down on 2027-01-20. "
            "Use gpt-realtime-2.1 (set backend.model or --model)."
        ) in notices
        assert any(
            n.startswith("Transcription model gpt-4o-mini-transcribe is deprecated")
            and "2027-02-26" in n
            and "gpt-transcribe" in n
            for n in notices
        )
        (session,) = any_model_server.sessions
        assert session.config.reasoning is None  # gpt-realtime does not reason
    finally:
        await rt.aclose()


@pytest.mark.parametrize("effort", ["minimal", "high", "xhigh"])
async def test_the_configured_reasoning_effort_reaches_session_update(
    any_model_server: LocalServer, tmp_path: Path, effort: str
) -> None:
    base = engine_settings(any_model_server.base_url, tmp_path)
    rt, rec = await started(
        loaded(
            base,
            tmp_path,
            backend={"model": "gpt-realtime-2.1"},
            session={"reasoning_effort": effort, "parallel_tool_calls": False},
        )
    )
    try:
        (session,) = any_model_server.sessions
        assert session.config.reasoning is not None
        assert session.config.reasoning.effort == effort
        assert session.config.parallel_tool_calls is False
        assert not [n for n in rec.of(Notice) if "deprecated" in n.message]
    finally:
        await rt.aclose()


async def test_azure_names_the_transcription_deployment_and_renews_sooner(
    any_model_server: LocalServer, tmp_path: Path
) -> None:
    rt, _ = await started_on_azure(
        any_model_server,
        tmp_path,
        model="gpt-realtime-2.1-mini",
        transcription_deployment="team-transcribe",
    )
    try:
        (session,) = any_model_server.sessions
        assert session.config.model == "team-voice"
        transcription = session.config.audio.input.transcription
        assert transcription is not None and transcription.model == "team-transcribe"
        assert session.config.reasoning is not None  # azure.model reasons
        assert rt.engine.policy.renew_after_s == 25 * 60.0  # Azure ends sessions at 30 min
    finally:
        await rt.aclose()


async def test_an_unknown_azure_deployment_model_is_explained(
    any_model_server: LocalServer, tmp_path: Path
) -> None:
    rt, rec = await started_on_azure(any_model_server, tmp_path)
    try:
        assert any("Set azure.model" in n.message for n in rec.of(Notice))
        (session,) = any_model_server.sessions
        assert session.config.reasoning is None  # not known to reason: not sent
        assert rt.engine.policy.renew_after_s == 25 * 60.0
    finally:
        await rt.aclose()


async def test_openai_renews_before_its_hour(server: LocalServer, tmp_path: Path) -> None:
    base = engine_settings(server.base_url, tmp_path)
    rt, _ = await started(loaded(base, tmp_path))
    try:
        assert rt.engine.policy.renew_after_s == 55 * 60.0
    finally:
        await rt.aclose()
