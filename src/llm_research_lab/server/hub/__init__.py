"""The Eval Hub surface (/api/v1): catalog, models, evaluation requests, system metrics."""
