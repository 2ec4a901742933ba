"""API throughput and latency against a running `llm-lab serve`.

Seeds N experiments (bulk SQL, so that 1M rows take seconds, not hours), plus one experiment with
1,000 runs and evaluations, starts the server as a subprocess on the seeded data, and drives it with
concurrent HTTP clients. Prints requests/s and p50/p95/p99 per operation, and the ratios the issue
sets targets for.

    python benchmarks/api_bench.py --rows 10000 --rows 1000000            # SQLite
    python benchmarks/api_bench.py --db-url postgresql://postgres@127.0.0.1/test --rows 10000 --rows 100000

Targets: a cursor page at 1M rows within 1.5x of the same page at 10k rows; experiment metrics
over 1,000 runs p99 < 50 ms; create experiment p50 < 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

import llm_research_lab.server.db.models  # noqa: F401  (registers the tables)
from llm_research_lab.server.db.base import Base
from llm_research_lab.server.db.migrate import upgrade
from llm_research_lab.server.pagination import encode_cursor
from llm_research_lab.settings import Settings

METRIC_NAMES = ("accuracy", "bleu", "latency_p50_ms", "latency_p95_ms", "tokens_per_second", "cost_usd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(settings: Settings, rows: int, owner: uuid.UUID) -> dict[str, Any]:
    """Bulk insert `rows` experiments and one experiment with 1,000 runs + evaluations."""
    engine = sa.create_engine(settings.sync_database_url)
    md = Base.metadata  # the ORM's typed tables: uuids and UTC datetimes bind the same way the app does
    exp_t, tag_t = md.tables["experiments"], md.tables["experiment_tags"]
    run_t, ev_t, em_t = md.tables["runs"], md.tables["evaluations"], md.tables["evaluation_metrics"]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    started = time.perf_counter()
    chunk = 20_000
    with engine.begin() as conn:
        for start in range(0, rows, chunk):
            batch, tags = [], []
            for i in range(start, min(rows, start + chunk)):
                eid = uuid.uuid4()
                created = base + timedelta(seconds=i)
                batch.append(
                    {
                        "id": eid,
                        "name": f"bench-{i}",
                        "owner_id": owner,
                        "status": "draft" if i % 3 else "running",
                        "config": {"parameters": {"temperature": 0.5}},
                        "tags": ["bench"] if i % 10 == 0 else [],
                        "collaborators": [],
                        "metadata": {},
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                if i % 10 == 0:
                    tags.append({"experiment_id": eid, "tag": "bench"})
            conn.execute(exp_t.insert(), batch)
            if tags:
                conn.execute(tag_t.insert(), tags)
        metrics_exp = uuid.uuid4()
        now = base + timedelta(seconds=rows + 10)
        conn.execute(
            exp_t.insert(),
            [
                {
                    "id": metrics_exp,
                    "name": "bench-metrics",
                    "owner_id": owner,
                    "status": "running",
                    "config": {},
                    "tags": [],
                    "collaborators": [],
                    "metadata": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        run_rows, ev_rows, em_rows = [], [], []
        for i in range(1000):
            rid, evid = uuid.uuid4(), uuid.uuid4()
            at = base + timedelta(seconds=rows + 20 + i)
            run_rows.append(
                {
                    "id": rid,
                    "experiment_id": metrics_exp,
                    "status": "completed",
                    "config": {},
                    "config_overrides": {},
                    "metadata": {},
                    "created_at": at,
                    "updated_at": at,
                }
            )
            values = {name: rng.random() for name in METRIC_NAMES}
            ev_rows.append(
                {
                    "id": evid,
                    "experiment_id": metrics_exp,
                    "run_id": rid,
                    "metrics": values,
                    "metadata": {},
                    "created_at": at,
                }
            )
            em_rows += [
                {
                    "evaluation_id": evid,
                    "name": k,
                    "experiment_id": metrics_exp,
                    "run_id": rid,
                    "value": v,
                    "ordinal": j,
                }
                for j, (k, v) in enumerate(values.items())
            ]
        conn.execute(run_t.insert(), run_rows)
        conn.execute(ev_t.insert(), ev_rows)
        conn.execute(em_t.insert(), em_rows)
        deep = conn.execute(
            sa.select(exp_t.c.created_at, exp_t.c.id)
            .where(exp_t.c.owner_id == owner)
            .order_by(exp_t.c.created_at.desc(), exp_t.c.id.desc())
            .offset(int(rows * 0.95))
            .limit(1)
        ).one()
    engine.dispose()
    created_at = deep[0]
    return {
        "metrics_experiment": str(metrics_exp),
        "metrics_runs": [str(r["id"]) for r in run_rows],
        "deep_cursor": encode_cursor(created_at, deep[1]),
        "seed_seconds": time.perf_counter() - started,
    }


def start_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAB_DATA_DIR": str(settings.data_dir), "LAB_AUTH_MODE": "disabled"}
    if settings.db_url:
        env["LAB_DB_URL"] = settings.db_url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_research_lab.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def drive(
    name: str,
    call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    n: int,
    concurrency: int,
    base: str,
) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(n))
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            t0 = time.perf_counter()
            r = await call(client, i)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code >= 400:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await call(client, -1)  # warm-up
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "op": name,
        "n": n,
        "errors": errors,
        "rps": n / wall,
        "p50_ms": statistics.median(latencies),
        "p95_ms": q[94],
        "p99_ms": q[98],
    }


async def bench_rows(settings: Settings, rows: int, requests: int, concurrency: int) -> list[dict[str, Any]]:
    owner = uuid.uuid4()
    seeded = seed(settings, rows, owner)
    print(f"# seeded {rows:,} experiments in {seeded['seed_seconds']:.1f}s", file=sys.stderr)
    port = free_port()
    proc = start_server(settings, port)
    base = f"http://127.0.0.1:{port}"
    try:
        created: list[str] = []
        tag = uuid.uuid4().hex[:6]

        async def create(c: httpx.AsyncClient, i: int) -> httpx.Response:
            r = await c.post("/experiments", json={"name": f"new-{tag}-{i}", "tags": ["x"]})
            if r.status_code == 201:
                created.append(r.json()["id"])
            return r

        async def get(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(f"/experiments/{created[i % len(created)]}")

        async def first_page(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get("/experiments", params={"limit": 20, "owner_id": str(owner)})

        async def deep_page(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(
                "/experiments", params={"limit": 20, "owner_id": str(owner), "after": seeded["deep_cursor"]}
            )

        runs = seeded["metrics_runs"]
        exp_id = seeded["metrics_experiment"]

        async def metrics(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(f"/experiments/{exp_id}/metrics")

        async def aggregate_only(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(f"/experiments/{exp_id}/metrics", params={"include_runs": "false"})

        results = [
            await drive("create experiment", create, requests, concurrency, base),
            await drive("get experiment", get, requests, concurrency, base),
            await drive("list first page", first_page, requests, concurrency, base),
            await drive("list deep cursor page", deep_page, requests, concurrency, base),
            await drive(
                "experiment metrics (1,000 runs)", metrics, max(50, requests // 4), concurrency, base
            ),
            await drive("metrics aggregate only (1,000 runs)", aggregate_only, requests, concurrency, base),
        ]

        async def create_eval(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.post(
                "/evaluations",
                json={"experiment_id": exp_id, "run_id": runs[i % len(runs)], "metrics": {"accuracy": 0.5}},
            )

        results.append(await drive("create evaluation", create_eval, requests, concurrency, base))
        for r in results:
            r["rows"] = rows
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append", help="experiment rows to seed (repeatable)")
    parser.add_argument("--db-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    all_results: list[dict[str, Any]] = []
    for rows in args.rows or [10_000]:
        with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
            db_url = args.db_url
            if db_url:  # a clean schema per size
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                admin = sa.create_engine(Settings(db_url=db_url).sync_database_url)
                with admin.begin() as conn:
                    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                db_url = f"{db_url}{'&' if '?' in db_url else '?'}options=-csearch_path%3D{schema}"
            settings = Settings(data_dir=Path(tmp), db_url=db_url)
            upgrade(settings)
            try:
                all_results += asyncio.run(bench_rows(settings, rows, args.requests, args.concurrency))
            finally:
                if args.db_url:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    if args.json:
        print(json.dumps(all_results, indent=2))
        return
    print(
        f"{'rows':>10} {'operation':<34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for r in all_results:
        print(
            f"{r['rows']:>10,} {r['op']:<34} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f}"
            f" {r['p99_ms']:>8.2f} {r['errors']:>6}"
        )
    sizes = sorted({r["rows"] for r in all_results})
    if len(sizes) > 1:
        deep = {r["rows"]: r for r in all_results if r["op"] == "list deep cursor page"}
        ratio = deep[sizes[-1]]["p50_ms"] / deep[sizes[0]]["p50_ms"]
        print(
            f"\ndeep cursor page p50 at {sizes[-1]:,} rows / at {sizes[0]:,} rows = {ratio:.2f}x"
            " (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
