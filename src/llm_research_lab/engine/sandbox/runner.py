"""Run one untrusted Python program in a jail and report how it ended.

Layers, outermost first (each one is enough to stop the common attacks on its own):

1. a fresh network namespace (only a down loopback: no host, LAN or DNS access), PID namespace
   (the program is PID 1, so all its descendants die with it), mount, IPC and UTS namespaces;
2. every mount read-only and nosuid, except the work directory: a size-capped tmpfs;
3. uid/gid ``nobody`` with no supplementary groups and ``no_new_privs`` when running as root;
4. rlimits: address space, CPU seconds, file size, processes, open files, no core dumps;
5. a wall-clock timeout: the launcher SIGKILLs the namespace's PID 1 (so every descendant dies)
   and reaps it; if the launcher does not answer, its whole process group is SIGKILLed;
6. an in-process guard (:mod:`._harness`) that disables fork/kill/subprocess/sockets/ctypes.

Not contained: reading world-readable host files (the filesystem is read-only, not hidden), CPU
and memory-bandwidth contention with the host, and RLIMIT_NPROC is counted per uid, so concurrent
sandboxes (all ``nobody``) share one process budget.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "timeout", "killed", "error"]

NOBODY = 65534
PROGRAM_NAME = "program.py"
# After a timeout kill, how long to wait for the pipes to close before giving up on the tail.
_KILL_GRACE_S = 2.0
_LAUNCHER = Path(__file__).with_name("_launcher.py")
_HARNESS_SOURCE = Path(__file__).with_name("_harness.py").read_text(encoding="utf-8")
_DEFAULT_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one program run.

    ``cpu_s`` defaults to the wall-clock timeout rounded up plus one second, so that a busy loop
    is stopped by the wall clock (status ``timeout``) rather than by SIGXCPU.
    """

    timeout_s: float = 10.0
    memory_mb: int = 512
    cpu_s: int | None = None
    max_file_bytes: int = 16 * 1024 * 1024
    max_processes: int = 32
    max_open_files: int = 64
    workdir_mb: int = 64
    max_output_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        for name in ("memory_mb", "max_file_bytes", "max_processes", "max_open_files", "workdir_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.cpu_s is not None and self.cpu_s <= 0:
            raise ValueError("cpu_s must be positive")
        if self.max_output_bytes < 0:
            raise ValueError("max_output_bytes must not be negative")

    @property
    def effective_cpu_s(self) -> int:
        return self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed program ended.

    ``status``: ``passed`` (ran to its end, exit 0), ``failed`` (exception or non-zero exit),
    ``timeout`` (wall clock exceeded; everything was killed), ``killed`` (ended by a signal, e.g.
    SIGXCPU from the CPU limit or SIGKILL from the kernel), ``error`` (the sandbox itself could not
    be set up; the program did not run).  Output fields hold the *last* ``max_output_bytes`` bytes.
    """

    status: Status
    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    wall_s: float
    signal: int | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class _Tail:
    """Keeps the last ``cap`` bytes of a stream while draining all of it."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.cap:
            del self.data[: len(self.data) - self.cap]

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


def run_python(
    program: str,
    *,
    timeout_s: float,
    memory_mb: int = 512,
    cpu_s: int | None = None,
    max_file_bytes: int = 16 * 1024 * 1024,
    max_processes: int = 32,
    max_output_bytes: int = 64 * 1024,
    env: dict[str, str] | None = None,
    guard: bool = True,
) -> SandboxResult:
    """Run ``program`` in a fresh sandbox and wait for it (blocking).

    ``guard=False`` switches off only the in-process guard (used by the tests to prove that the
    OS-level jail contains a program on its own).  ``env`` is added to a minimal environment.
    """
    limits = SandboxLimits(
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        cpu_s=cpu_s,
        max_file_bytes=max_file_bytes,
        max_processes=max_processes,
        max_output_bytes=max_output_bytes,
    )
    return execute(program, limits, env=env, guard=guard)


def execute(
    program: str,
    limits: SandboxLimits,
    *,
    env: dict[str, str] | None = None,
    guard: bool = True,
) -> SandboxResult:
    """Run ``program`` under ``limits``; the building block of :func:`run_python` and the pool."""
    started = time.monotonic()
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="lrl-sandbox-"))
    try:
        return _execute_in(workdir, program, limits, env or {}, guard, started)
    except OSError as exc:
        return SandboxResult("error", None, "", "", time.monotonic() - started, error=str(exc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _execute_in(
    workdir: str,
    program: str,
    limits: SandboxLimits,
    env: dict[str, str],
    guard: bool,
    started: float,
) -> SandboxResult:
    as_root = os.geteuid() == 0
    uid, gid = (NOBODY, NOBODY) if as_root else (os.geteuid(), os.getegid())
    Path(workdir, PROGRAM_NAME).write_text(program, encoding="utf-8")
    if as_root:
        os.chown(workdir, uid, gid)
    python = os.path.realpath(sys.executable)
    status_r, status_w = os.pipe()
    config = {
        "status_fd": status_w,
        "parent_pid": os.getpid(),
        "workdir": workdir,
        "program_name": PROGRAM_NAME,
        "python": python,
        "prefix": os.path.realpath(sys.base_prefix),
        "harness": _HARNESS_SOURCE,
        "harness_args": [PROGRAM_NAME, "1" if guard else "0"],
        "env": {**_DEFAULT_ENV, "HOME": workdir, "TMPDIR": workdir, **env},
        "uid": uid,
        "gid": gid,
        "drop_privileges": as_root,
        "cpu_s": limits.effective_cpu_s,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "max_file_bytes": limits.max_file_bytes,
        "max_open_files": limits.max_open_files,
        "max_processes": limits.max_processes,
        "workdir_bytes": limits.workdir_mb * 1024 * 1024,
    }
    try:
        proc = subprocess.Popen(
            [python, "-I", "-S", "-B", str(_LAUNCHER), json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,  # own process group, so one killpg reaches all of it
            env=dict(_DEFAULT_ENV),
            cwd="/",
        )
    except OSError:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)
    try:
        out, err, timed_out = _collect(proc, limits, started)
        proc.wait()
        with os.fdopen(status_r, "rb") as status_file:
            status_r = -1
            report = status_file.read().decode("utf-8", "replace").strip()
    finally:
        if status_r >= 0:
            os.close(status_r)
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    wall = time.monotonic() - started
    return _result(report, out, err, timed_out, wall)


def _collect(
    proc: subprocess.Popen[bytes], limits: SandboxLimits, started: float
) -> tuple[_Tail, _Tail, bool]:
    """Drain stdout/stderr until both close, killing the process group at the deadline."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Tail(limits.max_output_bytes), _Tail(limits.max_output_bytes)
    tails = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    deadline = started + limits.timeout_s
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if timed_out:
                    break  # pipes held open past the grace period: give up on the rest
                timed_out = True
                _stop(proc)
                deadline = time.monotonic() + _KILL_GRACE_S
                continue
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    tails[key.fd].add(chunk)
                else:
                    selector.unregister(key.fileobj)
    if not timed_out and proc.poll() is None:
        # Output closed but the launcher is still reporting; it must not outlive the deadline.
        try:
            proc.wait(max(0.0, started + limits.timeout_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc)
    proc.stdout.close()
    proc.stderr.close()
    return out, err, timed_out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the program's PID namespace through the launcher, which then reaps it."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Fallback if the launcher does not respond: it leads the group, and its death SIGKILLs the
    # namespace's PID 1 (parent-death signal) and with it every process in the namespace, even ones
    # that left the group.  PID 1 may then linger as a zombie until the host's init reaps it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _result(report: str, out: _Tail, err: _Tail, timed_out: bool, wall: float) -> SandboxResult:
    def make(
        status: Status, exit_code: int | None = None, sig: int | None = None, error: str | None = None
    ) -> SandboxResult:
        return SandboxResult(
            status, exit_code, out.text(), err.text(), wall, sig, out.truncated, err.truncated, error
        )

    kind, _, detail = report.partition(" ")
    if timed_out:
        return make("timeout")
    if kind == "exit":
        code = int(detail)
        return make("passed" if code == 0 else "failed", exit_code=code)
    if kind == "signal":
        return make("killed", sig=int(detail))
    if kind == "error":
        return make("error", error=f"sandbox setup failed: {detail}")
    return make("error", error=f"launcher ended without a report: {report!r}")
