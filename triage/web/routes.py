"""The routes of `triage serve`."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from .pages import render


def install(app: FastAPI) -> None:
    app.add_api_route("/", start_page, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["service"])


def start_page(request: Request):
    return render(request, "web/start.html.j2")


def healthz(request: Request):
    """Whether the server can reach its database: 200 with the versions, else 503."""
    from .. import __version__

    rulebook = request.app.state.rulebook
    body = {"status": "ok", "version": __version__, "rules": f"{rulebook.name} {rulebook.version}"}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({**body, "status": "database unavailable"}, status_code=503)
    return body
