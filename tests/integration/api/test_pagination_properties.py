"""Paging never loses or repeats a row, whatever the page size; cursors survive inserts."""

from __future__ import annotations

import uuid

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROFILE = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def _seed(client: httpx.AsyncClient, owner: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = await client.post(
            "/experiments", json={"name": f"e{i}-{uuid.uuid4().hex[:8]}", "owner_id": owner}
        )
        assert r.status_code == 201
        ids.append(r.json()["id"])
    return ids[::-1]  # newest first


async def _walk_cursor(client: httpx.AsyncClient, owner: str, limit: int) -> list[str]:
    seen: list[str] = []
    params: dict[str, object] = {"owner_id": owner, "limit": limit}
    r = (await client.get("/experiments", params=params)).json()
    seen += [e["id"] for e in r["data"]]
    while r["page_info"]["has_next_page"]:
        r = (
            await client.get("/experiments", params={**params, "after": r["page_info"]["end_cursor"]})
        ).json()
        assert len(r["data"]) <= limit
        seen += [e["id"] for e in r["data"]]
    return seen


@PROFILE
@given(n=st.integers(min_value=0, max_value=25), limit=st.integers(min_value=1, max_value=30))
async def test_cursor_and_offset_paging_cover_every_row_once(
    client: httpx.AsyncClient, n: int, limit: int
) -> None:
    owner = str(uuid.uuid4())
    expected = await _seed(client, owner, n)
    assert await _walk_cursor(client, owner, limit) == expected

    by_offset: list[str] = []
    offset = 0
    while True:
        r = (
            await client.get("/experiments", params={"owner_id": owner, "limit": limit, "offset": offset})
        ).json()
        assert r["pagination"]["total"] == n
        by_offset += [e["id"] for e in r["data"]]
        if not r["pagination"]["has_more"]:
            break
        offset += limit
    assert by_offset == expected


@PROFILE
@given(n=st.integers(min_value=2, max_value=20), limit=st.integers(min_value=1, max_value=7))
async def test_backward_cursor_returns_previous_page(client: httpx.AsyncClient, n: int, limit: int) -> None:
    owner = str(uuid.uuid4())
    expected = await _seed(client, owner, n)
    first = (await client.get("/experiments", params={"owner_id": owner, "limit": limit})).json()
    if not first["page_info"]["has_next_page"]:
        return
    second = (
        await client.get(
            "/experiments",
            params={"owner_id": owner, "limit": limit, "after": first["page_info"]["end_cursor"]},
        )
    ).json()
    back = (
        await client.get(
            "/experiments",
            params={"owner_id": owner, "limit": limit, "before": second["page_info"]["start_cursor"]},
        )
    ).json()
    assert [e["id"] for e in back["data"]] == expected[:limit]
    assert back["page_info"]["has_previous_page"] is False


async def test_inserts_during_cursor_paging_do_not_shift_pages(client: httpx.AsyncClient) -> None:
    owner = str(uuid.uuid4())
    expected = await _seed(client, owner, 9)
    page = (await client.get("/experiments", params={"owner_id": owner, "limit": 4})).json()
    seen = [e["id"] for e in page["data"]]
    await _seed(client, owner, 3)  # newer rows arrive while the client pages
    while page["page_info"]["has_next_page"]:
        page = (
            await client.get(
                "/experiments",
                params={"owner_id": owner, "limit": 4, "after": page["page_info"]["end_cursor"]},
            )
        ).json()
        seen += [e["id"] for e in page["data"]]
    assert seen == expected
