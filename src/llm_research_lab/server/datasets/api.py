"""Dataset routes: parse, authorise, call one service method, return."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status

from llm_research_lab.schemas import datasets as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.datasets.service import DatasetService, to_schema, version_to_schema
from llm_research_lab.server.datasets.uploads import UploadFinalizer
from llm_research_lab.server.db.models import Dataset, DatasetVersion
from llm_research_lab.server.deps import Allowed, SessionDep, SettingsDep, StateDep
from llm_research_lab.server.objectstore import ObjectStoreDep
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal
from llm_research_lab.storage import ObjectStore

router = APIRouter(prefix="/datasets", tags=["datasets"])

VersionQuery = Annotated[
    str | None,
    Query(description="A version (e.g. 1.1.0), 'latest', or 'current' (the default: current content)"),
]


def service(session: SessionDep, store: ObjectStoreDep, settings: SettingsDep) -> DatasetService:
    return DatasetService(session, store, settings)


ServiceDep = Annotated[DatasetService, Depends(service)]


async def _delete_objects(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        await store.delete(key)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.Dataset, responses=errors(409))
async def create_dataset(
    body: s.DatasetCreate, svc: ServiceDep, principal: Annotated[Principal, Allowed("datasets:write")]
) -> s.Dataset:
    return to_schema(await svc.create(principal, body))


@router.get("", response_model=Page[s.Dataset], responses=errors(), summary="List (filter, paginate)")
async def list_datasets(
    session: SessionDep,
    svc: ServiceDep,
    _: Annotated[Principal, Allowed("datasets:read")],
    page: Annotated[PageParams, Depends(page_params)],
    tags: Annotated[str | None, Query(description="Comma-separated; every tag must match")] = None,
    format_: Annotated[s.DatasetFormat | None, Query(alias="format")] = None,
) -> Page[s.Dataset]:
    tag_list = [t.strip() for t in (tags or "").split(",") if t.strip()]
    stmt = svc.repo.list_stmt(tags=tag_list, fmt=format_.value if format_ else None)
    return await paginate(session, stmt, Dataset, page, to_schema)


@router.get("/{dataset_id}", response_model=s.Dataset, responses=errors(404))
async def get_dataset(
    dataset_id: uuid.UUID, svc: ServiceDep, _: Annotated[Principal, Allowed("datasets:read")]
) -> s.Dataset:
    return to_schema(await svc.get(dataset_id))


@router.put("/{dataset_id}", response_model=s.Dataset, responses=errors(404, 409), summary="Partial update")
async def update_dataset(
    dataset_id: uuid.UUID,
    body: s.DatasetUpdate,
    svc: ServiceDep,
    _: Annotated[Principal, Allowed("datasets:write")],
) -> s.Dataset:
    return to_schema(await svc.update(dataset_id, body))


@router.delete("/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_dataset(
    dataset_id: uuid.UUID,
    svc: ServiceDep,
    background: BackgroundTasks,
    _: Annotated[Principal, Allowed("datasets:delete")],
) -> Response:
    keys = await svc.delete(dataset_id)
    # Objects go after the deletion is committed (background tasks run after the response).
    background.add_task(_delete_objects, svc.store, keys)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{dataset_id}/upload",
    response_model=s.UploadURL,
    responses=errors(404),
    summary="Presigned upload URL (PUT the file's bytes there)",
)
async def request_upload(
    dataset_id: uuid.UUID,
    body: s.UploadRequest,
    svc: ServiceDep,
    principal: Annotated[Principal, Allowed("datasets:write")],
) -> s.UploadURL:
    return await svc.request_upload(principal, dataset_id, body)


@router.post(
    "/{dataset_id}/upload/complete",
    response_model=s.Dataset,
    responses=errors(404, 409, 413),
    summary="Validate the uploaded file and make it the current content (idempotent)",
)
async def complete_upload(
    dataset_id: uuid.UUID,
    state: StateDep,
    _: Annotated[Principal, Allowed("datasets:write")],
    body: s.UploadComplete | None = None,
) -> s.Dataset:
    # No request session: validation can take seconds per gigabyte, so the finalizer runs its
    # own short transactions around it (see uploads.py).
    return await UploadFinalizer(state).complete(dataset_id, body.upload_id if body else None)


@router.get("/{dataset_id}/download", response_model=s.DownloadURL, responses=errors(404))
async def download_dataset(
    dataset_id: uuid.UUID,
    svc: ServiceDep,
    _: Annotated[Principal, Allowed("datasets:read")],
    version: VersionQuery = None,
) -> s.DownloadURL:
    return await svc.download(dataset_id, version)


@router.get("/{dataset_id}/rows", response_model=s.Rows, responses=errors(404), summary="Preview rows")
async def dataset_rows(
    dataset_id: uuid.UUID,
    svc: ServiceDep,
    _: Annotated[Principal, Allowed("datasets:read")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    version: VersionQuery = None,
) -> s.Rows:
    return await svc.rows(dataset_id, version, offset, limit)


@router.post(
    "/{dataset_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=s.DatasetVersion,
    responses=errors(404, 409, 422),
    summary="Freeze the current content as an immutable version",
)
async def create_version(
    dataset_id: uuid.UUID,
    body: s.DatasetVersionCreate,
    svc: ServiceDep,
    principal: Annotated[Principal, Allowed("datasets:write")],
) -> s.DatasetVersion:
    return version_to_schema(await svc.create_version(principal, dataset_id, body))


@router.get("/{dataset_id}/versions", response_model=Page[s.DatasetVersion], responses=errors(404))
async def list_versions(
    dataset_id: uuid.UUID,
    session: SessionDep,
    svc: ServiceDep,
    _: Annotated[Principal, Allowed("datasets:read")],
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[s.DatasetVersion]:
    row = await svc.get(dataset_id)
    return await paginate(session, svc.repo.versions_stmt(row.id), DatasetVersion, page, version_to_schema)
