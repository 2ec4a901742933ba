"""Serves the web UI shell (public: the page holds no data; the API authorises each call)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from llm_research_lab.server.openapi import PUBLIC

router = APIRouter(tags=["ui"], include_in_schema=True)

_INDEX = files("llm_research_lab.ui").joinpath("static/index.html")


def _page() -> HTMLResponse:
    return HTMLResponse(_INDEX.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False, openapi_extra=PUBLIC)
async def root() -> RedirectResponse:
    return RedirectResponse("/ui")


@router.get("/ui", response_class=HTMLResponse, openapi_extra=PUBLIC, summary="Web UI: experiments")
async def ui_index() -> HTMLResponse:
    return _page()


@router.get(
    "/ui/experiments/{experiment_id}",
    response_class=HTMLResponse,
    openapi_extra=PUBLIC,
    summary="Web UI: one experiment (the Eval Hub's experiment_url)",
)
async def ui_experiment(experiment_id: str) -> HTMLResponse:
    return _page()
