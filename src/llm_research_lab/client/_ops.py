"""Every endpoint as a sans-I/O operation (see :mod:`._core`), written once for both clients.

Operations return the shared wire schemas, or the subclass the caller passes as ``cls`` (the
facades pass their bound types, e.g. the sync ``Experiment`` with ``start()``), so parsing and
validation happen once, here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from llm_research_lab.client._core import Core, HttpCall, Op, Sleep
from llm_research_lab.errors import RunFailedError, TimeoutError_
from llm_research_lab.schemas import datasets as sd
from llm_research_lab.schemas import experiments as s
from llm_research_lab.schemas import hub as h

M = TypeVar("M", bound=BaseModel)
UPLOAD_CHUNK = 1 << 20
ID = UUID | str


@dataclass(frozen=True, slots=True)
class PageData:
    items: list[Any]
    end_cursor: str | None
    has_next: bool
    total: int | None


def page(
    core: Core, path: str, params: Mapping[str, Any], after: str | None, limit: int, offset: int | None = None
) -> Op[PageData]:
    """One page of a list. The facades follow ``end_cursor`` (keyset, stable under inserts) and fall
    back to ``offset`` for lists that have no cursors (e.g. the sample ledger)."""
    query = {**params, "limit": limit, "after": after, "offset": offset or None}
    body = yield from core.json("GET", path, params=query)
    info = body.get("page_info") or {}
    pagination = body.get("pagination") or {}
    return PageData(
        items=list(body.get("data", [])),
        end_cursor=info.get("end_cursor"),
        has_next=bool(info.get("has_next_page", pagination.get("has_more", False))),
        total=pagination.get("total"),
    )


def parse(cls: type[M], body: Any) -> M:
    return cls.model_validate(body)


def get(core: Core, cls: type[M], path: str, params: Mapping[str, Any] | None = None) -> Op[M]:
    body = yield from core.json("GET", path, params=params)
    return cls.model_validate(body)


def send(core: Core, cls: type[M], method: str, path: str, payload: Any = None) -> Op[M]:
    body = yield from core.json(method, path, json=payload)
    return cls.model_validate(body)


def delete(core: Core, path: str) -> Op[None]:
    yield from core.json("DELETE", path)


def drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def jsonable(value: Any) -> Any:
    """UUIDs and pydantic models inside user payloads become JSON-ready."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- paths


def experiment_path(experiment_id: ID) -> str:
    return f"/experiments/{experiment_id}"


def run_path(experiment_id: ID, run_id: ID) -> str:
    return f"/experiments/{experiment_id}/runs/{run_id}"


# --------------------------------------------------------------------------- runs


def wait_run(
    core: Core,
    cls: type[M],
    experiment_id: ID,
    run_id: ID,
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    raise_on_failure: bool = True,
) -> Op[M]:
    """Poll a run until it reaches a terminal status, backing off from ``poll_interval``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = poll_interval
    while True:
        run = yield from get(core, cls, run_path(experiment_id, run_id))
        status = s.RunStatus(run.status)  # type: ignore[attr-defined]
        if status in s.TERMINAL_RUN_STATUSES:
            if raise_on_failure and status is not s.RunStatus.COMPLETED:
                error = run.error or f"run {status.value}"  # type: ignore[attr-defined]
                raise RunFailedError(
                    f"Run {run_id} {status.value}: {error}", run_id=str(run_id), status=status.value
                )
            return run
        if deadline is not None and time.monotonic() + delay > deadline:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError_(
                    f"Run {run_id} still {status.value} after {timeout:g}s",
                    run_id=str(run_id),
                    status=status.value,
                )
            delay = remaining
        yield Sleep(delay)
        delay = min(max_poll_interval, delay * 1.5)


# --------------------------------------------------------------------------- hub evaluations


HUB_TERMINAL = frozenset({h.HubStatus.COMPLETED, h.HubStatus.FAILED, h.HubStatus.CANCELLED})


def wait_hub(
    core: Core,
    request_id: ID,
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    raise_on_failure: bool = True,
    on_status: Callable[[h.EvaluationStatus], None] | None = None,
) -> Op[h.EvaluationStatus]:
    """Poll ``GET /api/v1/evaluations/{id}`` until completed, failed or cancelled."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = poll_interval
    while True:
        status = yield from get(core, h.EvaluationStatus, f"/api/v1/evaluations/{request_id}")
        if on_status is not None:
            on_status(status)
        if status.status in HUB_TERMINAL:
            if raise_on_failure and status.status is not h.HubStatus.COMPLETED:
                errors = [f"{r.benchmark_name}: {r.error}" for r in status.results if r.error]
                raise RunFailedError(
                    f"Evaluation {request_id} {status.status.value}"
                    + (f": {'; '.join(errors)}" if errors else ""),
                    evaluation_id=str(request_id),
                    status=status.status.value,
                )
            return status
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError_(
                    f"Evaluation {request_id} still {status.status.value} after {timeout:g}s",
                    status=status.status.value,
                )
            delay = min(delay, remaining)
        yield Sleep(delay)
        delay = min(max_poll_interval, delay * 1.5)


