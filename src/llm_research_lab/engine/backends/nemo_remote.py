"""Remote mode of the ``nemo-evaluator`` backend: a client of the NeMo Evaluator microservice (v1 REST API).

One benchmark is one evaluation job on the service, with the target (our model's OpenAI-compatible
endpoint) and the config (task type and params) given inline, so nothing is left behind on the service
but the job itself::

    POST {service}/v1/evaluation/jobs               -> {"id": "eval-...", "status": "created"}
    GET  {service}/v1/evaluation/jobs/{id}/status   (every poll_interval_seconds) -> status, progress
    GET  {service}/v1/evaluation/jobs/{id}/results  -> tasks.<task>.metrics.<metric>.scores.<score>
    POST {service}/v1/evaluation/jobs/{id}/cancel   (DELETE {service}/v1/evaluation/jobs/{id} where
                                                     the service has no cancel route)

The service runs the task itself, so named NeMo tasks (``mmlu_pro``, ``hendrycks_math``, ...) work here
although local mode cannot run them. Results map to metrics as in local mode (``nemo.map_results``).
No per-document samples reach the ledger: the v1 API returns aggregate results only.

Config (besides the keys local mode reads for the model: ``model_endpoint``, ``endpoint_type``,
``api_key_env``, ``limit_samples``, ``parallelism``, ``temperature``, ``top_p``, ``max_tokens``,
``request_timeout``, ``max_retries``, ``timeout_seconds``): ``endpoint`` (host or URL of the service),
``port`` (3825), ``scheme`` (``http``), ``verify_ssl`` (true), ``namespace`` (``default``),
``config_type`` (the service's task type; default the benchmark id), ``poll_interval_seconds`` (2.0),
``service_api_key_env`` (env var whose value goes to the service as a bearer token).

Errors follow the job system's retry rule: a 4xx answer (bad config, unknown task) or a failed job is a
BackendError (the same on every attempt); a 5xx answer or an unreachable service is a
BackendProcessError (retried). Cancel and timeout cancel the remote job too, so it stops calling the
model.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from llm_research_lab.engine.backends.base import (
    BackendError,
    BackendProcessError,
    BackendRunResult,
    BackendTask,
    BackendTimeoutError,
    cancelled_result,
    opt_float,
    opt_int,
)
from llm_research_lab.engine.backends.nemo import DEFAULT_TIMEOUT_S, NAME, map_results
from llm_research_lab.engine.models.base import ModelSpec
from llm_research_lab.engine.runner import Method, RunTiming
from llm_research_lab.engine.types import ProgressCallback

if TYPE_CHECKING:
    from llm_research_lab.engine.backends.nemo import NemoEvaluatorBackend

DEFAULT_PORT = 3825
DEFAULT_POLL_S = 2.0
HTTP_TIMEOUT_S = 30.0
BODY_TAIL_CHARS = 2000
# Consecutive failed status polls tolerated before giving up: a long job should outlive a blip.
MAX_POLL_ERRORS = 5
CANCEL_TIMEOUT_S = 10.0
RETRYABLE_STATUS = frozenset({408, 429})
FINISHED = frozenset({"completed", "failed", "cancelled"})


def service_url(cfg: Mapping[str, Any]) -> str:
    """The service's base URL from ``endpoint`` (host or URL), ``port`` and ``scheme``."""
    endpoint = str(cfg.get("endpoint") or "").strip().rstrip("/")
    if not endpoint:
        raise BackendError(f"{NAME}: remote mode needs 'endpoint' (the NeMo Evaluator service host)")
    port = opt_int(cfg, "port", default=DEFAULT_PORT)
    if endpoint.startswith(("http://", "https://")):
        parts = urlsplit(endpoint)
        try:
            has_port = parts.port is not None
        except ValueError:
            raise BackendError(f"{NAME}: endpoint {endpoint!r} has an invalid port") from None
        if has_port:
            return endpoint
        # The port goes after the host, before any path prefix (an ingress may mount the service).
        return parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    scheme = str(cfg.get("scheme") or "http").lower()
    if scheme not in ("http", "https"):
        raise BackendError(f"{NAME}: scheme must be 'http' or 'https', got {scheme!r}")
    return f"{scheme}://{endpoint}:{port}"


