"""Rendering the web pages: the one Jinja environment of the project, with the web's globals."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from ..templating import environment
from .security import CSRF_FIELD, csrf_token

SERVICE_NAME = "Back pain check"


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page of `reports/templates/web/`, with what every page needs (the CSRF token, the
    service's name); autoescaped, as every HTML template of the project is."""
    settings = getattr(request.app.state, "settings", None)
    context.setdefault("emergency_number", getattr(settings, "emergency_number", "112"))
    page = environment().get_template(template).render(
        request=request, service_name=SERVICE_NAME, csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(request), **context)
    return HTMLResponse(page, status_code=status_code)
