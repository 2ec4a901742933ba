"""Prompt rendering in Jinja2's sandboxed environment with strict variables."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from llm_research_lab.errors import ValidationError

# Autoescape off: prompts are plain text, not HTML. The sandbox blocks attribute access to
# internals (e.g. __class__), so a stored template cannot reach Python objects.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def template_variables(template: str) -> list[str]:
    """Variables the template reads, in first-seen order."""
    try:
        ast = _ENV.parse(template)
    except TemplateSyntaxError as exc:
        raise ValidationError.from_fields(
            {"template": f"Template syntax error at line {exc.lineno}: {exc.message}"}
        ) from exc
    found = meta.find_undeclared_variables(ast)
    ordered: list[str] = []
    for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", template):
        if name in found and name not in ordered:
            ordered.append(name)
    ordered.extend(sorted(found - set(ordered)))
    return ordered


def check_template(template: str, declared: Sequence[str] | None) -> list[str]:
    """Validate syntax and the declared variable list; returns the variables to store."""
    used = template_variables(template)
    if declared is None:
        return used
    missing = [v for v in used if v not in declared]
    if missing:
        raise ValidationError.from_fields(
            {"variables": f"Template uses undeclared variables: {', '.join(missing)}"}
        )
    return list(dict.fromkeys(declared))


def render(
    template: str, declared: Sequence[str], defaults: Mapping[str, Any], values: Mapping[str, Any]
) -> str:
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ValidationError.from_fields(
            {f"variables.{u}": "Unknown variable" for u in unknown},
            f"Unknown variables: {', '.join(unknown)}",
        )
    context = {**defaults, **values}
    missing = [v for v in declared if v not in context]
    if missing:
        raise ValidationError.from_fields(
            {f"variables.{m}": "Missing value" for m in missing}, f"Missing variables: {', '.join(missing)}"
        )
    try:
        return _ENV.from_string(template).render(context)
    except (UndefinedError, SecurityError) as exc:
        raise ValidationError.from_fields({"template": str(exc)}, "Template could not be rendered") from exc
