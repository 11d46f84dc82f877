"""`create_app`: the web control's FastAPI application (API under /api/v1, pages, static).

Errors keep one shape everywhere in the API — ``{"detail", "rule"?, "field"?}`` — and
pages show the same facts as HTML; a page asked without a session goes to /login.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mcu.control import (
    api,
    api_chats,
    api_cluster,
    api_records,
    api_users,
    pages,
    pages_admin,
    pages_chats,
    pages_watch,
)
from mcu.control.access import Control, ControlError
from mcu.control.body_limit import BodyLimit
from mcu.control.forward import ClusterForward, Locate
from mcu.control.throttle import LoginThrottle
from mcu.live import LiveControl
from mcu.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mcu.settings import ChatSettings
from mcu.store import Conflict, Invalid, NotFound, Protected, Store

API_PREFIX = "/api/"


def create_app(
    store: Store,
    live: LiveControl,
    *,
    session_ttl_s: float = 3600,
    throttle: LoginThrottle | None = None,
    max_body_bytes: int = 1_048_576,
    chat: ChatSettings | None = None,
    csrf_secret: bytes | None = None,
    forward: tuple[str, Locate] | None = None,
) -> FastAPI:
    """The control application over `store` (configuration) and `live` (running calls);
    `throttle` counts failed logins per source (default: 10 in 5 minutes lock 5 minutes);
    request bodies over `max_body_bytes` are refused with 413 unread (`BodyLimit`);
    `chat`: the chats' limits, file folder and flood control (issue 17); `csrf_secret`:
    the key CSRF tokens are derived with (shared by a cluster's nodes; default: random);
    `forward`: (this node's id, locate) when clustered -- a conference's live requests
    go to the node that runs it (`ClusterForward`, issue 18)."""
    if session_ttl_s <= 0:
        raise ValueError("session_ttl_s must be positive")
    app = FastAPI(
        title="MCU control",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.control = Control(
        store, live, timedelta(seconds=session_ttl_s), chat=chat or ChatSettings()
    )
    # Set by WebServer.stop: long-lived streams (SSE) end at once instead of holding
    # the shutdown for its whole grace period.
    app.state.closing = asyncio.Event()
    if throttle is not None:
        app.state.control.throttle = throttle
    if csrf_secret is not None:
        app.state.control.csrf_secret = csrf_secret
    app.include_router(api.build_router())
    app.include_router(api_users.build_router())
    app.include_router(api_records.build_router())
    app.include_router(api_chats.build_router())
    app.include_router(api_cluster.build_router())
    app.include_router(pages.build_router())
    app.include_router(pages_admin.build_router())
    app.include_router(pages_chats.build_router())
    app.include_router(pages_watch.build_router())
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    if forward is not None:  # inside BodyLimit: what is passed on is within the limit
        app.add_middleware(ClusterForward, node_id=forward[0], locate=forward[1])
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes,
                       on_refused=live.count_http_refused)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """For Prometheus: no session, as scrapers expect (counts only, no names)."""
        return Response(live.metrics_text(), media_type=METRICS_CONTENT_TYPE)

    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> Response:
        return _answer(request, exc)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        return _answer(request, ControlError(409, f"{exc.field} already exists", field=exc.field))

    @app.exception_handler(Invalid)
    async def invalid(request: Request, exc: Invalid) -> Response:
        return _answer(request, ControlError(422, exc.reason, field=exc.field))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _answer(request, ControlError(404, f"{exc.kind} not found"))

    @app.exception_handler(Protected)
    async def protected(request: Request, exc: Protected) -> Response:
        return _answer(request, ControlError(403, exc.reason))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        error = ControlError(422, str(first.get("msg", "invalid")), field=".".join(loc) or "body")
        return _answer(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, ControlError(exc.status_code, str(exc.detail)))

    return app


def _answer(request: Request, error: ControlError) -> Response:
    if request.url.path.startswith(API_PREFIX) or pages_watch.is_stream_path(request.url.path):
        # players and programs read these answers: a status and JSON, never a login page
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return JSONResponse(error.body(), status_code=error.status, headers=headers or None)
    if error.status == 401:
        return RedirectResponse("/login", status_code=303)
    return pages.render(
        request,
        "error.html",
        status=error.status,
        principal=None,
        code=error.status,
        detail=error.detail,
        rule=error.rule,
        field=error.field,
    )
