"""The asyncio facade is generated from the blocking one; the committed file must match."""

from __future__ import annotations

from pathlib import Path

from llm_research_lab.client import _unasync


def test_async_facade_is_up_to_date() -> None:
    committed = (Path(_unasync.__file__).parent / "_async.py").read_text()
    assert committed == _unasync.generate(), "run: python -m llm_research_lab.client._unasync"


def test_generation_awaits_every_io_call() -> None:
    generated = _unasync.unasync((Path(_unasync.__file__).parent / "_sync.py").read_text())
    assert "async def create_run(" in generated and "await self._send(AsyncRun" in generated
    assert "def list(" in generated and "AsyncIterator[AsyncExperiment]" in generated
    assert "self._run(" not in generated.replace("await self._run(", "").replace(
        "await self._client._run(", ""
    )
