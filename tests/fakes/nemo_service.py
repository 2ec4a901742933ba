"""A loopback fake of the NeMo Evaluator microservice (v1 REST API) for the remote-mode backend tests.

It runs on the OpenAI fake's socket layer (`FakeServer`: real HTTP/1.1 on 127.0.0.1 in a background
thread, request log, fault injection by path) with its own request handling:

- `POST /v1/evaluation/jobs`: validates the inline target/config shape (422 with a FastAPI-style
  `detail` list otherwise) and creates a job (`eval-...`, status `created`)
- `GET /v1/evaluation/jobs/{id}` (job details), `GET .../status`, `GET .../results` (409 until done)
- `POST .../cancel`, `DELETE /v1/evaluation/jobs/{id}`

Jobs advance one step per status poll, so a test is as fast as its poll interval and never depends
on wall time. What a job does is scripted per config type by a `Plan`::

    service = FakeNemoService()
    service.plans["gsm8k"] = Plan(tasks={"gsm8k": task_result("exact_match", strict=(0.4, 0.2))})
    base_url = service.start()
    ...
    service.jobs_created()[0]["config"]["params"]["limit_samples"] == 5
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.openai_server import FakeReply, FakeRequest, FakeServer, Script

JOBS = "/v1/evaluation/jobs"


def task_result(metric: str, **scores: tuple[float, float | None]) -> dict[str, Any]:
    """One task's results: `{"metrics": {metric: {"scores": {name: {"value", "stats"}}}}}`."""
    out: dict[str, Any] = {}
    for name, (value, stderr) in scores.items():
        out[name] = {"value": value, "stats": {} if stderr is None else {"stderr": stderr}}
    return {"metrics": {metric: {"scores": out}}}


@dataclass
class Plan:
    """What a job of one config type does."""

    tasks: dict[str, Any] = field(
        default_factory=lambda: {"task": task_result("accuracy", accuracy=(0.5, 0.1))}
    )
    groups: dict[str, Any] = field(default_factory=dict)
    steps: int = 3  # status polls until completion (the first poll moves created -> running)
    fail_with: str | None = None  # the job fails with this message instead of completing
    cancelled_by_service: bool = False  # the service cancels the job itself
    hang: bool = False  # runs forever (cancel / timeout tests)
    status_upper: bool = True  # "RUNNING" as the v1 API writes it, or "running"
    status_in_status: bool = True  # False: /status answers message and progress only (old versions)


@dataclass
class Job:
    id: str
    body: dict[str, Any]
    plan: Plan
    status: str = "created"
    polls: int = 0
    message: str = "Job created"
    samples: int = 0

    @property
    def limit(self) -> int | None:
        value = self.body["config"].get("params", {}).get("limit_samples")
        return int(value) if isinstance(value, int) else None


def _err(status: int, detail: Any) -> FakeReply:
    return FakeReply(status, {"detail": detail})


