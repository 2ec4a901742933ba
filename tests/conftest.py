"""Shared fixtures: a real database (SQLite, and PostgreSQL when LAB_TEST_POSTGRES_URL is set),
migrated with Alembic, and the ASGI app driven over httpx.

Every test that takes `client` runs once per configured database backend.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from llm_research_lab.server.db.migrate import upgrade
from llm_research_lab.settings import Settings

POSTGRES_URL = os.environ.get("LAB_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once, copy the file per test: isolation without paying for Alembic each time."""
    root = tmp_path_factory.mktemp("sqlite-template")
    upgrade(Settings(data_dir=root))
    return root / "lab.db"


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A private schema for this test session (parallel sessions do not collide)."""
    assert POSTGRES_URL, "LAB_TEST_POSTGRES_URL not set"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:  # fails loudly when the server is unreachable
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    upgrade(Settings(db_url=url, data_dir=Path("/nonexistent")))
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            if r[0] != "alembic_version"
        ]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if db_backend == "postgres":
        url = request.getfixturevalue("postgres_schema_url")
        _truncate_postgres(url)
        return Settings(data_dir=data_dir, db_url=url, auth_mode="disabled")
    shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "lab.db")
    return Settings(data_dir=data_dir, auth_mode="disabled")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    from llm_research_lab.server.app import create_app

    application = create_app(settings, run_migrations=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