def hub_items(body: Any, key: str) -> list[Any]:
    """Hub lists come as a bare array (the notebook's /evaluations) or an object with ``key``."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if key in body:
            return list(body[key])
        if "data" in body:
            return list(body["data"])
    raise ValueError(f"unexpected list response: {type(body).__name__}")


# --------------------------------------------------------------------------- datasets


def _file_chunks(source: Path | IO[bytes]) -> Callable[[], Iterable[bytes]]:
    """A factory of fresh chunk iterators: reopened (path) or rewound (file), never read whole."""
    if isinstance(source, Path):

        def from_path() -> Iterator[bytes]:
            with source.open("rb") as fh:
                while chunk := fh.read(UPLOAD_CHUNK):
                    yield chunk

        return from_path
    start = source.tell() if source.seekable() else None
    used = False

    def from_file() -> Iterator[bytes]:
        nonlocal used
        if used:
            if start is None:
                raise RuntimeError("cannot retry an upload from a non-seekable stream")
            source.seek(start)
        used = True
        while chunk := source.read(UPLOAD_CHUNK):
            yield chunk

    return from_file


def upload_dataset(
    core: Core,
    dataset_id: ID,
    source: Path | IO[bytes],
    *,
    filename: str,
    content_type: str,
    size: int | None,
) -> Op[sd.Dataset]:
    """POST /datasets/{id}/upload for a signed URL, PUT the bytes there (streamed), then make sure
    the upload is finalised: the local store answers the PUT with the dataset; an S3 store does
    not, so ``POST /datasets/{id}/upload/complete`` follows."""
    signed = yield from get_signed(core, "POST", f"/datasets/{dataset_id}/upload", filename, content_type)
    headers = {"Content-Type": content_type, **signed.headers}
    if size is not None:
        headers["Content-Length"] = str(size)
    # The signed URL authorises itself: never send our credentials to the object store.
    response = yield from core.request(
        HttpCall(signed.method, signed.upload_url, headers=headers, content_factory=_file_chunks(source)),
        auth=False,
    )
    if response.content and response.headers.get("content-type", "").startswith("application/json"):
        try:
            return sd.Dataset.model_validate(response.json())
        except (ValueError, PydanticValidationError):
            pass  # not the dataset: the store only acknowledged the bytes
    body = yield from core.json(
        "POST", f"/datasets/{dataset_id}/upload/complete", json={"upload_id": str(signed.upload_id)}
    )
    return sd.Dataset.model_validate(body)


def get_signed(core: Core, method: str, path: str, filename: str, content_type: str) -> Op[sd.UploadURL]:
    body = yield from core.json(method, path, json={"filename": filename, "content_type": content_type})
    return sd.UploadURL.model_validate(body)


def download_dataset(
    core: Core, dataset_id: ID, target: Path | IO[bytes], params: Mapping[str, Any] | None = None
) -> Op[sd.DownloadURL]:
    """GET /datasets/{id}/download for a signed URL, then stream the bytes into ``target``."""
    body = yield from core.json("GET", f"/datasets/{dataset_id}/download", params=params)
    signed = sd.DownloadURL.model_validate(body)
    yield from core.request(HttpCall("GET", signed.download_url, sink=target), auth=False)
    return signed


def source_of(
    source: str | Path | IO[bytes], filename: str | None
) -> tuple[Path | IO[bytes], str, int | None]:
    """Normalise an upload source: a path (size known) or a binary file object."""
    if isinstance(source, str | Path):
        path = Path(source)
        return path, filename or path.name, path.stat().st_size
    name = filename or Path(str(getattr(source, "name", "upload.bin"))).name
    return source, name, None
