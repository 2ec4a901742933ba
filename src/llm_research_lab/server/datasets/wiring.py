"""Mount the datasets domain: its routes, the object store, and the local signed-URL endpoints.

For the local backend, the signed PUT of a dataset file answers with the upload's outcome: the
storage router stores the bytes and calls our hook, which validates and promotes; a refused file
is a 400/413 envelope raised from the hook. `upload_dataset_object` wraps the storage router's
own PUT handler (same signature checks, same streaming) so a successful PUT also returns the
dataset summary, which the hook hands back through a context variable.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from llm_research_lab.schemas import datasets as s
from llm_research_lab.server.datasets.api import router as datasets_router
from llm_research_lab.server.datasets.objects import PREFIX
from llm_research_lab.server.datasets.uploads import UploadFinalizer
from llm_research_lab.server.objectstore import install_object_store
from llm_research_lab.server.openapi import PUBLIC
from llm_research_lab.server.state import AppState
from llm_research_lab.storage import LocalObjectStore, ObjectInfo
from llm_research_lab.storage.http import (
    StorageHTTPConfig,
    StorageHTTPDep,
    install_storage_routes,
    upload_object,
)
from llm_research_lab.storage.signing import OBJECTS_ROUTE

_outcome: ContextVar[s.Dataset | None] = ContextVar("dataset_upload_outcome", default=None)

local_upload_router = APIRouter(tags=["storage"])


@local_upload_router.put(
    f"{OBJECTS_ROUTE}/{PREFIX}{{rest:path}}", include_in_schema=False, openapi_extra=PUBLIC
)
async def upload_dataset_object(
    rest: str,
    request: Request,
    config: StorageHTTPDep,
    method: Annotated[str | None, Query()] = None,
    expires: Annotated[str | None, Query()] = None,
    sig: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    token = _outcome.set(None)
    try:
        stored = await upload_object(f"{PREFIX}{rest}", request, config, method, expires, sig)
        dataset = _outcome.get()
    finally:
        _outcome.reset(token)
    if dataset is None:
        return stored
    body: dict[str, Any] = dataset.model_dump(mode="json", by_alias=True)
    return JSONResponse(body, headers={"ETag": f'"{dataset.sha256}"'})


def install(app: FastAPI, state: AppState) -> None:
    """Build the object store, mount the dataset routes and (local backend) the signed-URL routes."""
    store = install_object_store(state)
    app.include_router(datasets_router)
    if isinstance(store, LocalObjectStore):
        finalizer = UploadFinalizer(state)

        async def hook(key: str, info: ObjectInfo) -> None:
            if key.startswith(PREFIX):
                _outcome.set(await finalizer.complete_staged(key))

        config = StorageHTTPConfig(store=store, max_bytes=state.settings.max_upload_bytes)
        config.register_upload_hook(hook)
        app.include_router(local_upload_router)  # before the generic route, so it matches first
        install_storage_routes(app, config)
