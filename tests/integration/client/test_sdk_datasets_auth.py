"""Datasets (streamed upload/download through signed URLs, versions, rows) and auth via the SDK."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from llm_research_lab import AsyncClient, Client
from llm_research_lab.errors import NotFoundError, ValidationError


def test_dataset_lifecycle(lab: Client, tmp_path: Path) -> None:
    name = f"ds-{uuid.uuid4().hex[:8]}"
    ds = lab.datasets.create(
        name,
        description="reasoning",
        schema={"type": "object", "required": ["question", "answer"]},
        tags=["reasoning"],
        metadata={"license": "proprietary"},
    )
    assert ds.name == name and ds.size_bytes is None and ds.row_count is None
    source = tmp_path / "v1.jsonl"
    source.write_text("".join(f'{{"question": "q{i}", "answer": "{i}"}}\n' for i in range(1200)))
    uploaded = lab.datasets.upload(ds.id, source)
    assert uploaded.row_count == 1200 and uploaded.size_bytes == source.stat().st_size
    assert uploaded.filename == "v1.jsonl"

    page = lab.datasets.rows(ds.id, limit=5, offset=10)
    assert [r["question"] for r in page.data] == [f"q{i}" for i in range(10, 15)] and page.has_more
    assert len(list(lab.datasets.iter_rows(ds.id, page_size=500))) == 1200

    v1 = lab.datasets.versions.create(ds.id, "1.0.0", description="first", changelog="- initial")
    assert v1.row_count == 1200 and v1.version == "1.0.0"

    with io.BytesIO(b'{"question": "new", "answer": "x"}\n') as fh:
        lab.datasets.upload(ds.id, fh, filename="v2.jsonl")
    lab.datasets.versions.create(ds.id, "1.1.0")
    assert [v.version for v in lab.datasets.versions.list(ds.id, page_size=1)] == ["1.1.0", "1.0.0"]

    target = tmp_path / "out" / "v1.jsonl"
    signed = lab.datasets.download(ds.id, target, version="1.0.0")
    assert target.read_bytes() == source.read_bytes() and signed.version == "1.0.0"
    buffer = io.BytesIO()
    lab.datasets.download(ds.id, buffer)
    assert buffer.getvalue() == b'{"question": "new", "answer": "x"}\n'

    assert ds.id in {d.id for d in lab.datasets.list()}
    assert lab.datasets.update(ds.id, description="changed").description == "changed"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "only"}\n')
    with pytest.raises(ValidationError):
        lab.datasets.upload(ds.id, bad)
    lab.datasets.delete(ds.id)
    with pytest.raises(NotFoundError):
        lab.datasets.get(ds.id)


async def test_async_dataset_upload_and_download(alab: AsyncClient, tmp_path: Path) -> None:
    ds = await alab.datasets.create(f"ads-{uuid.uuid4().hex[:8]}")
    source = tmp_path / "a.jsonl"
    source.write_bytes(b'{"x": 1}\n' * 30_000)
    uploaded = await alab.datasets.upload(ds.id, source)
    assert uploaded.row_count == 30_000
    target = tmp_path / "b.jsonl"
    await alab.datasets.download(ds.id, target)
    assert target.read_bytes() == source.read_bytes()
    rows = [r async for r in alab.datasets.iter_rows(ds.id, page_size=1000)]
    assert len(rows) == 30_000 and rows[0] == {"x": 1}


def test_auth_me_in_local_mode(lab: Client) -> None:
    me = lab.auth.me()
    assert me.role == "admin" and "experiments:write" in me.permissions
