"""Wire contract: pydantic models only. The SDK imports these without SQLAlchemy."""
