"""Server-rendered administration pages: users, one user, call records, audit log.

Every page and form goes through the same operations as the JSON API (`api_users`,
`api_records`), so `authorize` decides alike; a form or button is rendered only when the
operation it triggers would be allowed. Forms carry the session's CSRF token as a field.
`nav_links` (a template global) shows in the header only the pages the user may open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from mcu.control import api_records, api_users
from mcu.control.access import (
    CSRF_FIELD,
    Control,
    ControlError,
    Principal,
    allowed,
    check_csrf,
    control_of,
    require,
)
from mcu.control.pages import render, session_principal, templates, to_login
from mcu.permissions import Actor, Operation, Privilege, UserTarget
from mcu.store import Conflict, Invalid, UserRecord

Op = Operation
PRIVILEGES = [p.value for p in Privilege]


def nav_links(principal: Principal | None) -> list[dict[str, str]]:
    """The header's links: only pages `authorize` would let this user open."""
    if principal is None:
        return []
    actor = principal.actor
    me = UserTarget(actor.username, actor.privilege)
    candidates = [
        ("conferences", "/", "Conferences", Op.LIST_CONFERENCES, None),
        ("users", "/users", "Users", Op.LIST_USERS, None),
        ("records", "/records", "Call records", Op.VIEW_CALL_RECORDS, None),
        ("audit", "/audit", "Audit log", Op.VIEW_AUDIT_LOG, None),
        ("status", "/status", "Status", Op.VIEW_AUDIT_LOG, None),
        ("account", _user_path(actor.username), "My account", Op.VIEW_USER, me),
    ]
    links = [
        {"key": key, "href": href, "label": label}
        for key, href, label, operation, target in candidates
        if allowed(actor, operation, target)
    ]
    # Issue 17: everyone signed in has chats (their Favorites at least).
    links.insert(len(links) - 1, {"key": "chats", "href": "/chats", "label": "Chats"})
    return links


templates.env.globals["nav_links"] = nav_links


def _user_path(username: str) -> str:
    return "/users/" + quote(username, safe="")


async def _form(request: Request, principal: Principal) -> Mapping[str, Any]:
    form = await request.form()
    check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
    return form


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _error_of(exc: ControlError | Invalid | Conflict) -> tuple[int, str, str]:
    """(status, field, message) of a failed form, for re-rendering it."""
    if isinstance(exc, Conflict):
        return 409, exc.field, "already taken"
    if isinstance(exc, Invalid):
        return 422, exc.field, exc.reason
    if exc.status in (409, 422):
        return exc.status, exc.field or "body", exc.detail
    raise exc  # 403/404: the error page says why


def _row(actor: Actor, user: UserRecord) -> dict[str, Any]:
    target = UserTarget(user.username, user.privilege)
    return {
        **api_users.user_json(user),
        "path": _user_path(user.username),
        "can_view": allowed(actor, Op.VIEW_USER, target),
        "can_delete": allowed(actor, Op.DELETE_USER, target),
    }


