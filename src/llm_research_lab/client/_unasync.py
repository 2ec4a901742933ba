"""Generate ``_async.py`` from ``_sync.py`` (run: ``python -m llm_research_lab.client._unasync``).

The two facades differ only in ``async``/``await``; the logic they call lives once in ``_ops`` and
``_core``. A unit test checks that the committed ``_async.py`` equals this script's output, so the
pair cannot drift.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RENAMED = ("Run", "Experiment", "Client")
AWAITED_PREFIXES = (
    "return self._send(",
    "return self._get(",
    "return self._run(",
    "body = self._run(",
    "data = self._run(",
    "page = self.rows(",
    "done = self.client._run(",
    "started = self.client.",
)


def _header(text: str) -> str:
    return text.replace(
        '"""The blocking client: thin typed facades over the shared operations in :mod:`._ops`.\n\n'
        "Keep this file and :mod:`._async` in step: they differ only in ``await``/``async``.\n"
        '"""',
        '"""The asyncio client: thin typed facades over the shared operations in :mod:`._ops`.\n\n'
        "GENERATED from :mod:`._sync` by :mod:`._unasync`; edit ``_sync.py`` and regenerate.\n"
        '"""',
    )


def unasync(text: str) -> str:
    t = _header(text)
    t = t.replace("run_sync", "run_async")
    t = t.replace(
        "from collections.abc import Callable, Iterator, Mapping",
        "from collections.abc import AsyncIterator, Callable, Mapping",
    )
    t = re.sub(r"\bIterator\[", "AsyncIterator[", t)
    for name in RENAMED:
        t = re.sub(rf'(?<![\w.]){name}(?![\w"])', f"Async{name}", t)
    t = t.replace("s.AsyncRun", "s.Run").replace("s.AsyncExperiment", "s.Experiment")
    for prefix in AWAITED_PREFIXES:
        t = t.replace(prefix, prefix.replace("self.", "await self.", 1))
    t = t.replace("        self._run(", "        await self._run(")
    t = t.replace(" in self.list():", " in await self.list():")
    t = t.replace("self._replace(self.client.", "self._replace(await self.client.")
    t = re.sub(
        r"return await self\._(get|send)\(([^\n]*)\)\.(\w+)\n",
        lambda m: f"return (await self._{m.group(1)}({m.group(2)})).{m.group(3)}\n",
        t,
    )
    t = t.replace("        self.client.experiments.delete(", "        await self.client.experiments.delete(")
    for meth in (
        "experiments.create_run(",
        "experiments.get_run(",
        "experiments.get_metrics(",
        "evaluations.create(",
    ):
        t = t.replace("return self.client." + meth, "return await self.client." + meth)
    t = t.replace("model_validate(self._run(", "model_validate(await self._run(")
    t = t.replace("return self._bind(self._run(", "return self._bind(await self._run(")
    t = t.replace("return self._client._run(op)", "return await self._client._run(op)")
    t = t.replace("return run_async(op, self._http)", "return await run_async(op, self._http)")
    t = t.replace("return str(self._run(", "return str(await self._run(")
    t = t.replace("yield from page.data", "for row in page.data:\n                yield row")
    t = t.replace(
        "    def close(self) -> None:\n        self._http.close()\n\n"
        "    def __enter__(self) -> AsyncClient:\n        return self\n\n"
        "    def __exit__(self, *exc: object) -> None:\n        self.close()",
        "    async def aclose(self) -> None:\n        await self._http.aclose()\n\n"
        "    async def __aenter__(self) -> AsyncClient:\n        return self\n\n"
        "    async def __aexit__(self, *exc: object) -> None:\n        await self.aclose()",
    )
    t = t.replace("transport: httpx.BaseTransport | None", "transport: httpx.AsyncBaseTransport | None")
    t = t.replace("self._http = httpx.Client(", "self._http = httpx.AsyncClient(")
    t = t.replace(
        '"""Blocking client for the LLM Research Lab API', '"""Asyncio client for the LLM Research Lab API'
    )
    return _asyncify_defs(t)


def _asyncify_defs(text: str) -> str:
    """``def`` → ``async def`` for every function whose own body awaits."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*def \w+\(", line)]
    for i in starts:
        indent = len(lines[i]) - len(lines[i].lstrip())
        j = i + 1
        while j < len(lines) and (
            not lines[j].strip()
            or len(lines[j]) - len(lines[j].lstrip()) > indent
            or lines[j].lstrip().startswith(")")
        ):
            j += 1
        body = "\n".join(lines[i:j])
        if "await " in body and "async def" not in lines[i]:
            lines[i] = lines[i].replace("def ", "async def ", 1)
    return "\n".join(lines)


def generate() -> str:
    import subprocess

    raw = unasync((HERE / "_sync.py").read_text())
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(HERE / "_async.py"), "-"],
        input=raw,
        capture_output=True,
        text=True,
        check=True,
    )
    return formatted.stdout


if __name__ == "__main__":
    (HERE / "_async.py").write_text(generate())
