"""Dataset tables: datasets (with their current content), versions, tags and pending uploads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from llm_research_lab.server.db.base import Base, TimestampMixin, utcnow


class Dataset(TimestampMixin, Base):
    """A dataset and its *current* content: an immutable, validated object at ``content_key``.

    Content fields change together, only after a staged upload validated, so a reader never sees
    a half-written or invalid file.
    """

    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("created_by", "name", name="uq_datasets_owner_name"),
        Index("ix_datasets_created_id", "created_at", "id"),
        Index("ix_datasets_format_created", "format", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    schema_: Mapped[dict[str, Any] | None] = mapped_column("schema", nullable=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_by: Mapped[uuid.UUID] = mapped_column()
    content_key: Mapped[str | None] = mapped_column(String(1024))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_updated_at: Mapped[datetime | None] = mapped_column()
    # Denormalised so lists need no per-row query: the newest version, and the version (if any)
    # whose bytes are the current content.
    latest_version: Mapped[str | None] = mapped_column(String(64))
    current_version: Mapped[str | None] = mapped_column(String(64))


class DatasetTag(Base):
    """One row per tag so that the `tags=a,b` filter (all must match) is an indexed lookup."""

    __tablename__ = "dataset_tags"
    __table_args__ = (Index("ix_dataset_tags_tag", "tag", "dataset_id"),)

    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class DatasetVersion(Base):
    """An immutable snapshot of a dataset's content, under its own object key."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
        Index("ix_dataset_versions_dataset_created", "dataset_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    changelog: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    schema_: Mapped[dict[str, Any] | None] = mapped_column("schema", nullable=True)
    object_key: Mapped[str] = mapped_column(String(1024))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetUpload(Base):
    """A presigned upload: staged under ``staging_key`` until validated and promoted (or refused).

    ``status``: pending → processing → completed | failed. ``result`` keeps the outcome, so asking
    again (a retried PUT, a second ``upload/complete``) answers the same without redoing the work.
    """

    __tablename__ = "dataset_uploads"
    __table_args__ = (Index("ix_dataset_uploads_dataset_created", "dataset_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    staging_key: Mapped[str] = mapped_column(String(1024), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
