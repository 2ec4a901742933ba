"""End to end: `llm-lab serve` killed with SIGKILL in the middle of an evaluation, restarted on
the same data directory, finishes the job from its sample ledger: exactly `limit` samples, no
duplicates, and no document that was already in the ledger is sent to the model again."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.openai_server import Script
from tests.integration.hub.helpers import MODEL, fake_server, prepared_docs, runtime_env, script_mc
from tests.livesrv import REPO_ROOT, free_port, server_env

N = 60
RIGHT = 40
LATENCY_MS = 60


@contextlib.contextmanager
def serve(data_dir: Path, env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`llm-lab serve` on `port`; yields the process so the test can SIGKILL it."""
    log = data_dir.parent / f"server-{port}-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "llm_research_lab.cli.main", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not start:\n{log.read_text()[-4000:]}"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def all_samples(http: httpx.Client, rid: str) -> list[dict[str, Any]]:
    """Every ledger entry of the request, paging through /samples."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = http.get(f"/api/v1/evaluations/{rid}/samples", params={"limit": 25, "offset": offset})
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page["data"])
        if not page["pagination"]["has_more"]:
            assert page["pagination"]["total"] == len(out)
            return out
        offset += len(page["data"])


def ledger_doc_ids(db: Path) -> set[int]:
    """The ledger as the killed server left it on disk (read after SIGKILL, so nothing is lost to
    a race between an API read and the kill)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {int(r[0]) for r in conn.execute("SELECT doc_id FROM sample_ledger")}


def _prompts(body: Any) -> list[str]:
    prompt = body.get("prompt") if isinstance(body, dict) else None
    if isinstance(prompt, list):
        return [p for p in prompt if isinstance(p, str)]
    return [prompt] if isinstance(prompt, str) else []


def test_sigkill_mid_job_then_restart_resumes_exactly_once(tmp_path: Path) -> None:
    docs = prepared_docs("arc_easy", N)
    script = Script(model="fake-model", latency_ms=LATENCY_MS)
    script_mc(script, docs, right=RIGHT)
    data_dir = tmp_path / "data"
    with fake_server(script) as fake:
        env = server_env(data_dir, {**runtime_env(fake.base_url), "LAB_JOB_HEARTBEAT_S": "0.2"})
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        body = {
            "model_name": MODEL,
            "limit": N,
            "num_fewshot": 0,
            "retry_attempts": 0,
            # two requests in flight at a time: slow enough to be caught half way
            "model_configuration": {"max_concurrency": 2},
        }
        with serve(data_dir, env, port) as proc, httpx.Client(base_url=base_url, timeout=10) as http:
            r = http.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=body)
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]
            deadline = time.monotonic() + 60
            while len(all_samples(http, rid)) < 10:
                assert time.monotonic() < deadline, "no samples reached the ledger"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()
        before = ledger_doc_ids(data_dir / "lab.db")
        assert 10 <= len(before) < N, f"{len(before)} samples at the kill: not a mid-job crash"
        sent_before = _requested_docs(script, docs, until=killed_at)
        assert before <= sent_before

        with serve(data_dir, env, port), httpx.Client(base_url=base_url, timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                status = http.get(f"/api/v1/evaluations/{rid}").json()
                if status["status"] in {"completed", "failed", "cancelled"}:
                    break
                assert time.monotonic() < deadline, f"still {status['status']}: {status}"
                time.sleep(0.1)
            samples = all_samples(http, rid)

    assert status["status"] == "completed", status
    (result,) = status["results"]
    assert result["attempts"] == 2  # the killed attempt and the resumed one
    assert result["metrics"]["acc"] == RIGHT / N
    ids = [s["doc_id"] for s in samples]
    assert len(ids) == N and len(set(ids)) == N and set(ids) == set(range(N))

    resent = _requested_docs(script, docs, after=killed_at)
    assert resent, "the restarted server sent nothing"
    assert not resent & before, f"re-requested docs already in the ledger: {sorted(resent & before)}"
    assert resent == set(range(N)) - before


def _requested_docs(
    script: Script, docs: list[Any], *, after: float = 0.0, until: float = float("inf")
) -> set[int]:
    """Doc ids of the /v1/completions prompts the fake received in (after, until]."""
    contexts = {p.prompt: p.doc_id for p in docs}
    out: set[int] = set()
    for req in list(script.requests):
        if req.path != "/v1/completions" or not after < req.received_at <= until:
            continue
        for prompt in _prompts(req.json):
            out.update(i for ctx, i in contexts.items() if prompt.startswith(ctx))
    return out
