"""The operator commands (typer CliRunner) and the secure-by-default start-up checks."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llm_research_lab.cli.main import app as cli
from llm_research_lab.errors import ConfigurationError
from llm_research_lab.server.app import create_app
from llm_research_lab.server.auth.config import check_auth_config
from llm_research_lab.settings import AuthMode, Settings
from tests.integration.auth.conftest import SECRET


def test_cli_users_and_keys(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    env = {"LAB_DATA_DIR": str(settings.data_dir)}
    if settings.db_url:
        env["LAB_DB_URL"] = settings.db_url
    r = runner.invoke(
        cli,
        ["users", "create", "--email", "admin@example.com", "--password-stdin", "--role", "admin"],
        input="first-admin-password\n",
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert "admin@example.com\tadmin" in r.stdout and "first-admin-password" not in r.output
    r = runner.invoke(
        cli,
        ["users", "create", "--email", "admin@example.com", "--password-stdin"],
        input="another-password\n",
        env=env,
    )
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(cli, ["users", "list"], env=env)
    assert r.exit_code == 0 and "admin@example.com" in r.stdout
    r = runner.invoke(
        cli,
        [
            "keys",
            "create",
            "--email",
            "admin@example.com",
            "--expires-in",
            "30d",
            "--scope",
            "experiments:read",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("llm-research_")
    r_bad = runner.invoke(
        cli, ["keys", "create", "--email", "admin@example.com", "--expires-in", "soon"], env=env
    )
    assert r_bad.exit_code != 0

    # Use the key against a server in required mode on the same database.
    served = settings.model_copy(update={"auth_mode": AuthMode.REQUIRED, "jwt_secret": SECRET})

    async def use() -> tuple[int, int, int]:
        application = create_app(served, run_migrations=False)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                ok = (await c.get("/experiments", headers={"X-API-Key": key})).status_code
                denied = (
                    await c.post("/experiments", json={"name": "x"}, headers={"X-API-Key": key})
                ).status_code
                login = await c.post(
                    "/auth/token", json={"username": "admin@example.com", "password": "first-admin-password"}
                )
                return ok, denied, login.status_code

    import asyncio

    assert asyncio.run(use()) == (200, 403, 200)
    prefix = key[: len("llm-research_") + 8]
    r = runner.invoke(cli, ["keys", "revoke", prefix], env=env)
    assert r.exit_code == 0 and "revoked" in r.stdout

    async def after_revoke() -> int:
        application = create_app(served, run_migrations=False)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return (await c.get("/experiments", headers={"X-API-Key": key})).status_code

    assert asyncio.run(after_revoke()) == 401


def test_disabled_auth_refused_on_public_bind(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app(Settings(data_dir=tmp_path, auth_mode=AuthMode.DISABLED, host="0.0.0.0"))


def test_required_auth_on_public_bind_needs_a_strong_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LAB_JWT_SECRET is required"):
        check_auth_config(Settings(data_dir=tmp_path, host="0.0.0.0"))
    with pytest.raises(ConfigurationError, match="too short"):
        check_auth_config(Settings(data_dir=tmp_path, host="0.0.0.0", jwt_secret="changeme"))
    assert check_auth_config(Settings(data_dir=tmp_path, host="0.0.0.0", jwt_secret=SECRET)) == SECRET
    assert not (tmp_path / "jwt_secret").exists()


def test_local_mode_generates_a_private_secret_once(tmp_path: Path) -> None:
    first = check_auth_config(Settings(data_dir=tmp_path))
    path = tmp_path / "jwt_secret"
    assert len(first) >= 32 and path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert check_auth_config(Settings(data_dir=tmp_path)) == first
    # The default settings (127.0.0.1, auth required) start without any configuration.
    assert create_app(Settings(data_dir=tmp_path)) is not None


async def test_openapi_security_follows_settings(settings: Settings) -> None:
    from llm_research_lab.server.auth.install import apply_security_settings  # noqa: F401

    for metrics_public in (True, False):
        s = settings.model_copy(
            update={"auth_mode": AuthMode.REQUIRED, "jwt_secret": SECRET, "metrics_public": metrics_public}
        )
        schema = create_app(s, run_migrations=False).openapi()
        assert (schema["paths"]["/metrics"]["get"].get("security") == []) is metrics_public
        assert schema["paths"]["/auth/token"]["post"]["security"] == []
        assert "security" not in schema["paths"]["/auth/me"]["get"]
