"""Evaluation throughput: the native engine (through `llm-lab serve`) vs lm-evaluation-harness 0.4.13,
against the same loopback endpoint, beside the endpoint's own ceiling (DESIGN.md §6).

- **endpoint**: `tests/fakes/openai_server.py` (raw asyncio Protocol, memoised replies, uvloop) in
  its own process, with the vLLM-style tokenizer routes lm-eval's `local-completions` needs offline
  (`tests/parity/fake_tokenizer.py`), and 0 or 50 ms of added latency per request.
- **native**: `llm-lab serve` subprocess (SQLite, auth disabled, a runtime model pointing at the
  endpoint); time from `POST /api/v1/evaluations/benchmarks/...` to the `completed` status, polled
  every 20 ms: start-up, data loading, prompt building and the ledger writes included.
- **lm-eval**: the `lm-evaluation-harness` backend (`engine/backends/lm_eval.py`): one `lm_eval`
  subprocess, `local-completions`, same `num_concurrent`, tasks from local data; the wall clock
  includes its start-up (imports, task indexing, dataset loading, request building).
- **ceiling**: a raw aiohttp load generator sending the same request bodies at the same concurrency.
- **100k**: a Research Lab managed run over gsm8k x 76 registered models (100,244 samples, one
  request each) with the server's peak RSS (psutil, server process and children, polled every 0.1 s).

Samples/s = documents scored per second of wall clock. arc_easy costs 4 requests per document
(one per choice), gsm8k one.

    python benchmarks/eval_throughput.py            # full: 3 repetitions, medians
    python benchmarks/eval_throughput.py --quick    # 1 repetition, fewer documents
    python benchmarks/eval_throughput.py --skip-100k --only-latency 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "gpt-4o-mini"
ENDPOINT_MODEL = "fake-model"
BENCHES = {"arc_easy": 4, "gsm8k": 1}  # requests per document
GEN_CONFIG = {"generation_endpoint": "completions", "max_tokens": 32}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- endpoint process


def serve_endpoint(port: int, latency_ms: float) -> None:
    from tests.fakes.openai_server import FakeServer, Script
    from tests.parity.fake_tokenizer import add_tokenizer_routes

    script = Script(model=ENDPOINT_MODEL, latency_ms=latency_ms, log_requests=False)
    add_tokenizer_routes(script)
    server = FakeServer(script, "127.0.0.1", port)

    async def run() -> None:
        await server.serve()
        print("ready", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


@contextlib.contextmanager
def endpoint(latency_ms: float) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-endpoint", str(port), "--latency", str(latency_ms)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


# --------------------------------------------------------------------------- llm-lab serve


class RssMonitor:
    """Peak RSS of a process and its children, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                rss = self.proc.memory_info().rss
                for child in self.proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss += child.memory_info().rss
                self.peak = max(self.peak, rss)
            self._stop.wait(0.1)

    def reset(self) -> None:
        self.peak = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def lab_server(base_url: str, data_dir: Path) -> Iterator[tuple[str, RssMonitor]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    env.update(
        {
            "LAB_AUTH_MODE": "disabled",
            "LAB_DATA_DIR": str(data_dir),
            "LAB_RATE_LIMIT_ENABLED": "false",
            "LAB_MODEL_GPT4O_MINI_URL": base_url,
            "LAB_MODEL_GPT4O_MINI_NAME": MODEL,
            "LAB_MODEL_GPT4O_MINI_PATH": ENDPOINT_MODEL,
        }
    )
    cmd = [sys.executable, "-m", "llm_research_lab.cli.main", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--log-level", "warning"]
    log = (data_dir.parent / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "llm-lab serve exited"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "llm-lab serve did not start"
            time.sleep(0.1)
        monitor = RssMonitor(proc.pid)
        try:
            yield url, monitor
        finally:
            monitor.stop()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def run_native(url: str, bench: str, limit: int, concurrency: int) -> float:
    """Seconds from submission to `completed`."""
    body = {
        "model_name": MODEL,
        "limit": limit,
        "num_fewshot": 0,
        "model_configuration": {"max_concurrency": concurrency, **GEN_CONFIG},
    }
    with httpx.Client(base_url=url, timeout=30) as http:
        started = time.perf_counter()
        r = http.post(f"/api/v1/evaluations/benchmarks/lm_evaluation_harness/{bench}", json=body)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        while True:
            status = http.get(f"/api/v1/evaluations/{rid}").json()
            if status["status"] in {"completed", "failed", "cancelled"}:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    assert status["status"] == "completed", status
    assert status["results"][0]["samples"] == limit, status
    return elapsed


# --------------------------------------------------------------------------- lm-eval


class NullSink:
    """Counts scored samples; keeps nothing (the native side writes its ledger, lm-eval's
    samples are parsed from its output either way)."""

    def __init__(self) -> None:
        self.n = 0

    async def completed(self, benchmark: str) -> dict[int, Any]:
        return {}

    async def record(self, samples: Any) -> None:
        self.n += len(samples)


def run_lm_eval(base_url: str, bench: str, limit: int, concurrency: int) -> float:
    from llm_research_lab.catalog import load_catalog
    from llm_research_lab.engine.backends.base import BackendTask
    from llm_research_lab.engine.backends.lm_eval import LmEvalBackend
    from llm_research_lab.engine.models import GenerationParams, ModelSpec

    spec = ModelSpec(
        "openai-compatible",
        ENDPOINT_MODEL,
        base_url=base_url,
        generation_endpoint="completions",
        max_concurrency=concurrency,
        generation=GenerationParams(max_tokens=32),
    )
    backend = LmEvalBackend({"parallelism": concurrency}, resolver=load_catalog().resolver())

    async def go() -> Any:
        return await backend.run(spec, BackendTask(bench, num_fewshot=0, limit=limit), NullSink())

    started = time.perf_counter()
    result = asyncio.run(go())
    elapsed = time.perf_counter() - started
    assert result.status == "completed" and result.num_docs == limit, result
    return elapsed


# --------------------------------------------------------------------------- ceiling


def request_bodies(bench: str, limit: int) -> list[dict[str, Any]]:
    """The requests the engines send for the first `limit` documents (0-shot)."""
    from llm_research_lab.catalog import load_catalog
    from llm_research_lab.engine.registry import create_benchmark

    b = create_benchmark(bench)
    source = load_catalog().resolver().source(bench)
    docs = b.docs(source)
    out: list[dict[str, Any]] = []
    for i in range(min(limit, len(docs))):
        p = b.build(docs[i], i, [])
        for req in p.requests:
            cont = getattr(req, "continuation", None)
            if cont is not None:
                out.append(
                    {
                        "model": ENDPOINT_MODEL,
                        "prompt": req.context + cont,
                        "echo": True,
                        "logprobs": 1,
                        "max_tokens": 0,
                        "temperature": 0.0,
                    }
                )
            else:
                out.append(
                    {
                        "model": ENDPOINT_MODEL,
                        "prompt": req.context,
                        "max_tokens": 32,
                        "temperature": 0.0,
                        "stop": list(getattr(req, "until", []) or []),
                    }
                )
    return out


def ceiling(base_url: str, bench: str, limit: int, concurrency: int) -> float:
    """Documents per second the endpoint serves to a raw async client (no harness at all)."""
    bodies = [json.dumps(b).encode() for b in request_bodies(bench, limit)]

    async def go() -> float:
        conn = aiohttp.TCPConnector(limit=concurrency)
        headers = {"content-type": "application/json"}
        async with aiohttp.ClientSession(connector=conn, headers=headers) as session:
            it = iter(bodies)

            async def worker() -> None:
                for body in it:
                    async with session.post(f"{base_url}/v1/completions", data=body) as r:
                        assert r.status == 200, await r.text()
                        await r.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started

    try:
        import uvloop

        elapsed = uvloop.run(go())
    except ImportError:
        elapsed = asyncio.run(go())
    return len(bodies) / BENCHES[bench] / elapsed


# --------------------------------------------------------------------------- 100k


def run_100k(url: str, base_url: str, monitor: RssMonitor, n_models: int) -> dict[str, float]:
    with httpx.Client(base_url=url, timeout=60) as http:
        ids = []
        for i in range(n_models):
            r = http.post(
                "/models",
                json={
                    "name": f"bench-{i:03d}",
                    "provider": "openai-compatible",
                    "model_identifier": ENDPOINT_MODEL,
                    "base_url": base_url,
                    "config": {"max_concurrency": 32, **GEN_CONFIG},
                },
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        monitor.reset()
        started = time.perf_counter()
        r = http.post(
            "/experiments", json={"name": "100k", "config": {"model_ids": ids, "benchmarks": ["gsm8k"]}}
        )
        assert r.status_code == 201, r.text
        exp = r.json()["id"]
        r = http.post(f"/experiments/{exp}/runs", json={})
        assert r.status_code == 201, r.text
        run = r.json()["id"]
        while True:
            got = http.get(f"/experiments/{exp}/runs/{run}").json()
            if got["status"] in {"completed", "failed", "cancelled", "timed_out"}:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        assert got["status"] == "completed", got
        total = http.get(f"/experiments/{exp}/runs/{run}/samples", params={"limit": 1}).json()
    n = int(total["pagination"]["total"])
    return {
        "samples": n,
        "seconds": elapsed,
        "samples_per_s": n / elapsed,
        "peak_rss_mb": monitor.peak / 2**20,
    }


# --------------------------------------------------------------------------- driver


def doc_count(bench: str, latency_ms: float, concurrency: int, quick: bool) -> int:
    cap = {"arc_easy": 2376, "gsm8k": 1319}[bench]
    per_doc_s = BENCHES[bench] * max(latency_ms, 1.0) / 1000.0 / concurrency
    target_s = 4.0 if quick else 10.0
    n = int(target_s / per_doc_s)
    return max(20, min(cap, n, 600 if quick else 2000))


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve-endpoint", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="1 repetition, fewer documents")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--only-latency", type=float, action="append")
    ap.add_argument("--concurrency", type=int, action="append")
    ap.add_argument("--bench", action="append", choices=sorted(BENCHES))
    ap.add_argument("--skip-lm-eval", action="store_true")
    ap.add_argument("--skip-100k", action="store_true")
    ap.add_argument("--models-100k", type=int, default=76, help="gsm8k x N models (76: 100,244 samples)")
    args = ap.parse_args()
    if args.serve_endpoint:
        serve_endpoint(args.serve_endpoint, args.latency)
        return
    reps = args.reps or (1 if args.quick else 3)
    latencies = args.only_latency or [0.0, 50.0]
    concs = args.concurrency or [1, 8, 32]
    benches = args.bench or list(BENCHES)
    print(f"cpus={os.cpu_count()} reps={reps} (shared machine: figures are noisy)", flush=True)
    hdr = f"{'bench':9} {'lat':>4} {'conc':>4} {'docs':>5} | {'native':>8} {'lm-eval':>8} {'ratio':>6} | "
    print(hdr + f"{'ceiling':>8} {'nat/ceil':>8}", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lab-evalbench-") as tmp:
        for lat in latencies:
            with endpoint(lat) as base_url, lab_server(base_url, Path(tmp) / f"data-{lat:g}") as (url, mon):
                run_native(url, "arc_easy", 10, 8)  # warm the catalog caches
                for bench in benches:
                    for c in concs:
                        n = doc_count(bench, lat, c, args.quick)
                        nat = [n / run_native(url, bench, n, c) for _ in range(reps)]
                        lme = (
                            []
                            if args.skip_lm_eval
                            else [n / run_lm_eval(base_url, bench, n, c) for _ in range(reps)]
                        )
                        ceil = [ceiling(base_url, bench, n, c) for _ in range(reps)]
                        row = {
                            "bench": bench,
                            "latency_ms": lat,
                            "concurrency": c,
                            "docs": n,
                            "native": med(nat),
                            "lm_eval": med(lme) if lme else float("nan"),
                            "ceiling": med(ceil),
                        }
                        rows.append(row)
                        ratio = row["native"] / row["lm_eval"] if lme else float("nan")
                        print(
                            f"{bench:9} {lat:4g} {c:4d} {n:5d} | {row['native']:8.1f} {row['lm_eval']:8.1f} "
                            f"{ratio:6.2f} | {row['ceiling']:8.1f} {row['native'] / row['ceiling']:8.1%}",
                            flush=True,
                        )
        if not args.skip_100k:
            with endpoint(0.0) as base_url, lab_server(base_url, Path(tmp) / "data-100k") as (url, mon):
                res = run_100k(url, base_url, mon, args.models_100k)
            print(
                f"100k job: {res['samples']:.0f} samples in {res['seconds']:.1f} s "
                f"({res['samples_per_s']:.0f}/s), server peak RSS {res['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
