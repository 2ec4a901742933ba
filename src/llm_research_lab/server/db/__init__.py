"""Database layer: ORM models, engine/session factory, Alembic migrations."""
