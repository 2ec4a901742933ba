"""Start-up checks: secure by default. The server refuses configurations that would expose it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from llm_research_lab.errors import ConfigurationError
from llm_research_lab.settings import AuthMode, Settings

MIN_SECRET_LENGTH = 32
SECRET_FILE = "jwt_secret"


def check_auth_config(settings: Settings) -> str:
    """The JWT signing secret to use; raises ConfigurationError for an unsafe setup."""
    if settings.auth_mode == AuthMode.DISABLED and not settings.binds_loopback:
        raise ConfigurationError(
            f"LAB_AUTH_MODE=disabled (no authentication) is only allowed when the server binds a "
            f"loopback address, but LAB_HOST is {settings.host!r}. Bind 127.0.0.1, or set "
            "LAB_AUTH_MODE=required and LAB_JWT_SECRET."
        )
    if settings.jwt_secret:
        if len(settings.jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"LAB_JWT_SECRET is too short (minimum {MIN_SECRET_LENGTH} characters); "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return settings.jwt_secret
    if not settings.binds_loopback:
        raise ConfigurationError(
            f"LAB_JWT_SECRET is required when the server binds a non-loopback address ({settings.host!r}); "
            'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    return local_secret(settings.ensure_data_dir())


def local_secret(data_dir: Path) -> str:
    """Local mode: a random secret generated once and kept beside the database, readable by us only."""
    path = data_dir / SECRET_FILE
    try:
        value = path.read_text().strip()
        if len(value) >= MIN_SECRET_LENGTH:
            os.chmod(path, 0o600)
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    os.chmod(path, 0o600)
    return value
