"""Admin-editable column templates: Jinja2 in a sandbox, undefined names are errors, and every
failure is a TemplateProblem phrased for the admin (never an exception that reaches the scheduler)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError


class TemplateProblem(Exception):
    """What is wrong with a template, e.g. "line 3: 'lunr' is undefined"."""


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=256)
def compile_template(source: str):
    try:
        return _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}") from None


def render(source: str, values: dict[str, Any]) -> str:
    template = compile_template(source)
    try:
        return template.render(**values).strip()
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed in a template: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(str(exc.message if hasattr(exc, "message") and exc.message else exc)) from None
    except Exception as exc:  # e.g. a division by zero or a bad filter argument in the template
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from None