def _flag(value: Any) -> bool:
    """A config boolean; YAML or a form may give it as a string."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


def _env_value(environ: Mapping[str, str], key_env: str, what: str) -> str:
    value = environ.get(key_env)
    if not value:
        raise BackendError(f"{NAME}: {what} {key_env!r} is not set in the server's environment")
    return value


def job_body(
    model: ModelSpec,
    task: BackendTask,
    cfg: Mapping[str, Any],
    *,
    model_url: str,
    api_key: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """The create-job request: inline model target and evaluation config (None values left out)."""
    endpoint: dict[str, Any] = {"url": model_url, "model_id": model.model_name, "format": "openai"}
    if api_key:
        endpoint["api_key"] = api_key
    params: dict[str, Any] = {
        "limit_samples": limit,
        "parallelism": opt_int(cfg, "parallelism"),
        "request_timeout": opt_int(cfg, "request_timeout"),
        "max_retries": opt_int(cfg, "max_retries"),
    }
    for key in ("temperature", "top_p", "max_tokens"):
        value = cfg.get(key)
        if value is None:  # as local mode: the model's generation settings fill the gaps
            value = getattr(model.generation, key)
        params[key] = value
    if task.num_fewshot is not None:
        params["extra"] = {"num_fewshot": task.num_fewshot}
    return {
        "namespace": str(cfg.get("namespace") or "default"),
        "target": {"type": "model", "model": {"api_endpoint": endpoint}},
        "config": {
            "type": str(cfg.get("config_type") or task.benchmark_id),
            "params": {k: v for k, v in params.items() if v is not None},
        },
    }


class _Service:
    """The few calls we make, with the service's answers turned into our errors."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client = client
        self.base = base

    async def call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            return await self.client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise BackendProcessError(
                f"{NAME}: NeMo Evaluator service at {self.base} unreachable ({method} {path}): "
                f"{type(exc).__name__}: {exc}",
                returncode=None,
                stderr_tail="",
            ) from exc

    async def json(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        """The JSON object answered, or the error for a non-2xx status or a non-object body."""
        resp = await self.call(method, path, json)
        if resp.is_success:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            raise BackendProcessError(
                f"{NAME}: {method} {path} answered {resp.status_code} without a JSON object",
                returncode=None,
                stderr_tail=resp.text[-BODY_TAIL_CHARS:],
            )
        raise _status_error(method, path, resp)

    async def cancel(self, job_id: str) -> None:
        """Ask the service to stop the job; DELETE where this service version has no cancel route."""
        resp = await self.call("POST", f"/v1/evaluation/jobs/{job_id}/cancel")
        if resp.status_code in (404, 405):
            resp = await self.call("DELETE", f"/v1/evaluation/jobs/{job_id}")
        if not resp.is_success and resp.status_code != 404:  # 404: already gone
            raise _status_error("cancel", f"/v1/evaluation/jobs/{job_id}", resp)


def _status_error(method: str, path: str, resp: httpx.Response) -> BackendError:
    tail = resp.text[-BODY_TAIL_CHARS:]
    message = f"{NAME}: NeMo Evaluator service answered {resp.status_code} to {method} {path}"
    if resp.status_code >= 500 or resp.status_code in RETRYABLE_STATUS:
        return BackendProcessError(message, returncode=None, stderr_tail=tail)
    return BackendError(f"{message}: {tail}")


async def _wait(cancel: asyncio.Event | None, seconds: float) -> None:
    """Sleep `seconds`, waking early when `cancel` is set."""
    if cancel is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(cancel.wait(), timeout=seconds)


def _count(value: Any) -> int | None:
    """A non-negative count from a JSON answer (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _progress_of(state: Mapping[str, Any], limit: int | None) -> tuple[int, int]:
    """(samples done, total) from a status answer; total is 0 when neither limit nor percent tell it."""
    raw_pct = state.get("progress")
    pct = float(raw_pct) if isinstance(raw_pct, int | float) and not isinstance(raw_pct, bool) else 0.0
    done = _count(state.get("samples_processed"))
    if done is None:  # the percent is all we have
        done = round(limit * min(pct, 100.0) / 100.0) if limit and pct > 0 else 0
    if limit:
        return min(done, limit), limit
    if pct > 0:
        return done, max(done, round(done * 100.0 / pct))
    return done, 0


async def run_remote(
    backend: NemoEvaluatorBackend,
    model: ModelSpec,
    task: BackendTask,
    cfg: Mapping[str, Any],
    progress: ProgressCallback | None,
    cancel: asyncio.Event | None,
) -> BackendRunResult:
    """Evaluate `task` on `model` as a job on the NeMo Evaluator service; see the module docstring."""
    started = time.perf_counter()
    method: Method = "generate_until"
    base = service_url(cfg)
    endpoint_type = str(cfg.get("endpoint_type") or "chat")
    if endpoint_type not in ("chat", "completions"):
        raise BackendError(f"{NAME}: endpoint_type must be 'chat' or 'completions', got {endpoint_type!r}")
    environ = os.environ if backend.environ is None else backend.environ
    key_env = cfg.get("api_key_env") or model.api_key_env
    api_key = _env_value(environ, str(key_env), "api_key_env") if key_env else None
    headers = {"accept": "application/json"}
    if cfg.get("service_api_key_env"):
        token = _env_value(environ, str(cfg["service_api_key_env"]), "service_api_key_env")
        headers["authorization"] = f"Bearer {token}"
    limit = task.limit if task.limit is not None else opt_int(cfg, "limit_samples")
    timeout = opt_float(cfg, "timeout_seconds", default=DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S
    poll = max(opt_float(cfg, "poll_interval_seconds", default=DEFAULT_POLL_S) or DEFAULT_POLL_S, 0.01)
    body = job_body(
        model,
        task,
        cfg,
        model_url=backend._model_url(model, cfg, endpoint_type),
        api_key=api_key,
        limit=limit,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(
        base_url=base,
        headers=headers,
        verify=_flag(cfg.get("verify_ssl", True)),
        timeout=min(HTTP_TIMEOUT_S, timeout),
    ) as client:
        service = _Service(client, base)
        if cancel is not None and cancel.is_set():
            return cancelled_result(NAME, task.benchmark_id, method, limit or 0, started)
        created = await service.json("POST", "/v1/evaluation/jobs", body)
        job_id = str(created.get("id") or "")
        if not job_id:
            raise BackendProcessError(
                f"{NAME}: the service created a job without an id", returncode=None, stderr_tail=str(created)
            )
        if progress is not None:
            await progress(task.benchmark_id, 0, limit or 0, {})

        async def stop_remote() -> None:
            # Best effort: the job is ours to stop, but an unreachable service must not hide why we stop.
            with contextlib.suppress(BackendError, TimeoutError):
                await asyncio.wait_for(service.cancel(job_id), timeout=CANCEL_TIMEOUT_S)

        try:
            state = await _poll(service, job_id, task, limit, progress, cancel, poll, deadline)
        except asyncio.CancelledError:
            await asyncio.shield(stop_remote())  # our task was cancelled: leave no job running
            raise
        except BackendTimeoutError:
            await stop_remote()
            raise
        except BackendProcessError:
            await stop_remote()  # the job system retries with a new job; the old one must not run on
            raise
        if state is None:  # our cancel event
            await stop_remote()
            return cancelled_result(NAME, task.benchmark_id, method, limit or 0, started)
        # A service that does not count samples reports 0: then the limit is our best count.
        num_docs = _count(state.get("samples_processed")) or limit or 0
        status = state["status"]
        if status == "cancelled":  # by someone else, on the service
            return cancelled_result(NAME, task.benchmark_id, method, num_docs, started)
        if status == "failed":
            message = state.get("message") or "no message"
            raise BackendError(
                f"{NAME}: NeMo Evaluator job {job_id} failed on {task.benchmark_id}: {message}"
            )
        raw = await service.json("GET", f"/v1/evaluation/jobs/{job_id}/results")
    metrics = map_results(raw)
    if not metrics:
        raise BackendError(f"{NAME}: NeMo Evaluator job {job_id} completed without scores: {str(raw)[:500]}")
    if progress is not None:
        await progress(task.benchmark_id, num_docs, num_docs, {})
    return BackendRunResult(
        benchmark=task.benchmark_id,
        method=method,
        status="completed",
        metrics=metrics,
        num_docs=num_docs,
        num_scored=num_docs,
        num_resumed=0,
        num_failed=0,
        timing=RunTiming(wall_seconds=time.perf_counter() - started),
        backend=NAME,
        details={"mode": "remote", "service_url": base, "job_id": job_id, "results": raw},
    )


async def _poll(
    service: _Service,
    job_id: str,
    task: BackendTask,
    limit: int | None,
    progress: ProgressCallback | None,
    cancel: asyncio.Event | None,
    poll: float,
    deadline: float,
) -> dict[str, Any] | None:
    """The last status answer (``status`` lower-cased) once the job finishes; None when our cancel
    event is set first; BackendTimeoutError past the deadline. A service-side "cancelling" is not
    finished: the job may still write results."""
    loop = asyncio.get_running_loop()
    last_done = 0  # 0 was reported when the job was created
    errors = 0
    while True:
        if cancel is not None and cancel.is_set():
            return None
        left = deadline - loop.time()
        if left <= 0:
            raise BackendTimeoutError(
                f"{NAME}: {task.benchmark_id} (NeMo Evaluator job {job_id}) ran past its time limit"
            )
        try:
            state = await service.json("GET", f"/v1/evaluation/jobs/{job_id}/status")
            if not state.get("status"):  # some service versions answer only message and progress
                details = await service.json("GET", f"/v1/evaluation/jobs/{job_id}")
                state["status"] = details.get("status")
            errors = 0
        except BackendProcessError:
            errors += 1
            if errors >= MAX_POLL_ERRORS:
                raise
            await _wait(cancel, min(poll, left))
            continue
        state["status"] = str(state.get("status") or "").lower()
        if progress is not None:
            done, total = _progress_of(state, limit)
            if done > last_done:
                last_done = done
                await progress(task.benchmark_id, done, total, {})
        if state["status"] in FINISHED:
            return state
        await _wait(cancel, min(poll, max(deadline - loop.time(), 0.0)))
