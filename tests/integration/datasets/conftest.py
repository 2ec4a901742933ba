"""The datasets suite runs on both object stores: the local directory (signed URLs served by the
app itself) and S3 on a real SeaweedFS server, started once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from llm_research_lab.settings import Settings
from tests.fakes.seaweedfs import SeaweedS3, run_seaweedfs


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    with run_seaweedfs(bucket="lab-datasets") as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, storage_backend: str, request: pytest.FixtureRequest) -> Settings:
    """The shared settings fixture, pointed at the backend under test (a fresh S3 prefix per test)."""
    if storage_backend == "local":
        return settings
    server: SeaweedS3 = request.getfixturevalue("seaweed")
    return settings.model_copy(
        update={
            "storage_url": f"s3://{server.bucket}/t{uuid.uuid4().hex[:12]}",
            "storage_endpoint_url": server.endpoint_url,
            "storage_access_key": server.access_key,
            "storage_secret_key": server.secret_key,
            "storage_region": server.region,
        }
    )
