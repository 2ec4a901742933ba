"""Shared OpenAPI declarations: the error responses a route can give, public-route marker."""

from __future__ import annotations

from typing import Any

from llm_research_lab.schemas.common import ErrorBody, HubErrorBody

_DESCRIPTIONS = {
    400: "Validation error",
    401: "Missing, invalid or expired credentials",
    403: "The principal lacks the required permission",
    404: "Not found",
    409: "Conflict (duplicate, or illegal status transition)",
    413: "Request body too large",
    422: "Unprocessable (e.g. cannot start without datasets)",
    429: "Rate limit exceeded",
    500: "Internal error",
    503: "Dependency unavailable",
}

PUBLIC: dict[str, Any] = {"security": []}


def errors(*codes: int, hub: bool = False) -> dict[int | str, dict[str, Any]]:
    """Responses for `codes` plus those every authenticated route can give (401, 403, 429, 500)."""
    model = HubErrorBody if hub else ErrorBody
    wanted = sorted({*codes, 400, 401, 403, 429, 500})
    return {c: {"model": model, "description": _DESCRIPTIONS.get(c, "Error")} for c in wanted}


def public_errors(*codes: int, hub: bool = False) -> dict[int | str, dict[str, Any]]:
    model = HubErrorBody if hub else ErrorBody
    wanted = sorted({*codes, 429, 500})
    return {c: {"model": model, "description": _DESCRIPTIONS.get(c, "Error")} for c in wanted}
