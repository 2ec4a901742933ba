"""The web UI shell is served (public, holds no data) at the Eval Hub's experiment_url path."""

from __future__ import annotations

import uuid

import httpx


async def test_ui_pages(client: httpx.AsyncClient) -> None:
    r = await client.get("/ui")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<title>LLM Research Lab</title>" in r.text
    r = await client.get(f"/ui/experiments/{uuid.uuid4()}")
    assert r.status_code == 200 and "experimentPage" in r.text
    r = await client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui"
