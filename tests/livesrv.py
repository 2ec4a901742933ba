"""A live `llm-lab serve` subprocess for SDK, CLI, example and end-to-end tests.

The SDK is tested against the real server over real HTTP (no mocked transports): a free loopback
port, a fresh data directory, auth disabled unless a test asks otherwise.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    data_dir: Path
    env: Mapping[str, str]
    log: Path


def server_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    env.update({"LAB_AUTH_MODE": "disabled", "LAB_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@contextlib.contextmanager
def live_server(
    data_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
    console_script: bool = False,
) -> Iterator[LiveServer]:
    """Start `llm-lab serve` on a free port and wait for /health; stop it afterwards."""
    port = free_port()
    env = server_env(data_dir, extra_env)
    log = data_dir.parent / f"server-{port}.log"
    launcher = (
        [str(Path(sys.executable).parent / "llm-lab")]
        if console_script
        else [sys.executable, "-m", "llm_research_lab.cli.main"]
    )
    cmd = [*launcher, "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {timeout}s:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        yield LiveServer(base_url, data_dir, env, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
