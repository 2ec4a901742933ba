"""Execute sans-I/O operations (see :mod:`._core`) with httpx, blocking or on asyncio.

No product logic lives here: only "send this request" and "wait this long".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from llm_research_lab.client._core import HttpCall, Op, Sleep

T = TypeVar("T")
CHUNK = 1 << 16


def _body(call: HttpCall) -> Iterable[bytes] | bytes | None:
    return call.content_factory() if call.content_factory is not None else None


def run_sync(op: Op[T], http: httpx.Client) -> T:
    """Drive ``op`` to completion with a blocking httpx client."""
    to_send: Any = None
    error: BaseException | None = None
    while True:
        try:
            instruction = op.throw(error) if error is not None else op.send(to_send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        to_send, error = None, None
        if isinstance(instruction, Sleep):
            time.sleep(instruction.seconds)
            continue
        try:
            to_send = _send_sync(http, instruction)
        except httpx.TransportError as exc:
            error = exc


def _send_sync(http: httpx.Client, call: HttpCall) -> httpx.Response:
    request = http.build_request(
        call.method, call.url, params=call.params, json=call.json, headers=call.headers, content=_body(call)
    )
    response = http.send(request, stream=call.sink is not None)
    if call.sink is None:
        return response
    try:
        if response.status_code >= 400:
            response.read()
            return response
        with _open_sink(call.sink) as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
        return response
    finally:
        response.close()


async def run_async(op: Op[T], http: httpx.AsyncClient) -> T:
    """Drive ``op`` to completion with an asyncio httpx client."""
    to_send: Any = None
    error: BaseException | None = None
    while True:
        try:
            instruction = op.throw(error) if error is not None else op.send(to_send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        to_send, error = None, None
        if isinstance(instruction, Sleep):
            await asyncio.sleep(instruction.seconds)
            continue
        try:
            to_send = await _send_async(http, instruction)
        except httpx.TransportError as exc:
            error = exc


async def _aiter(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    # Reading a local file chunk is fast; hop to a thread so a slow disk never stalls the loop.
    iterator = iter(chunks)
    sentinel = b""
    while True:
        chunk = await asyncio.to_thread(next, iterator, sentinel)
        if chunk is sentinel:
            return
        yield chunk


async def _send_async(http: httpx.AsyncClient, call: HttpCall) -> httpx.Response:
    body = _body(call)
    content: bytes | AsyncIterator[bytes] | None = (
        body if body is None or isinstance(body, bytes) else _aiter(body)
    )
    request = http.build_request(
        call.method, call.url, params=call.params, json=call.json, headers=call.headers, content=content
    )
    response = await http.send(request, stream=call.sink is not None)
    if call.sink is None:
        return response
    try:
        if response.status_code >= 400:
            await response.aread()
            return response
        with _open_sink(call.sink) as out:
            async for chunk in response.aiter_bytes(CHUNK):
                out.write(chunk)
        return response
    finally:
        await response.aclose()


class _Borrowed:
    """A caller's file object: write to it, never close it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh

    def __enter__(self) -> IO[bytes]:
        return self.fh

    def __exit__(self, *exc: object) -> None:
        self.fh.flush()


def _open_sink(sink: Path | IO[bytes]) -> Any:
    if isinstance(sink, Path):
        sink.parent.mkdir(parents=True, exist_ok=True)
        return sink.open("wb")
    return _Borrowed(sink)
