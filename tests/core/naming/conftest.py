from __future__ import annotations

import pytest

from certbench.core.config import Settings, default_settings


@pytest.fixture
def settings() -> Settings:
    return default_settings()
