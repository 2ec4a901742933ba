"""What every evaluation backend shares: the task it is given, the result it returns, its errors, and
a supervised subprocess (progress lines, cancel, timeout, stderr tail).

A backend is built once per Eval Hub backend entry (``BACKENDS[type](config, resolver=...)``) and runs
one benchmark per call::

    backend = BACKENDS["lm-evaluation-harness"]({"batch_size": 1}, resolver=catalog.resolver())
    result = await backend.run(model_spec, BackendTask("arc_easy", num_fewshot=5, limit=50), sink,
                               progress=report, cancel=cancel_event)
    result.metrics   # {"acc": 0.62, "acc_stderr": 0.07, "acc_norm": ...}

External harnesses score documents only at their very end, so their samples reach the sink in one
batch after the process exits; progress while they run comes from the request counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llm_research_lab.catalog.resolver import DataResolver
from llm_research_lab.engine.models.base import ModelSpec
from llm_research_lab.engine.runner import BenchmarkRunResult, RunTiming
from llm_research_lab.engine.types import ProgressCallback, SampleSink, ScoredSample

STDERR_TAIL_CHARS = 4000
KILL_GRACE_S = 3.0


class BackendError(RuntimeError):
    """A backend cannot run the benchmark (bad config, unsupported task, missing data, crash)."""


class BackendUnavailableError(BackendError):
    """The backend's optional package is not installed, or a task needs something offline mode forbids."""


class BackendTimeoutError(BackendError):
    """The run went past its time limit and was killed."""


class BackendProcessError(BackendError):
    """The harness's subprocess exited with an error; carries the exit code and the stderr tail."""

    def __init__(self, message: str, *, returncode: int | None, stderr_tail: str) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        detail = f"\n--- stderr (tail) ---\n{stderr_tail}" if stderr_tail else ""
        super().__init__(message + detail)


@dataclass(frozen=True, slots=True)
class BackendTask:
    """One benchmark for a backend: the Eval Hub ``benchmarks[i]`` entry, resolved."""

    benchmark_id: str
    num_fewshot: int | None = None
    limit: int | None = None
    # The benchmark's own `config` (wins over the backend's config for the same key).
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BackendRunResult(BenchmarkRunResult):
    """A native `BenchmarkRunResult` plus what the external harness reported."""

    backend: str = ""
    # Harness version, command, raw metric names, output location, ...: shown with the result.
    details: dict[str, Any] = field(default_factory=dict)


