from __future__ import annotations

import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.catalog.resolver import DataResolver


@pytest.fixture(scope="session")
def resolver() -> DataResolver:
    """Shipped data only: no data dir, no hub, so tests never touch the network."""
    return load_catalog().resolver()
