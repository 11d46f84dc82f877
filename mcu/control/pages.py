"""Server-rendered pages: login, the conference list, one conference's participants.

Pages ask `authorize` exactly as the API does; a button is rendered only when the
operation it triggers would be allowed. The participant list refreshes itself from
the JSON API with the session cookie and the page's CSRF token (static/conference.js).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from mcu.control.access import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ControlError,
    Principal,
    admit_login,
    allowed,
    audit,
    authenticate,
    check_csrf,
    conference_target,
    control_of,
    load_conference,
    principal_of,
    require,
    source_of,
)
from mcu.control.api import conference_json
from mcu.permissions import Listing, Operation, listing

Op = Operation
HERE = Path(__file__).parent
# Scripts and styles come from /static only: an injected <script> would not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _safe_next(target: str | None) -> str:
    # Only a local path: never an open redirect to another site.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _to_login(request: Request) -> RedirectResponse:
    path = request.url.path
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    async def login_form(request: Request, next: str = "/") -> HTMLResponse:
        csrf = secrets.token_urlsafe(32)
        response = render(request, "login.html", csrf=csrf, next=_safe_next(next), error=None)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            csrf,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/login",
        )
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        ctl = control_of(request)
        form = await request.form()
        csrf = str(form.get(CSRF_FIELD, ""))
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf)
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        next_path = _safe_next(str(form.get("next", "/")))
        wait = await admit_login(ctl, request, username or None, "web-session")
        if wait:
            response = render(
                request,
                "login.html",
                status=429,
                csrf=csrf,
                next=next_path,
                error=f"Too many failed logins from your address; try again in {wait} s.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        user = await ctl.store.authenticate(username, password) if username else None
        if user is not None:
            ctl.throttle.succeeded(source_of(request))
        if user is None:
            await audit(ctl, username or None, "login", "web-session", "failed")
            return render(
                request,
                "login.html",
                status=401,
                csrf=csrf,
                next=next_path,
                error="Wrong username or password.",
            )
        issued = await ctl.store.create_token(user.username, ctl.session_ttl)
        await audit(ctl, user.username, "login", "web-session", "ok")
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            issued.token,
            max_age=int(ctl.session_ttl.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        ctl = control_of(request)
        try:
            principal = await authenticate(request, csrf_header=False)
        except ControlError as exc:
            if exc.status == 401:
                return _to_login(request)
            raise
        form = await request.form()
        check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
        await ctl.store.revoke_token(principal.token)
        await audit(ctl, principal.actor.username, "logout", "web-session", "ok")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def _page_principal(request: Request) -> Principal | None:
        try:
            return await principal_of(request)
        except ControlError as exc:
            if exc.status == 401:
                return None
            raise

    @router.get("/")
    async def conferences_page(request: Request) -> Response:
        ctl = control_of(request)
        principal = await _page_principal(request)
        if principal is None:
            return _to_login(request)
        actor = principal.actor
        await require(ctl, actor, Op.LIST_CONFERENCES, None)
        roles = await ctl.store.list_roles()
        rows = []
        for record in await ctl.store.list_conferences():
            shown = listing(actor, conference_target(record, roles))
            if shown is not Listing.HIDDEN:
                rows.append({"link": shown is Listing.LINK, **conference_json(record)})
        return render(request, "conferences.html", principal=principal, conferences=rows)

    @router.get("/conferences/{conference_id}")
    async def conference_page(conference_id: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await _page_principal(request)
        if principal is None:
            return _to_login(request)
        actor = principal.actor
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, actor, Op.VIEW_CONFERENCE, target)
        can = {
            "view": allowed(actor, Op.VIEW_PARTICIPANTS, target),
            "admit": allowed(actor, Op.ADMIT_PARTICIPANT, target),
            "drop": allowed(actor, Op.DISCONNECT_PARTICIPANT, target),
            "mute": allowed(actor, Op.MUTE_PARTICIPANT, target),
        }
        participants = ctl.live.participants(record.numeric_id) if can["view"] else []
        return render(
            request,
            "conference.html",
            principal=principal,
            conference=conference_json(record),
            participants=participants,
            can=can,
        )

    return router
