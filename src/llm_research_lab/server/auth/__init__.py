"""Authentication (JWT, API keys), authorization support and per-principal rate limits."""
