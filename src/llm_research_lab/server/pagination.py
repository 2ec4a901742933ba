"""List pagination: limit/offset with totals and links, plus opaque keyset cursors.

Order is newest first on (created_at, id). A cursor encodes the boundary row's (created_at, id),
so paging with `after` never skips or repeats rows while others are inserted, and a deep page
costs the same as the first (an index range scan, no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import ValidationError
from llm_research_lab.schemas.common import Links, Page, PageInfo, Pagination

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int
    after: str | None
    before: str | None
    path: str
    query: tuple[tuple[str, str], ...]

    @property
    def cursor_mode(self) -> bool:
        return self.after is not None or self.before is not None


def page_params(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1..100)")] = 20,
    offset: Annotated[int, Query(ge=0, description="Rows to skip (offset mode)")] = 0,
    after: Annotated[str | None, Query(description="Opaque cursor: rows after this one")] = None,
    before: Annotated[str | None, Query(description="Opaque cursor: rows before this one")] = None,
) -> PageParams:
    if after is not None and before is not None:
        raise ValidationError.from_fields({"after": "Use either 'after' or 'before', not both"})
    query = tuple(
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in {"limit", "offset", "after", "before"}
    )
    return PageParams(limit, offset, after, before, request.url.path, query)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps({"c": created_at.isoformat(), "id": str(row_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(data["c"]), uuid.UUID(data["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ValidationError.from_fields({field: "Invalid cursor"}, "Invalid query parameters") from exc


def _link(params: PageParams, **extra: Any) -> str:
    items = list(params.query) + [(k, str(v)) for k, v in extra.items() if v is not None]
    return f"{params.path}?{urlencode(items)}"


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    params: PageParams,
    to_schema: Callable[[Any], T],
) -> Page[T]:
    """Run `stmt` (a select of `model` with filters applied) one page at a time."""
    created, ident = model.created_at, model.id
    limit = params.limit
    if params.cursor_mode:
        return await _cursor_page(session, stmt, created, ident, params, to_schema)

    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    rows = (
        (
            await session.execute(
                stmt.order_by(created.desc(), ident.desc()).offset(params.offset).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    has_more = params.offset + len(rows) < total
    last_offset = max(0, ((total - 1) // limit) * limit) if total else 0
    links = Links(
        self=_link(params, limit=limit, offset=params.offset),
        next=_link(params, limit=limit, offset=params.offset + limit) if has_more else None,
        prev=_link(params, limit=limit, offset=max(0, params.offset - limit)) if params.offset > 0 else None,
        first=_link(params, limit=limit, offset=0),
        last=_link(params, limit=limit, offset=last_offset),
    )
    return Page[T](
        data=[to_schema(r) for r in rows],
        pagination=Pagination(total=total, limit=limit, offset=params.offset, has_more=has_more),
        links=links,
        page_info=_page_info(rows, has_next=has_more, has_prev=params.offset > 0),
    )


async def _cursor_page(
    session: AsyncSession,
    stmt: Select[Any],
    created: Any,
    ident: Any,
    params: PageParams,
    to_schema: Callable[[Any], T],
) -> Page[T]:
    limit = params.limit
    if params.after is not None:
        c, i = decode_cursor(params.after, "after")
        q = stmt.where(tuple_(created, ident) < tuple_(c, i)).order_by(created.desc(), ident.desc())
        rows = list((await session.execute(q.limit(limit + 1))).scalars().all())
        has_next, has_prev = len(rows) > limit, True
        rows = rows[:limit]
    else:
        assert params.before is not None
        c, i = decode_cursor(params.before, "before")
        q = stmt.where(tuple_(created, ident) > tuple_(c, i)).order_by(created.asc(), ident.asc())
        rows = list((await session.execute(q.limit(limit + 1))).scalars().all())
        has_prev, has_next = len(rows) > limit, True
        rows = list(reversed(rows[:limit]))
    info = _page_info(rows, has_next=has_next and bool(rows), has_prev=has_prev and bool(rows))
    links = Links(
        self=_link(params, limit=limit, after=params.after, before=params.before),
        next=_link(params, limit=limit, after=info.end_cursor) if info.has_next_page else None,
        prev=_link(params, limit=limit, before=info.start_cursor) if info.has_previous_page else None,
        first=_link(params, limit=limit),
    )
    return Page[T](
        data=[to_schema(r) for r in rows],
        pagination=Pagination(total=None, limit=limit, offset=None, has_more=info.has_next_page),
        links=links,
        page_info=info,
    )


def _page_info(rows: Sequence[Any], *, has_next: bool, has_prev: bool) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_prev,
        start_cursor=encode_cursor(rows[0].created_at, rows[0].id) if rows else None,
        end_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if rows else None,
    )