def _user_controls(actor: Actor, user: UserRecord) -> dict[str, bool]:
    target = UserTarget(user.username, user.privilege)
    return {
        "edit": allowed(actor, Op.UPDATE_USER, target),
        "password": allowed(actor, Op.CHANGE_PASSWORD, target),
        "delete": allowed(actor, Op.DELETE_USER, target),
    }


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def users_page(
        request: Request,
        principal: Principal,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Response:
        ctl = control_of(request)
        actor = principal.actor
        users = await api_users.list_users(ctl, actor)
        return render(
            request,
            "users.html",
            status=status,
            principal=principal,
            users=[_row(actor, u) for u in users],
            can_create=allowed(
                actor, Op.CREATE_USER, UserTarget("", Privilege.CONFERENCE_LIST_ONLY)
            ),
            privileges=PRIVILEGES,
            errors=errors or {},
            values=values or {"username": "", "privilege": "", "is_operator": False},
        )

    @router.get("/users")
    async def users_list(request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        return await users_page(request, principal)

    @router.post("/users")
    async def users_create(request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        form = await _form(request, principal)
        data: dict[str, Any] = {
            "username": _text(form, "username").strip(),
            "password": _text(form, "password"),
            "privilege": _text(form, "privilege"),
            "is_operator": bool(form.get("is_operator")),
        }
        try:
            user = await api_users.create_user(control_of(request), principal.actor, data)
        except (ControlError, Invalid, Conflict) as exc:
            status, field, message = _error_of(exc)
            # The password is never sent back, not even into its own field.
            values = {k: v for k, v in data.items() if k != "password"}
            return await users_page(
                request, principal, status=status, errors={field: message}, values=values
            )
        return RedirectResponse(f"/users?created={quote(user.username)}", status_code=303)

    async def user_page(
        request: Request,
        principal: Principal,
        username: str,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
    ) -> Response:
        ctl = control_of(request)
        actor = principal.actor
        user = await api_users.get_user(ctl, actor, username)
        return render(
            request,
            "user.html",
            status=status,
            principal=principal,
            user={**api_users.user_json(user), "path": _user_path(user.username)},
            can=_user_controls(actor, user),
            is_self=user.username == actor.username,
            privileges=PRIVILEGES,
            errors=errors or {},
            notice=notice,
        )

    @router.get("/users/{username}")
    async def user_show(username: str, request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        notice = {"updated": "Saved.", "password": "Password changed."}.get(
            request.query_params.get("done", "")
        )
        return await user_page(request, principal, username, notice=notice)

    @router.post("/users/{username}")
    async def user_update(username: str, request: Request) -> Response:
        """Privilege and operator membership (the whole form, so an unticked box is False)."""
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        form = await _form(request, principal)
        data = {"privilege": _text(form, "privilege"), "is_operator": bool(form.get("is_operator"))}
        try:
            await api_users.update_user(control_of(request), principal.actor, username, data)
        except (ControlError, Invalid, Conflict) as exc:
            status, field, message = _error_of(exc)
            return await user_page(
                request, principal, username, status=status, errors={field: message}
            )
        return RedirectResponse(_user_path(username) + "?done=updated", status_code=303)

    @router.post("/users/{username}/password")
    async def user_password(username: str, request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        form = await _form(request, principal)
        password = _text(form, "password")
        ctl = control_of(request)
        try:
            if password != _text(form, "confirm"):
                # Authorize first (a forbidden request gets its 403), then say so.
                await _authorize_password(ctl, principal.actor, username)
                raise ControlError(422, "the two passwords differ", field="confirm")
            await api_users.update_user(ctl, principal.actor, username, {"password": password},
                                        keep_token=principal.token)
        except (ControlError, Invalid, Conflict) as exc:
            status, field, message = _error_of(exc)
            return await user_page(
                request, principal, username, status=status, errors={field: message}
            )
        return RedirectResponse(_user_path(username) + "?done=password", status_code=303)

    @router.post("/users/{username}/delete")
    async def user_delete(username: str, request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        await _form(request, principal)
        await api_users.delete_user(control_of(request), principal.actor, username)
        return RedirectResponse("/users", status_code=303)

    @router.get("/records")
    async def records_page(request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        q = request.query_params
        calls = await api_records.call_records(
            control_of(request), principal.actor, q.get("limit"), q.get("conference")
        )
        return render(
            request,
            "records.html",
            principal=principal,
            calls=[api_records.call_json(c) for c in calls],
            conference=q.get("conference", ""),
        )

    @router.get("/audit")
    async def audit_page(request: Request) -> Response:
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        q = request.query_params
        entries = await api_records.audit_entries(
            control_of(request), principal.actor, q.get("limit"), q.get("actor")
        )
        return render(
            request,
            "audit.html",
            principal=principal,
            entries=[api_records.audit_json(e) for e in entries],
            actor=q.get("actor", ""),
        )

    @router.get("/status")
    async def status_page(request: Request) -> Response:
        """Registrations with registrars (issue 20): those who may read the audit log
        (administrators) see how the MCU stands with the PBXes in front of it."""
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        ctl = control_of(request)
        await require(ctl, principal.actor, Op.VIEW_AUDIT_LOG, None)
        return render(request, "status.html", principal=principal,
                      registrations=ctl.live.registrations())

    return router


async def _authorize_password(ctl: Control, actor: Actor, username: str) -> None:
    """The password form's authorize step when the confirmation does not match."""
    existing = await ctl.store.get_user(username)
    current = existing.privilege if existing else Privilege.CONFERENCE_LIST_ONLY
    await require(
        ctl,
        actor,
        Op.CHANGE_PASSWORD,
        UserTarget(username, current),
        audit_target=api_users.user_ref(username),
        audited=True,
    )
    if existing is None:
        raise ControlError(404, "user not found")


__all__ = ["build_router", "nav_links"]