class EvaluationBackend(Protocol):
    """What the job system calls; see the module docstring."""

    name: str

    async def run(
        self,
        model: ModelSpec,
        task: BackendTask,
        sink: SampleSink,
        *,
        progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BackendRunResult: ...


def cancelled_result(
    backend: str, benchmark: str, method: Any, num_docs: int, started: float
) -> BackendRunResult:
    return BackendRunResult(
        benchmark=benchmark,
        method=method,
        status="cancelled",
        metrics={},
        num_docs=num_docs,
        num_scored=0,
        num_resumed=0,
        num_failed=0,
        timing=RunTiming(wall_seconds=time.perf_counter() - started),
        backend=backend,
    )


def merged_config(backend_config: Mapping[str, Any], task: BackendTask) -> dict[str, Any]:
    """Backend config overlaid with the benchmark's config (the benchmark's keys win)."""
    return {**backend_config, **task.config}


def opt_int(cfg: Mapping[str, Any], *keys: str, default: int | None = None) -> int | None:
    """The first of `keys` present in `cfg`, as an int (a config error names the key)."""
    for key in keys:
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BackendError(f"config {key!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise BackendError(f"config {key!r} must be an integer, got {value!r}") from None
    return default


def opt_float(cfg: Mapping[str, Any], *keys: str, default: float | None = None) -> float | None:
    for key in keys:
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BackendError(f"config {key!r} must be a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise BackendError(f"config {key!r} must be a number, got {value!r}") from None
    return default


async def record_in_batches(sink: SampleSink, samples: Sequence[ScoredSample], size: int = 200) -> None:
    for i in range(0, len(samples), size):
        await sink.record(samples[i : i + size])


# --------------------------------------------------------------------------- subprocess


@dataclass(slots=True)
class ProcessOutcome:
    returncode: int | None
    cancelled: bool
    timed_out: bool
    stderr_tail: str
    wall_seconds: float


LineHandler = Callable[[str], Awaitable[None]]


async def supervise(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    on_stdout_line: LineHandler | None = None,
    cancel: asyncio.Event | None = None,
    timeout: float | None = None,
    kill_grace: float = KILL_GRACE_S,
) -> ProcessOutcome:
    """Run `argv` in its own process group and wait for it, cancel, or timeout.

    Stdout is read line by line into `on_stdout_line`; stderr is drained continuously (a full pipe
    would block the child) keeping only its tail. Cancel or timeout sends SIGTERM to the whole
    process group (the harness's own workers included), then SIGKILL after `kill_grace` seconds. If
    the awaiting task itself is cancelled, the group is killed before the CancelledError propagates,
    so no orphan keeps calling the model endpoint.
    """
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=str(cwd) if cwd is not None else None,
        start_new_session=True,  # its own process group: killpg reaches every child
    )
    tail: deque[str] = deque()
    tail_len = [0]

    async def drain_stderr() -> None:
        assert proc.stderr is not None
        while True:
            chunk = await proc.stderr.read(65536)
            if not chunk:
                return
            text = chunk.decode("utf-8", errors="replace")
            tail.append(text)
            tail_len[0] += len(text)
            while tail_len[0] - len(tail[0]) > STDERR_TAIL_CHARS and len(tail) > 1:
                tail_len[0] -= len(tail.popleft())

    async def read_stdout() -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            if on_stdout_line is not None:
                await on_stdout_line(line.decode("utf-8", errors="replace").rstrip("\n"))

    readers = [asyncio.create_task(drain_stderr()), asyncio.create_task(read_stdout())]
    waiter = asyncio.create_task(proc.wait())
    watchers: list[asyncio.Task[Any]] = []
    if cancel is not None:
        watchers.append(asyncio.create_task(cancel.wait()))
    cancelled = timed_out = False
    try:
        done, _ = await asyncio.wait(
            [waiter, *watchers], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            cancelled = bool(cancel is not None and cancel.is_set())
            timed_out = not cancelled
            await _kill_group(proc, kill_grace)
        await waiter
        # The pipes close when the group is gone; a grandchild holding them is killed with the group.
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), timeout=kill_grace + 2)
    except BaseException:
        await _kill_group(proc, kill_grace)
        raise
    finally:
        for t in [*watchers, *readers]:
            t.cancel()
        await asyncio.gather(*watchers, *readers, return_exceptions=True)
    text = "".join(tail)
    return ProcessOutcome(
        returncode=proc.returncode,
        cancelled=cancelled,
        timed_out=timed_out,
        stderr_tail=text[-STDERR_TAIL_CHARS:],
        wall_seconds=time.perf_counter() - started,
    )


async def _kill_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    if proc.returncode is not None:
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers of a finished leader
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout=grace)
    except TimeoutError:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=grace)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def child_environment(
    base: Mapping[str, str] | None, extra: Mapping[str, str], *, offline: bool = True
) -> dict[str, str]:
    """The subprocess environment: `base` (default os.environ) + offline switches + `extra`."""
    env = dict(os.environ if base is None else base)
    if offline:
        env.update(
            HF_HUB_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_EVALUATE_OFFLINE="1",
            HF_HUB_DISABLE_TELEMETRY="1",
        )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


class SubprocessBackend:
    """What the harness backends share: the Eval Hub backend config, where benchmark data comes from,
    the environment handed to the harness (None: the server's own), where its temporary run
    directories go, and the Python that runs its runner module."""

    name = ""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        resolver: DataResolver,
        environ: Mapping[str, str] | None = None,
        work_dir: Path | None = None,
        python: str | None = None,
    ) -> None:
        self.config = dict(config or {})
        self.resolver = resolver
        self.environ = environ
        self.work_dir = work_dir
        self.python = python or sys.executable
