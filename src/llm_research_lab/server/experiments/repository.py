"""All SQL for experiments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.server.db.models import Experiment, ExperimentCollaborator, ExperimentTag
from llm_research_lab.server.principal import Principal


class ExperimentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, experiment_id: uuid.UUID) -> Experiment | None:
        return await self.session.get(Experiment, experiment_id)

    async def get_for_update(self, experiment_id: uuid.UUID) -> Experiment | None:
        stmt = select(Experiment).where(Experiment.id == experiment_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def find_by_name(self, owner_id: uuid.UUID, name: str) -> Experiment | None:
        stmt = select(Experiment).where(Experiment.owner_id == owner_id, Experiment.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, experiment: Experiment) -> Experiment:
        self.session.add(experiment)
        await self.session.flush()
        # A new experiment has no tag or collaborator rows yet: insert them, nothing to delete first
        # (two round trips fewer than replace_* on every create).
        self.session.add_all(
            [ExperimentTag(experiment_id=experiment.id, tag=t) for t in dict.fromkeys(experiment.tags)]
        )
        self.session.add_all(
            [
                ExperimentCollaborator(experiment_id=experiment.id, user_id=uuid.UUID(c))
                for c in dict.fromkeys(experiment.collaborators)
            ]
        )
        await self.session.flush()
        return experiment

    async def replace_tags(self, experiment_id: uuid.UUID, tags: Sequence[str]) -> None:
        await self.session.execute(delete(ExperimentTag).where(ExperimentTag.experiment_id == experiment_id))
        self.session.add_all([ExperimentTag(experiment_id=experiment_id, tag=t) for t in dict.fromkeys(tags)])
        await self.session.flush()

    async def replace_collaborators(self, experiment_id: uuid.UUID, users: Sequence[uuid.UUID]) -> None:
        await self.session.execute(
            delete(ExperimentCollaborator).where(ExperimentCollaborator.experiment_id == experiment_id)
        )
        self.session.add_all(
            [ExperimentCollaborator(experiment_id=experiment_id, user_id=u) for u in dict.fromkeys(users)]
        )
        await self.session.flush()

    async def is_collaborator(self, experiment_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        stmt = select(
            exists().where(
                ExperimentCollaborator.experiment_id == experiment_id,
                ExperimentCollaborator.user_id == user_id,
            )
        )
        return bool((await self.session.execute(stmt)).scalar())

    def list_stmt(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        owner_id: uuid.UUID | None = None,
        tags: Sequence[str] = (),
    ) -> Select[Experiment]:
        stmt = select(Experiment)
        if not principal.is_admin:
            stmt = stmt.where(
                or_(
                    Experiment.owner_id == principal.user_id,
                    exists().where(
                        ExperimentCollaborator.experiment_id == Experiment.id,
                        ExperimentCollaborator.user_id == principal.user_id,
                    ),
                )
            )
        if status is not None:
            stmt = stmt.where(Experiment.status == status)
        if owner_id is not None:
            stmt = stmt.where(Experiment.owner_id == owner_id)
        for tag in dict.fromkeys(tags):
            stmt = stmt.where(
                exists().where(ExperimentTag.experiment_id == Experiment.id, ExperimentTag.tag == tag)
            )
        return stmt

    async def delete(self, experiment: Experiment) -> None:
        await self.session.delete(experiment)
        await self.session.flush()