class NemoServiceApp:
    """Request handling for `FakeNemoService` (same interface as `FakeOpenAIApp.handle`)."""

    def __init__(self, service: FakeNemoService) -> None:
        self.service = service
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def handle(self, req: FakeRequest) -> FakeReply:
        svc = self.service
        route_fn = svc.script.routes.get((req.method, req.path))
        if route_fn is not None:  # a test's own answer wins
            return route_fn(req)
        if svc.api_key is not None and req.headers.get("authorization") != f"Bearer {svc.api_key}":
            return _err(401, "Not authenticated")
        parts = req.path.rstrip("/").split("/")
        if req.path.rstrip("/") == JOBS:
            if req.method != "POST":
                return _err(405, "Method Not Allowed")
            return self.create(req.json)
        if not req.path.startswith(JOBS + "/") or len(parts) not in (5, 6):
            return _err(404, "Not Found")
        with self._lock:
            job = self.jobs.get(parts[4])
        if job is None:
            return _err(404, f"Evaluation job {parts[4]} not found")
        action = parts[5] if len(parts) == 6 else ""
        route = (req.method, action)
        if route == ("GET", ""):
            return FakeReply(200, self.details(job))
        if route == ("DELETE", ""):
            with self._lock:
                job.status = "cancelled"
                self.jobs.pop(job.id, None)
            return FakeReply(200, {"message": f"Job {job.id} deleted"})
        if route == ("GET", "status"):
            return FakeReply(200, self.status(job))
        if route == ("GET", "results"):
            if job.status != "completed":
                return _err(409, f"Job {job.id} has no results: status {job.status}")
            return FakeReply(200, {"id": f"evaluation_result-{job.id[5:]}", "job": job.id,
                                   "tasks": job.plan.tasks, "groups": job.plan.groups})  # fmt: skip
        if route == ("POST", "cancel") and svc.cancel_route:
            with self._lock:
                if job.status not in ("completed", "failed"):
                    job.status, job.message = "cancelled", "Job cancelled by the user"
            return FakeReply(200, self.details(job))
        return _err(404 if action else 405, "Not Found")

    def create(self, body: Any) -> FakeReply:
        problems: list[dict[str, Any]] = []

        def need(ok: bool, loc: list[str], msg: str) -> None:
            if not ok:
                problems.append({"loc": ["body", *loc], "msg": msg, "type": "value_error"})

        body = body if isinstance(body, dict) else {}
        target, config = body.get("target"), body.get("config")
        need(isinstance(target, dict) and target.get("type") == "model", ["target", "type"], "must be model")
        endpoint = (
            ((target or {}).get("model") or {}).get("api_endpoint") if isinstance(target, dict) else None
        )
        endpoint = endpoint if isinstance(endpoint, dict) else {}
        need(bool(endpoint.get("url")), ["target", "model", "api_endpoint", "url"], "field required")
        need(
            bool(endpoint.get("model_id")), ["target", "model", "api_endpoint", "model_id"], "field required"
        )
        need(isinstance(config, dict) and bool(config.get("type")), ["config", "type"], "field required")
        params = config.get("params", {}) if isinstance(config, dict) else {}
        need(isinstance(params, dict), ["config", "params"], "must be an object")
        if problems:
            return _err(422, problems)
        assert isinstance(config, dict)
        known = self.service.known_types
        if known is not None and config["type"] not in known:
            need(False, ["config", "type"], f"unsupported evaluation type {config['type']!r}")
            return _err(422, problems)
        plan = self.service.plans.get(str(config["type"]), self.service.default_plan)
        with self._lock:
            job = Job(id=f"eval-{next(self._ids):06d}FAKE", body=body, plan=plan)
            self.jobs[job.id] = job
        return FakeReply(201, self.details(job))

    def _advance(self, job: Job) -> None:
        """One status poll's worth of work."""
        if job.status in ("completed", "failed", "cancelled"):
            return
        plan = job.plan
        job.polls += 1
        if plan.cancelled_by_service and job.polls >= 2:
            job.status, job.message = "cancelled", "Job cancelled by an administrator"
            return
        job.status, job.message = "running", "Job is running"
        limit = job.limit or 10
        if not plan.hang:
            job.samples = min(limit, limit * job.polls // max(plan.steps, 1))
        if plan.hang or job.polls < plan.steps:
            return
        if plan.fail_with is not None:
            job.status, job.message = "failed", plan.fail_with
        else:
            job.status, job.message, job.samples = "completed", "Job completed successfully", limit

    def status(self, job: Job) -> dict[str, Any]:
        with self._lock:
            self._advance(job)
            limit = job.limit
            out: dict[str, Any] = {
                "message": job.message,
                "progress": None if limit is None else 100.0 * job.samples / max(limit, 1),
                "samples_processed": job.samples,
                "task_status": {str(job.body["config"]["type"]): self._case(job, job.status)},
            }
            if job.plan.status_in_status:
                out["status"] = self._case(job, job.status)
            return out

    def details(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "namespace": job.body.get("namespace", "default"),
            "target": job.body["target"],
            "config": job.body["config"],
            "status": self._case(job, job.status),
            "status_details": {"message": job.message, "samples_processed": job.samples},
        }

    @staticmethod
    def _case(job: Job, status: str) -> str:
        return status.upper() if job.plan.status_upper else status


class FakeNemoService(FakeServer):
    """The fake service on a free loopback port; `requests` is every request it received."""

    def __init__(self, *, api_key: str | None = None, cancel_route: bool = True) -> None:
        super().__init__(Script(model="nemo-evaluator-service"))
        self.app = NemoServiceApp(self)  # type: ignore[assignment]
        self.plans: dict[str, Plan] = {}
        self.default_plan = Plan()
        self.api_key = api_key  # required as `Authorization: Bearer <key>` when set
        self.cancel_route = cancel_route  # False: POST .../cancel is 404, as on services without it
        self.known_types: set[str] | None = None  # set: other config types are a 422

    @property
    def requests(self) -> list[FakeRequest]:
        return list(self.script.requests)

    def jobs_created(self) -> list[dict[str, Any]]:
        """The bodies of every create-job request."""
        return [r.json for r in self.requests if r.method == "POST" and r.path == JOBS]

    def calls(self, method: str, suffix: str = "") -> list[FakeRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def job(self, job_id: str) -> Job | None:
        app = self.app
        assert isinstance(app, NemoServiceApp)
        return app.jobs.get(job_id)


@contextmanager
def running_nemo_service(plans: Mapping[str, Plan] | None = None, **kw: Any) -> Iterator[FakeNemoService]:
    service = FakeNemoService(**kw)
    service.plans.update(plans or {})
    service.start()
    try:
        yield service
    finally:
        service.stop()
