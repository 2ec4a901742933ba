"""Experiment logic: ownership, unique names, status transitions, start checks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)
from llm_research_lab.schemas import experiments as s
from llm_research_lab.server.datasets.repository import DatasetRepository
from llm_research_lab.server.datasets.service import pin_versions
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Experiment
from llm_research_lab.server.experiments.repository import ExperimentRepository
from llm_research_lab.server.experiments.state import check_experiment_transition
from llm_research_lab.server.principal import Principal


def to_schema(row: Experiment) -> s.Experiment:
    return s.Experiment(
        id=row.id,
        name=row.name,
        description=row.description,
        hypothesis=row.hypothesis,
        owner_id=row.owner_id,
        collaborators=[uuid.UUID(c) for c in row.collaborators],
        tags=list(row.tags),
        status=s.ExperimentStatus(row.status),
        config=dict(row.config),
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        archived_at=row.archived_at,
        metadata=dict(row.metadata_),
    )


def config_json(config: s.ExperimentConfig) -> dict[str, Any]:
    """Store the config as the client sent it (unset keys stay absent), uuids as strings."""
    return config.model_dump(mode="json", exclude_unset=True)


class ExperimentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ExperimentRepository(session)

    async def get_visible(
        self, principal: Principal, experiment_id: uuid.UUID, permission: str
    ) -> Experiment:
        """The experiment, if the principal may act on it with `permission`; else 404/403."""
        row = await self.repo.get(experiment_id)
        if row is None:
            raise NotFoundError.of("Experiment", experiment_id)
        await self.authorize(principal, row, permission)
        return row

    async def authorize(self, principal: Principal, row: Experiment, permission: str) -> None:
        if principal.is_admin or row.owner_id == principal.user_id:
            return
        # Collaborators read and write, but deleting stays with the owner.
        if not permission.endswith(":delete") and await self.repo.is_collaborator(row.id, principal.user_id):
            return
        raise PermissionDeniedError(required_permission=permission)

    async def create(self, principal: Principal, data: s.ExperimentCreate) -> Experiment:
        owner_id = data.owner_id or principal.user_id
        if owner_id != principal.user_id and not principal.is_admin:
            raise PermissionDeniedError(
                required_permission="users:manage",
                message="Only an admin may create experiments for another owner",
            )
        await self._ensure_name_free(owner_id, data.name)
        row = Experiment(
            name=data.name,
            description=data.description,
            hypothesis=data.hypothesis,
            owner_id=owner_id,
            status=s.ExperimentStatus.DRAFT.value,
            config=config_json(data.config),
            tags=list(dict.fromkeys(data.tags)),
            collaborators=[str(c) for c in dict.fromkeys(data.collaborators)],
            metadata_=data.metadata,
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(row)
        except IntegrityError:
            # Lost a race with a concurrent create of the same name.
            await self._ensure_name_free(owner_id, data.name)
            raise
        return row

    async def _ensure_name_free(
        self, owner_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
    ) -> None:
        existing = await self.repo.find_by_name(owner_id, name)
        if existing is not None and existing.id != exclude:
            raise ConflictError("An experiment with this name already exists", existing_id=str(existing.id))

    async def update(
        self, principal: Principal, experiment_id: uuid.UUID, data: s.ExperimentUpdate
    ) -> Experiment:
        row = await self.get_visible(principal, experiment_id, "experiments:write")
        sent = data.model_fields_set
        if "name" in sent and data.name is not None and data.name != row.name:
            await self._ensure_name_free(row.owner_id, data.name, exclude=row.id)
            row.name = data.name
        if "description" in sent:
            row.description = data.description
        if "hypothesis" in sent:
            row.hypothesis = data.hypothesis
        if "tags" in sent and data.tags is not None:
            row.tags = list(dict.fromkeys(data.tags))
            await self.repo.replace_tags(row.id, row.tags)
        if "collaborators" in sent and data.collaborators is not None:
            if row.owner_id != principal.user_id and not principal.is_admin:
                raise PermissionDeniedError(
                    required_permission="experiments:write", message="Only the owner may change collaborators"
                )
            row.collaborators = [str(c) for c in dict.fromkeys(data.collaborators)]
            await self.repo.replace_collaborators(row.id, list(dict.fromkeys(data.collaborators)))
        if "config" in sent and data.config is not None:
            row.config = config_json(data.config)
        if "metadata" in sent and data.metadata is not None:
            row.metadata_ = data.metadata
        if "status" in sent and data.status is not None and data.status.value != row.status:
            self.transition(row, data.status)
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    def transition(self, row: Experiment, target: s.ExperimentStatus) -> None:
        check_experiment_transition(s.ExperimentStatus(row.status), target)
        now = utcnow()
        row.status = target.value
        if target is s.ExperimentStatus.RUNNING and row.started_at is None:
            row.started_at = now
        if target in (s.ExperimentStatus.COMPLETED, s.ExperimentStatus.FAILED):
            row.completed_at = now
        if target is s.ExperimentStatus.ARCHIVED:
            row.archived_at = now
        row.updated_at = now

    async def start(self, principal: Principal, experiment_id: uuid.UUID) -> Experiment:
        row = await self.get_visible(principal, experiment_id, "experiments:execute")
        if not row.config.get("dataset_ids"):
            raise UnprocessableEntityError("Cannot start experiment: no datasets configured")
        self.transition(row, s.ExperimentStatus.RUNNING)
        # Record which bytes this experiment uses: a dataset's newest version, or its current
        # content's sha256 when it has no version. Unknown or empty datasets are a 422.
        pinned = await pin_versions(DatasetRepository(self.session), row.config["dataset_ids"])
        row.config = {**row.config, "dataset_versions": pinned}
        await self.session.flush()
        return row

    async def delete(self, principal: Principal, experiment_id: uuid.UUID) -> None:
        row = await self.get_visible(principal, experiment_id, "experiments:delete")
        await self.repo.delete(row)
