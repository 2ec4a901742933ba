"""Dataset upload + validation throughput and server memory, through a real server over HTTP.

Generates a JSONL file of the seed's reasoning rows (default 1 GB, in a temp dir, deleted after),
starts ``llm-lab serve`` in a subprocess (local object store, SQLite, auth disabled), then:

1. creates the seed's dataset (with its JSON Schema) and asks for an upload URL;
2. PUTs the file to the signed URL, streamed; the server stores it, validates every row against the
   schema, hashes it and promotes it before answering: that wall time gives the end-to-end MB/s;
3. downloads it back through the signed download URL (streamed, hashed) for the download MB/s;
4. reports the server's peak RSS (VmHWM from /proc, the kernel's high-water mark, so no sampling
   can miss a peak), and, separately, the validation pass alone in this process (same code).

    python benchmarks/dataset_bench.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "question": {"type": "string"},
        "steps": {"type": "array", "items": {"type": "string"}},
        "answer": {"type": "string"},
        "difficulty": {"type": "string", "enum": ["easy", "medium", "hard"]},
    },
    "required": ["id", "question", "answer"],
}


def generate(path: Path, size_mb: int) -> tuple[int, int]:
    target = size_mb * 1024 * 1024
    rows = written = 0
    filler = "Consider the following multi-step problem about trains, rates and distances. " * 3
    with open(path, "wb", buffering=4 * 1024 * 1024) as fh:
        while written < target:
            row = {
                "id": f"q-{rows:09d}",
                "question": f"{filler} What is {rows} * 7 + 3?",
                "steps": [f"Multiply {rows} by 7", f"Add 3 to {rows * 7}", "State the result"],
                "answer": str(rows * 7 + 3),
                "difficulty": ("easy", "medium", "hard")[rows % 3],
            }
            line = (json.dumps(row) + "\n").encode()
            fh.write(line)
            written += len(line)
            rows += 1
    return rows, written


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def file_chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while block := fh.read(size):
            yield block


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the generated JSONL file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lab-dataset-bench-") as tmp:
        root = Path(tmp)
        data = root / "reasoning_benchmark_v1.jsonl"
        t0 = time.perf_counter()
        rows, size = generate(data, args.size_mb)
        print(f"generated {rows} rows, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s")
        sha = hashlib.sha256()
        for block in file_chunks(data):
            sha.update(block)
        expected_sha = sha.hexdigest()

        port = free_port()
        env = {**os.environ, "LAB_AUTH_MODE": "disabled", "LAB_MAX_UPLOAD_BYTES": str(size + 1)}
        cmd = [
            sys.executable, "-m", "llm_research_lab.cli.main", "serve",
            "--port", str(port), "--data-dir", str(root / "server"), "--log-level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(cmd, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=httpx.Timeout(600.0)) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start")
                    time.sleep(0.2)
                idle_rss = rss_mb(server.pid, "VmRSS")
                body = {"name": "Multi-Step Reasoning Benchmark", "format": "jsonl", "schema": SCHEMA}
                ds = http.post("/datasets", json=body).json()
                grant = http.post(
                    f"/datasets/{ds['id']}/upload",
                    json={"filename": data.name, "content_type": "application/jsonl"},
                ).json()
                t0 = time.perf_counter()
                put = http.put(
                    grant["upload_url"],
                    content=file_chunks(data),
                    headers={**grant["headers"], "Content-Length": str(size)},
                )
                upload_s = time.perf_counter() - t0
                if put.status_code != 200:
                    raise SystemExit(f"upload failed: {put.status_code} {put.text[:500]}")
                summary = put.json()
                assert summary["row_count"] == rows and summary["sha256"] == expected_sha, summary

                url = http.get(f"/datasets/{ds['id']}/download").json()["download_url"]
                t0 = time.perf_counter()
                got = hashlib.sha256()
                with http.stream("GET", url) as response:
                    for block in response.iter_bytes(1024 * 1024):
                        got.update(block)
                download_s = time.perf_counter() - t0
                assert got.hexdigest() == expected_sha
                peak_rss = rss_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)

        from llm_research_lab.schemas.datasets import DatasetFormat
        from llm_research_lab.server.datasets.formats import validate_source

        with open(data, "rb", buffering=0) as fh:
            report = validate_source(fh, DatasetFormat.JSONL, SCHEMA)
        assert report.ok and report.rows == rows

    mb = size / 1e6
    print(f"file:                  {mb:.1f} MB, {rows} rows ({size / rows:.0f} B/row)")
    print(f"upload+validate (PUT): {upload_s:.2f}s  {mb / upload_s:.1f} MB/s  (end to end, real HTTP)")
    print(f"validation pass only:  {report.seconds:.2f}s  {mb / report.seconds:.1f} MB/s  "
          f"({rows / report.seconds:,.0f} rows/s)")  # fmt: skip
    print(f"download (GET):        {download_s:.2f}s  {mb / download_s:.1f} MB/s")
    print(f"server RSS:            idle {idle_rss:.0f} MB, peak {peak_rss:.0f} MB (VmHWM)")


if __name__ == "__main__":
    main()
