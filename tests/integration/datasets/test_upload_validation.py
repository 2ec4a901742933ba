"""Bad files are refused with line-numbered errors, and the dataset keeps its previous content:
same sha256, row count and bytes, and nothing staged is left in the store."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from llm_research_lab.settings import Settings
from tests.integration.datasets.helpers import (
    create_dataset,
    download,
    put_bytes,
    rows_jsonl,
    stored_keys,
    upload,
)

GOOD = rows_jsonl(4)

BAD_FILES: dict[str, tuple[bytes, list[dict[str, Any]]]] = {
    "invalid_json": (
        rows_jsonl(2) + b'{"id": "x", "question": "q", "answer": \n' + rows_jsonl(1),
        [{"line": 3}],
    ),
    "schema_violations": (
        b'{"id": "a", "question": "q", "answer": "1"}\n'
        b'{"id": "b", "question": "q"}\n'
        b'{"id": "c", "question": "q", "answer": "1"}\n'
        b'{"id": "d", "question": "q", "answer": "1", "difficulty": "impossible"}\n',
        [{"line": 2}, {"line": 4}],
    ),
    "truncated": (rows_jsonl(3) + b'{"id": "q3", "question": "What is', [{"line": 4}]),
    "not_objects": (b'["a", "b"]\n' + rows_jsonl(1), [{"line": 1}]),
    "csv_in_jsonl": (b"id,question,answer\n1,q,a\n", [{"line": 1}, {"line": 2}]),
    "empty": (b"", []),
}


async def _with_content(client: httpx.AsyncClient) -> dict[str, Any]:
    ds = await create_dataset(client)
    r = await upload(client, ds["id"], GOOD)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _assert_untouched(client: httpx.AsyncClient, settings: Settings, before: dict[str, Any]) -> None:
    after = (await client.get(f"/datasets/{before['id']}")).json()
    for key in ("sha256", "row_count", "size_bytes", "filename", "content_updated_at"):
        assert after[key] == before[key], key
    assert await download(client, before["id"]) == GOOD
    assert stored_keys(settings, before["id"]) == [
        f"datasets/{before['id']}/content/{before['sha256']}.jsonl"
    ]


@pytest.mark.parametrize("case", sorted(BAD_FILES))
async def test_bad_file_is_refused_and_dataset_untouched(
    client: httpx.AsyncClient, settings: Settings, case: str
) -> None:
    before = await _with_content(client)
    data, expected = BAD_FILES[case]
    r = await upload(client, before["id"], data)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "validation_error" and body["message"].startswith("The file was rejected")
    errors = body["details"]["errors"]
    if expected:
        assert [{"line": e["line"]} for e in errors] == expected
        assert all(e["error"] for e in errors)
    else:
        assert "no rows" in errors[0]["error"]
    if case == "truncated":
        assert "truncated" in errors[0]["error"]
    if case == "schema_violations":
        assert "answer" in errors[0]["error"] and "impossible" in errors[1]["error"]
    await _assert_untouched(client, settings, before)
    # Asking again answers the same refusal; the dataset still does not change.
    again = await client.post(f"/datasets/{before['id']}/upload/complete")
    assert again.status_code == 400 and again.json()["details"]["errors"] == errors


async def test_errors_are_capped_at_ten(client: httpx.AsyncClient) -> None:
    ds = await create_dataset(client)
    data = b"".join(b'{"id": 1}\n' for _ in range(50))
    r = await upload(client, ds["id"], data)
    assert r.status_code == 400
    errors = r.json()["details"]["errors"]
    assert [e["line"] for e in errors] == list(range(1, 11))
    assert "and more" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "../x.jsonl", "content_type": "application/jsonl"}, "filename"),
        ({"filename": "a/b.jsonl", "content_type": "application/jsonl"}, "filename"),
        ({"filename": "..\\x.jsonl", "content_type": "application/jsonl"}, "filename"),
        ({"filename": "..", "content_type": "application/jsonl"}, "filename"),
        ({"filename": "data.csv", "content_type": "application/jsonl"}, "filename"),
        ({"filename": "data.jsonl", "content_type": "text/csv"}, "content_type"),
        ({"filename": "data.jsonl", "content_type": "image/png"}, "content_type"),
    ],
)
async def test_upload_request_refuses_bad_names_and_types(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, str], field: str
) -> None:
    before = await _with_content(client)
    r = await client.post(f"/datasets/{before['id']}/upload", json=body)
    assert r.status_code == 400
    assert field in r.json()["details"]["fields"]
    await _assert_untouched(client, settings, before)


async def test_put_with_another_content_type_than_signed_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = await _with_content(client)
    grant = (
        await client.post(
            f"/datasets/{before['id']}/upload",
            json={"filename": "x.jsonl", "content_type": "application/jsonl"},
        )
    ).json()
    r = await put_bytes(client, grant, rows_jsonl(2), headers={"Content-Type": "application/json"})
    assert r.status_code == 403
    await _assert_untouched(client, settings, before)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small enough that the oversize test needs no big file.
    return settings.model_copy(update={"max_upload_bytes": 64 * 1024})


async def test_oversize_upload_is_413_and_dataset_untouched(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = await _with_content(client)
    big = rows_jsonl(1000)
    assert len(big) > settings.max_upload_bytes
    r = await upload(client, before["id"], big)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "payload_too_large"
    await _assert_untouched(client, settings, before)


async def test_formats_json_csv_parquet(client: httpx.AsyncClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "n": {"type": "integer"},
            "score": {"type": ["number", "null"]},
            "ok": {"type": "boolean"},
        },
        "required": ["id", "n", "ok"],
    }
    rows = [{"id": f"r{i}", "n": i, "score": i / 2 if i % 2 else None, "ok": i % 2 == 0} for i in range(6)]

    js = await create_dataset(client, name="json", format="json", schema=schema)
    r = await upload(
        client, js["id"], json.dumps(rows).encode(), filename="d.json", content_type="application/json"
    )
    assert r.status_code == 200, r.text
    assert r.json()["row_count"] == 6
    got = (await client.get(f"/datasets/{js['id']}/rows", params={"offset": 2, "limit": 2})).json()
    assert got["data"] == rows[2:4] and got["has_more"] is True
    r = await upload(client, js["id"], json.dumps(rows).encode()[:-20], filename="d.json",
                     content_type="application/json")  # fmt: skip
    assert r.status_code == 400 and "truncated" in r.json()["details"]["errors"][0]["error"]
    r = await upload(client, js["id"], b'{"id": "x"}', filename="d.json", content_type="application/json")
    assert r.status_code == 400 and "array" in r.json()["details"]["errors"][0]["error"]

    csv_text = "id,n,score,ok\n" + "".join(
        f"{x['id']},{x['n']},{'' if x['score'] is None else x['score']},{str(x['ok']).lower()}\n"
        for x in rows
    )
    cs = await create_dataset(client, name="csv", format="csv", schema=schema)
    r = await upload(client, cs["id"], csv_text.encode(), filename="d.csv", content_type="text/csv")
    assert r.status_code == 200, r.text
    assert r.json()["row_count"] == 6
    got = (await client.get(f"/datasets/{cs['id']}/rows", params={"limit": 6})).json()
    assert got["data"] == rows  # coerced where the schema says so
    bad = "id,n,score,ok\nr0,zero,,true\nr1,1,0.5\n"
    r = await upload(client, cs["id"], bad.encode(), filename="d.csv", content_type="text/csv")
    assert r.status_code == 400
    errors = r.json()["details"]["errors"]
    assert [e["line"] for e in errors] == [2, 3]
    assert "n" in errors[0]["error"] and "3 fields" in errors[1]["error"]

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf, row_group_size=2)
    pqd = await create_dataset(client, name="parquet", format="parquet", schema=schema)
    r = await upload(client, pqd["id"], buf.getvalue(), filename="d.parquet",
                     content_type="application/vnd.apache.parquet")  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["row_count"] == 6
    got = (await client.get(f"/datasets/{pqd['id']}/rows", params={"offset": 3, "limit": 2})).json()
    assert got["data"] == rows[3:5]
    r = await upload(client, pqd["id"], buf.getvalue()[:-30], filename="d.parquet",
                     content_type="application/vnd.apache.parquet")  # fmt: skip
    assert r.status_code == 400 and "parquet" in r.json()["details"]["errors"][0]["error"]
    assert (await client.get(f"/datasets/{pqd['id']}")).json()["row_count"] == 6


async def test_schema_update_must_fit_current_content(client: httpx.AsyncClient) -> None:
    ds = await _with_content(client)
    stricter = {"type": "object", "required": ["id", "nonexistent"]}
    r = await client.put(f"/datasets/{ds['id']}", json={"schema": stricter})
    assert r.status_code == 400
    assert "does not fit" in r.json()["message"] and r.json()["details"]["errors"][0]["line"] == 1
    looser = {"type": "object", "required": ["id"]}
    r = await client.put(f"/datasets/{ds['id']}", json={"schema": looser})
    assert r.status_code == 200 and r.json()["schema"] == looser
    r = await client.put(f"/datasets/{ds['id']}", json={"format": "csv"})
    assert r.status_code == 400 and "format" in r.json()["details"]["fields"]
