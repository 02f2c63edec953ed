"""Every route of `triage serve`: the patient's pages, the JSON API, /healthz, /docs."""
from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import api, follow_up, patient  # noqa: F401  (follow_up: its pages on patient.router)
from .pages import render


def install(app: FastAPI) -> None:
    patient.router.install(app)  # first: the pages every answer goes through
    app.include_router(api.router)
    patient.install_handlers(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["service"],
                      summary="Liveness: whether the server process answers")
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["service"],
                      summary="Readiness: whether the server can reach its database",
                      responses={503: {"description": "The database does not answer."}})
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
    """Liveness: 200 with the versions while the process serves requests. It does not touch the
    database, so a load balancer or supervisor does not restart a server whose database is
    away (it recovers by itself when the database returns); /readyz says whether it can serve."""
    from .. import __version__

    rulebook = request.app.state.rulebook
    return {"status": "ok", "version": __version__, "rules": f"{rulebook.name} {rulebook.version}"}


def readyz(request: Request):
    """Readiness: 200 when the database answers, else 503 (send patients elsewhere for now)."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return {"status": "ready"}


def _install_docs(app: FastAPI) -> None:
    """The API reference at /docs: a page like every other, drawn on the server from the
    OpenAPI document (/openapi.json). It needs no script and loads nothing from another site,
    so it keeps the strict Content-Security-Policy of every page and works with JavaScript off."""

    def docs(request: Request):
        spec = app.openapi()
        return render(request, "web/docs.html.j2", info=spec["info"],
                      openapi_version=spec["openapi"], operations=api_operations(spec),
                      base_url=str(request.base_url).rstrip("/"))

    app.add_api_route("/docs", docs, methods=["GET"], response_class=HTMLResponse,
                      include_in_schema=False)


def api_operations(spec: dict) -> list[dict]:
    """Every operation of an OpenAPI document, in its order, as the /docs page shows it."""
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            description = operation.get("description", "").replace("`", "")
            operations.append({
                "anchor": operation.get("operationId") or f"{method}-{path}",
                "method": method.upper(), "path": path,
                "summary": operation.get("summary", ""),
                "description": [" ".join(p.split()) for p in description.split("\n\n")
                                if p.strip()],
                "body": _request_body(operation.get("requestBody")),
                "responses": [_response(status, response) for status, response
                              in operation.get("responses", {}).items()],
            })
    return operations


def _request_body(body: dict | None) -> dict | None:
    if not body:
        return None
    content_type, media = next(iter(body.get("content", {}).items()), ("", {}))
    examples = [{"summary": example.get("summary", name),
                 "json": json.dumps(example.get("value"), indent=2, ensure_ascii=False),
                 "compact": json.dumps(example.get("value"), ensure_ascii=False)}
                for name, example in media.get("examples", {}).items()]
    return {"content_type": content_type, "required": body.get("required", False),
            "description": media.get("schema", {}).get("description", ""), "examples": examples}


def _response(status: str, response: dict) -> dict:
    """A response's status, description and (for an object) its documented fields."""
    schema = next(iter(response.get("content", {}).values()), {}).get("schema", {})
    fields = [{"name": name, "type": prop.get("type", "any")
               + (" or null" if prop.get("nullable") else ""),
               "description": prop.get("description", "").replace("`", "")}
              for name, prop in schema.get("properties", {}).items()]
    return {"status": status, "description": response.get("description", "").replace("`", ""),
            "fields": fields}
