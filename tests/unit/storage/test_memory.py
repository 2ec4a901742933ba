"""Streaming a ~200 MB object must not hold it in memory: RSS may grow by at most ~50 MB."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psutil

from llm_research_lab.storage import ObjectStore

SIZE = 200 * 1024 * 1024
BLOCK = hashlib.sha256(b"memory").digest() * 32768  # 1 MiB, reused so the source costs nothing
LIMIT = 50 * 1024 * 1024


async def peak_rss_growth(action: Callable[[], Awaitable[None]]) -> int:
    """Run ``action`` while a thread samples RSS every 5 ms; return peak minus the baseline."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        await action()
    finally:
        stop.set()
        sampler.join()
    return int(max(peak, process.memory_info().rss) - baseline)


async def source() -> AsyncIterator[bytes]:
    for _ in range(SIZE // len(BLOCK)):
        yield BLOCK


async def test_streaming_200mb_keeps_memory_flat(store: ObjectStore) -> None:
    expected = hashlib.sha256()
    for _ in range(SIZE // len(BLOCK)):
        expected.update(BLOCK)
    # Warm up thread pools, clients and connections so their one-off allocations are not counted.
    await store.put_stream("mem/warm", BLOCK * 9)
    async for _ in store.open_read("mem/warm"):
        pass

    results: dict[str, object] = {}

    async def upload() -> None:
        results["info"] = await store.put_stream("mem/big.bin", source())

    async def download() -> None:
        digest, size = hashlib.sha256(), 0
        async for chunk in store.open_read("mem/big.bin"):
            digest.update(chunk)
            size += len(chunk)
        results["read"] = (size, digest.hexdigest())

    up = await peak_rss_growth(upload)
    down = await peak_rss_growth(download)
    info = results["info"]
    assert getattr(info, "size", None) == SIZE and getattr(info, "sha256", None) == expected.hexdigest()
    assert results["read"] == (SIZE, expected.hexdigest())
    assert up < LIMIT, f"upload grew RSS by {up / 2**20:.1f} MiB"
    assert down < LIMIT, f"download grew RSS by {down / 2**20:.1f} MiB"


async def test_rss_probe_detects_buffering() -> None:
    # Guards the guard: holding 100 MiB must be visible to the probe used above.
    held: list[bytes] = []

    async def hoard() -> None:
        held.append(b"z" * (100 * 1024 * 1024))
        time.sleep(0.05)

    assert await peak_rss_growth(hoard) > LIMIT
    assert len(held[0]) == 100 * 1024 * 1024
