"""evaluation jobs and the sample ledger

Revision ID: 0004_jobs
Revises: 0003_datasets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import llm_research_lab.server.db.base

revision: str = "0004_jobs"
down_revision: str | None = "0003_datasets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def _ts(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, llm_research_lab.server.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "eval_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("request", _json(), nullable=False),
        _ts("cancelled_at", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_eval_requests_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_requests")),
    )
    with op.batch_alter_table("eval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_eval_requests_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_eval_requests_owner_created", ["owner_id", "created_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        _ts("heartbeat_at", True),
        sa.Column("worker_id", sa.String(length=128), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", _json(), nullable=False),
        _ts("started_at", True),
        _ts("finished_at", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_jobs_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_jobs_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["eval_requests.id"],
            name=op.f("fk_jobs_request_id_eval_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index("ix_jobs_request", ["request_id"], unique=False)
        batch_op.create_index("ix_jobs_run", ["run_id"], unique=False)

    op.create_table(
        "sample_ledger",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("benchmark", sa.String(length=255), nullable=False),
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("scores", _json(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        _ts("created_at", False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_sample_ledger_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_ledger")),
        sa.UniqueConstraint("run_id", "benchmark", "doc_id", "repeat", name="uq_sample_ledger_key"),
    )


def downgrade() -> None:
    op.drop_table("sample_ledger")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_run")
        batch_op.drop_index("ix_jobs_request")
        batch_op.drop_index("ix_jobs_status_created")
    op.drop_table("jobs")
    with op.batch_alter_table("eval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_eval_requests_owner_created")
        batch_op.drop_index("ix_eval_requests_created_id")
    op.drop_table("eval_requests")
