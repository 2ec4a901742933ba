"""The one Settings object. Built once (create_app, the worker, the CLI) and injected.

Every field reads from the environment with the `LAB_` prefix; nested groups use `__`
(e.g. `LAB_DB__POOL_SIZE`), and the most used fields have flat aliases documented in README
(`LAB_DB_URL`, `LAB_DATA_DIR`, `LAB_AUTH_MODE`, `LAB_JWT_SECRET`, ...).
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path

import platformdirs
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthMode(StrEnum):
    REQUIRED = "required"
    DISABLED = "disabled"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("llm-research-lab", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAB_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    db_url: str | None = None  # None: SQLite file under data_dir
    db_pool_size: int = 10
    db_echo: bool = False

    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None  # used in signed URLs; defaults to http://host:port

    auth_mode: AuthMode = AuthMode.REQUIRED
    jwt_secret: str | None = None
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 30 * 24 * 3600
    metrics_public: bool = True
    health_detailed_public: bool = False

    rate_limit_url: str = "memory://"
    rate_limit_enabled: bool = True
    default_tier: str = "standard"
    anonymous_tier: str = "standard"  # unauthenticated requests, limited per client address

    storage_url: str | None = None  # None: local directory under data_dir
    storage_endpoint_url: str | None = None
    storage_access_key: str | None = None
    storage_secret_key: str | None = None
    storage_region: str = "us-east-1"
    max_upload_bytes: int = 5 * 1024**3
    max_body_bytes: int = 10 * 1024 * 1024  # JSON request bodies

    benchmark_data_dir: Path | None = None
    allow_hub_downloads: bool = False
    executor: str = "local"
    max_concurrent_jobs: int = 4
    job_heartbeat_s: float = 5.0

    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def database_url(self) -> str:
        """Async SQLAlchemy URL."""
        if self.db_url is None:
            return f"sqlite+aiosqlite:///{self.data_dir / 'lab.db'}"
        return to_async_url(self.db_url)

    @property
    def sync_database_url(self) -> str:
        """Sync URL (Alembic)."""
        if self.db_url is None:
            return f"sqlite:///{self.data_dir / 'lab.db'}"
        return to_sync_url(self.db_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"

    @property
    def binds_loopback(self) -> bool:
        return is_loopback(self.host)

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def to_async_url(url: str) -> str:
    if url.startswith("sqlite:///") or url.startswith("sqlite://"):
        return url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def to_sync_url(url: str) -> str:
    if url.startswith("sqlite+aiosqlite://"):
        return url.replace("sqlite+aiosqlite://", "sqlite://", 1)
    for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class SettingsSummary(BaseModel):
    """What /health/detailed may show: never secrets."""

    auth_mode: str
    database: str
    storage: str
    executor: str

    @classmethod
    def of(cls, s: Settings) -> SettingsSummary:
        return cls(
            auth_mode=s.auth_mode.value,
            database="sqlite" if s.is_sqlite else "postgresql",
            storage="s3" if (s.storage_url or "").startswith("s3://") else "local",
            executor=s.executor,
        )
