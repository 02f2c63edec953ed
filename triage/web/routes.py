"""Every route of `triage serve`: the patient's pages, the JSON API, /healthz, /docs."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import api, patient
from .pages import render


def install(app: FastAPI) -> None:
    patient.router.install(app)  # first: the pages every answer goes through
    app.include_router(api.router)
    patient.install_handlers(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["service"],
                      summary="Whether the server and its database answer")
    app.add_api_route("/privacy", privacy, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
    _install_docs(app)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        return render(request, "web/not_found.html.j2", status_code=404)


def privacy(request: Request):
    return render(request, "web/privacy.html.j2",
                  retention_days=request.app.state.settings.retention_days)


def healthz(request: Request):
    """200 with the versions when the database answers, else 503."""
    from .. import __version__

    rulebook = request.app.state.rulebook
    body = {"status": "ok", "version": __version__, "rules": f"{rulebook.name} {rulebook.version}"}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({**body, "status": "database unavailable"}, status_code=503)
    return body


def _install_docs(app: FastAPI) -> None:
    """OpenAPI documentation at /docs with Swagger UI served from this server (the
    swagger-ui-bundle package), never from a CDN."""
    import swagger_ui_bundle
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-assets", StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)),
              name="docs-assets")

    def docs(request: Request):
        return render(request, "web/docs.html.j2")

    app.add_api_route("/docs", docs, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)
