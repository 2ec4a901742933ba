"""core research lab tables

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23 09:13:39.904980
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import llm_research_lab.server.db.base

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("hypothesis", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "collaborators",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("owner_id", "name", name="uq_experiments_owner_name"),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.create_index("ix_experiments_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_experiments_owner_created", ["owner_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_experiments_status_created", ["status", "created_at", "id"], unique=False)

    op.create_table(
        "models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model_identifier", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=True),
        sa.Column("base_url", sa.String(length=2048), nullable=True),
        sa.Column("api_key_env", sa.String(length=255), nullable=True),
        sa.Column("api_key_required", sa.Boolean(), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "probe", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("is_runtime", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("slug", name=op.f("uq_models_slug")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index("ix_models_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_models_provider", ["provider", "created_at"], unique=False)

    op.create_table(
        "prompt_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column(
            "variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "default_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_templates")),
    )
    with op.batch_alter_table("prompt_templates", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_templates_created_id", ["created_at", "id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "experiment_collaborators",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_collaborators_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "user_id", name=op.f("pk_experiment_collaborators")),
    )
    with op.batch_alter_table("experiment_collaborators", schema=None) as batch_op:
        batch_op.create_index("ix_experiment_collaborators_user", ["user_id", "experiment_id"], unique=False)

    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_tags_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "tag", name=op.f("pk_experiment_tags")),
    )
    with op.batch_alter_table("experiment_tags", schema=None) as batch_op:
        batch_op.create_index("ix_experiment_tags_tag", ["tag", "experiment_id"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "config_overrides",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_runs_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_experiment_created", ["experiment_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_evaluations_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_evaluations_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index("ix_evaluations_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_evaluations_experiment", ["experiment_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_evaluations_run", ["run_id", "created_at", "id"], unique=False)

    op.create_table(
        "evaluation_metrics",
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_metrics_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_evaluation_metrics_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_evaluation_metrics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("evaluation_id", "name", name=op.f("pk_evaluation_metrics")),
    )
    with op.batch_alter_table("evaluation_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_metrics_experiment_name", ["experiment_id", "name", "value"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("evaluation_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_metrics_experiment_name")

    op.drop_table("evaluation_metrics")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluations_run")
        batch_op.drop_index("ix_evaluations_experiment")
        batch_op.drop_index("ix_evaluations_created_id")

    op.drop_table("evaluations")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_experiment_created")

    op.drop_table("runs")
    with op.batch_alter_table("experiment_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_tags_tag")

    op.drop_table("experiment_tags")
    with op.batch_alter_table("experiment_collaborators", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_collaborators_user")

    op.drop_table("experiment_collaborators")
    op.drop_table("users")
    with op.batch_alter_table("prompt_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_templates_created_id")

    op.drop_table("prompt_templates")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index("ix_models_provider")
        batch_op.drop_index("ix_models_created_id")

    op.drop_table("models")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_index("ix_experiments_status_created")
        batch_op.drop_index("ix_experiments_owner_created")
        batch_op.drop_index("ix_experiments_created_id")

    op.drop_table("experiments")
