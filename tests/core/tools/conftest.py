"""Fixtures for the tool tests: isolated data dirs and a fixed clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.support.tools import FIXED_NOW, RegistryFactory
from voice_tui.config.schema import Settings, ToolsSettings
from voice_tui.core.tools import ToolContext, ToolRegistry, build_registry


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # 3 tables of 4 seats: small enough to exhaust in a test.
    return Settings(
        tools=ToolsSettings(
            data_dir=str(data_dir), restaurant_tables=3, restaurant_seats_per_table=4
        )
    )


@pytest.fixture
def make_registry(settings: Settings, data_dir: Path) -> RegistryFactory:
    """A registry over the test's data dir; each call is a fresh instance (a restart)."""

    def make(now: datetime = FIXED_NOW, s: Settings | None = None) -> ToolRegistry:
        chosen = s or settings
        ctx = ToolContext(settings=chosen.tools, data_dir=data_dir, now=lambda: now)
        return build_registry(chosen, ctx)

    return make


@pytest.fixture
def registry(make_registry: RegistryFactory) -> ToolRegistry:
    return make_registry()
