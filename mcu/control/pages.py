"""Server-rendered pages: login, the conference list, one conference's participants,
the schedule form.

Pages ask `authorize` exactly as the API does; a button is rendered only when the
operation it triggers would be allowed. The participant list stays current over
Server-Sent Events (``/conferences/{id}/events``, see `events`) and its buttons call
the JSON API with the session cookie and the page's CSRF token (static/conference.js).
Thumbnails are pictures of the video (slates without it: `thumbnails`), never shown when the
conference requires encryption. The schedule form (``/conferences/new``,
``/conferences/{id}/edit``) writes through the same store calls and `authorize`
questions as the API and shows the store's field errors beside the field.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from mcu.control import cameras as camera_ops
from mcu.control import chats
from mcu.control import conferences as conference_ops
from mcu.control import recordings as recording_ops
from mcu.control.access import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Control,
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
    not_found,
    principal_of,
    require,
    source_of,
)
from mcu.control.conferences import conference_json, room_json
from mcu.control.configuration import NEW_CONFERENCE, check_configuration
from mcu.control.events import (
    SSE_HEADERS,
    cameras_json,
    participant_events,
    participants_json,
)
from mcu.control.forms import (
    FORM_FIELD,
    REPETITIONS,
    changed,
    form_values,
    parse_schedule,
    posted_values,
)
from mcu.control.rooms import Room, load_room
from mcu.control.thumbnails import slate
from mcu.permissions import (
    Actor,
    ConferenceTarget,
    Listing,
    NewConferenceTarget,
    Operation,
    OwnerChangeTarget,
    can_own,
)
from mcu.store import ConferenceRecord, Conflict, EncryptionPolicy, Invalid

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


def to_login(request: Request) -> RedirectResponse:
    path = request.url.path
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


async def session_principal(request: Request) -> Principal | None:
    """The page's principal, or None (the page redirects to /login). A page form
    carries its CSRF token as a field, which the route checks."""
    try:
        return await authenticate(request, csrf_header=False)
    except ControlError as exc:
        if exc.status == 401:
            return None
        raise


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _configuration_errors(
    errors: dict[str, str], merged: Mapping[str, Any], changed: Iterable[str],
    layouts: Iterable[str],
) -> None:
    """The API's rules between fields (configuration.check_configuration), as form errors."""
    try:
        check_configuration(merged, changed, layouts)
    except ControlError as exc:
        field = exc.field or "name"
        errors.setdefault(FORM_FIELD.get(field, field), exc.detail)


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
                return to_login(request)
            raise
        form = await request.form()
        check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
        await ctl.store.revoke_token(principal.token)
        await audit(ctl, principal.actor.username, "logout", "web-session", "ok")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


    @router.get("/")
    async def conferences_page(request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        actor = principal.actor
        if not allowed(actor, Op.LIST_CONFERENCES, None) and allowed(
                actor, Op.VIEW_CALL_RECORDS, None):
            # The security administrator's home: the records they may read.
            return RedirectResponse("/records", status_code=303)
        rows = [
            {"link": shown is Listing.LINK, **room_json(room)}
            for shown, room in await conference_ops.list_conferences(ctl, actor)
        ]
        return render(
            request,
            "conferences.html",
            principal=principal,
            conferences=rows,
            can_create=allowed(actor, Op.CREATE_CONFERENCE, _creating(actor)),
        )

    @router.get("/conferences/new")
    async def new_conference_form(request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        await require(ctl, principal.actor, Op.CREATE_CONFERENCE, _creating(principal.actor))
        values = form_values(None)
        values["owner"] = principal.actor.username
        return await _schedule_form(request, ctl, principal, None, values, {})

    @router.post("/conferences/new")
    async def create_conference(request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        actor = principal.actor
        form = await request.form()
        check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
        # As the API: may the actor create at all (as owner)? Then: may they name this owner?
        await require(
            ctl, actor, Op.CREATE_CONFERENCE, _creating(actor),
            audit_target="conference:new", audited=True,
        )
        shown = _owner_field_shown(actor, None)
        parsed = parse_schedule(form, editing=False, owner_shown=shown)
        owner = parsed.fields.pop("owner", actor.username) if shown else actor.username
        values = posted_values(form, owner)
        wanted = {**parsed.fields, "owner": owner}
        try:
            if not parsed.errors:  # the API's create operation: its authorize, its audit
                record, _ = await conference_ops.create_conference(ctl, actor, wanted)
                return RedirectResponse(f"/conferences/{record.id}", status_code=303)
            await conference_ops.authorize_create(ctl, actor, wanted)  # 403 before 422
        except (Invalid, Conflict) as exc:
            return await _schedule_form(request, ctl, principal, None, values, _store_error(exc))
        except ControlError as exc:
            errors = await _field_errors(ctl, exc, {} if owner == actor.username else wanted)
            if errors is None:
                raise
            for name, message in errors.items():
                parsed.errors.setdefault(name, message)
        _configuration_errors(parsed.errors, {**NEW_CONFERENCE, **parsed.fields}, parsed.fields,
                              ctl.live.layouts())
        return await _schedule_form(request, ctl, principal, None, values, parsed.errors)

    @router.get("/conferences/{conference_id}/edit")
    async def edit_conference_form(conference_id: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        record, target = await load_conference(ctl, conference_id)
        await require(ctl, principal.actor, Op.CONFIGURE_CONFERENCE, target)
        return await _schedule_form(request, ctl, principal, record, form_values(record), {})

    @router.post("/conferences/{conference_id}/edit")
    async def update_conference(conference_id: str, request: Request) -> Response:
        """The schedule form's save: the API's update operation
        (`conferences.update_conference`), so the same authorize questions and the same
        audit rows; its 422/409 and an owner it refuses come back as field errors."""
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        actor = principal.actor
        form = await request.form()
        check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
        room = await load_room(ctl, conference_id)
        # The form is the configuration page: shown, and so saved, with configure rights.
        await require(ctl, actor, Op.CONFIGURE_CONFERENCE, room.target, audit_target=room.ref,
                      audited=True)
        record = conference_ops.configured(room)
        parsed = parse_schedule(form, editing=True, owner_shown=_owner_field_shown(
            actor, room.target))
        changes = changed(record, parsed.fields)
        values = posted_values(form, record.owner)
        if parsed.errors:
            current = {f.name: getattr(record, f.name) for f in dataclass_fields(record)}
            _configuration_errors(parsed.errors, {**current, **changes}, changes,
                                  ctl.live.layouts())
            return await _schedule_form(request, ctl, principal, record, values, parsed.errors)
        try:
            updated, _ = await conference_ops.update_conference(ctl, actor, room, changes)
        except (Invalid, Conflict) as exc:
            return await _schedule_form(request, ctl, principal, record, values, _store_error(exc))
        except ControlError as exc:
            errors = await _field_errors(ctl, exc, changes)
            if errors is None:
                raise
            return await _schedule_form(request, ctl, principal, record, values, errors)
        return RedirectResponse(f"/conferences/{updated.id}", status_code=303)

    @router.get("/conferences/{conference_id}")
    async def conference_page(conference_id: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        actor = principal.actor
        room = await load_room(ctl, conference_id)
        await require(ctl, actor, Op.VIEW_CONFERENCE, room.target)
        can = _controls(actor, room)
        participants = ctl.live.participants(room.numeric_id) if can["view"] else []
        cameras = await camera_ops.list_cameras(ctl, actor, room) if can["cameras"] else []
        recordings = (await recording_ops.list_recordings(ctl, actor, room.record.id)
                      if can["record"] and room.record is not None else [])
        chat = await chats.conference_chat_panel(
            ctl, principal, room.record.id if room.record is not None else None)
        return render(
            request,
            "conference.html",
            principal=principal,
            conference=room_json(room),
            details=_details(room.record),
            participants=participants,
            cameras=cameras,
            recordings=[r | {"downloadable": allowed(actor, Op.DOWNLOAD_RECORDINGS, room.target)}
                        for r in recordings],
            can=can,
            layouts=ctl.live.layouts() if can["layout"] else [],
            dial_schemes=ctl.live.dial_schemes() if can["dial_out"] else [],
            chat=chat,
        )

    @router.post("/conferences/{conference_id}/layout")
    async def conference_layout(conference_id: str, request: Request) -> Response:
        """The layout chooser: the conference's layout (`layout`, "" for the default)
        changed through the API's update operation, so PATCH's authorize and audit."""
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        form = await request.form()
        check_csrf(principal.csrf, str(form.get(CSRF_FIELD, "")))
        room = await load_room(ctl, conference_id)
        chosen = form.get("layout")
        if not isinstance(chosen, str):
            chosen = ""
        changes = {"layout": chosen.strip() or None}
        updated, _ = await conference_ops.update_conference(ctl, principal.actor, room, changes)
        return RedirectResponse(f"/conferences/{updated.id}", status_code=303)

    @router.get("/conferences/{conference_id}/events")
    async def conference_events(conference_id: str, request: Request) -> Response:
        """The participant list, and the cameras' states for those who may see them,
        as Server-Sent Events (`events.participant_events`)."""
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            # For a script: a plain 401, not the login page's redirect.
            return Response("not authenticated", status_code=401, media_type="text/plain")
        room = await load_room(ctl, conference_id)
        await require(ctl, principal.actor, Op.VIEW_PARTICIPANTS, room.target)

        snapshots = {"participants": lambda: participants_json(
            ctl.live.participants(room.numeric_id))}
        if _controls(principal.actor, room)["cameras"] and room.record is not None and (
                await ctl.store.list_cameras(room.record.id)):  # the page shows camera rows
            snapshots["cameras"] = lambda: cameras_json(
                ctl.live.camera_states(room.numeric_id))

        async def ended() -> str | None:
            return await _stream_ended(ctl, principal, room)

        return StreamingResponse(
            participant_events(request, snapshots, ended),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    @router.get("/conferences/{conference_id}/participants/{participant_id}/thumbnail.jpg")
    async def thumbnail(conference_id: str, participant_id: str, request: Request,
                        view: bool = False) -> Response:
        """A participant's camera picture (``?view=true``: the picture sent to them), a
        slate while there is none; none at all when the conference requires encryption
        (seed 003) — 404, as if there were no picture."""
        ctl = control_of(request)
        principal = await principal_of(request)
        room = await _pictures(ctl, principal.actor, conference_id)
        participant = next(
            (p for p in ctl.live.participants(room.numeric_id) if p.id == participant_id), None
        )
        if participant is None:
            raise not_found("participant")
        picture = await ctl.live.thumbnail(room.numeric_id, participant_id, view)
        return _jpeg(picture or slate(participant.display_name, participant.state))

    @router.get("/conferences/{conference_id}/view.jpg")
    async def composed_view(conference_id: str, request: Request) -> Response:
        """The conference's composed picture, as the MCU sends it to its first connected
        participant (the live MCU composes per viewer); a slate while there is none.
        Shown to who may see thumbnails, as the participants' own pictures."""
        ctl = control_of(request)
        principal = await principal_of(request)
        room = await _pictures(ctl, principal.actor, conference_id)
        viewer = next(
            (p for p in ctl.live.participants(room.numeric_id) if p.state == "connected"), None
        )
        picture = None if viewer is None else await ctl.live.thumbnail(
            room.numeric_id, viewer.id, True)
        return _jpeg(picture or slate(room.name, "no video"))

    async def _pictures(ctl: Control, actor: Actor, conference_id: str) -> Room:
        room = await load_room(ctl, conference_id)
        await require(ctl, actor, Op.VIEW_PARTICIPANTS, room.target)
        if not allowed(actor, Op.VIEW_THUMBNAILS, room.target):
            raise not_found("thumbnail")
        return room

    return router


def _jpeg(picture: bytes) -> Response:
    return Response(
        picture,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


async def _field_errors(
    ctl: Control, exc: ControlError, changes: Mapping[str, Any]
) -> dict[str, str] | None:
    """A refusal of the create/update operation as a form field error, where it names a
    field (422, 409) or refuses the owner `changes` names (403 from the owner rule);
    None for any other refusal (the error page shows it)."""
    if exc.status in (409, 422) and exc.field:
        return {FORM_FIELD.get(exc.field, exc.field): exc.detail}
    rule = exc.rule or ""
    if exc.status == 403 and "owner" in changes and rule.startswith("change-owner"):
        owner = changes["owner"]
        if owner and await ctl.store.get_user(owner) is None:
            return {"owner": "no such user"}
        return {"owner": "cannot own conferences" if "cannot create" in rule else rule}
    return None


def _ref(record: ConferenceRecord) -> str:
    return f"conference:{record.id}"


def _creating(actor: Actor) -> NewConferenceTarget:
    return NewConferenceTarget(actor.username, actor.privilege)


def _owner_field_shown(actor: Actor, target: ConferenceTarget | None) -> bool:
    """Seed 003: only who may change owners chooses one (asked with the owner `none`,
    which every such actor may choose)."""
    if target is None:
        return allowed(actor, Op.CREATE_CONFERENCE, NewConferenceTarget(None))
    return allowed(actor, Op.CHANGE_OWNER, OwnerChangeTarget(target, None))


def _controls(actor: Actor, room: Room) -> dict[str, bool]:
    """Which controls the conference page shows: exactly what `authorize` allows (and
    nothing about configuration for a conference running without one)."""
    target = room.target
    configured = room.record is not None
    return {
        "view": allowed(actor, Op.VIEW_PARTICIPANTS, target),
        "thumbnails": allowed(actor, Op.VIEW_THUMBNAILS, target),
        "admit": allowed(actor, Op.ADMIT_PARTICIPANT, target),
        "drop": allowed(actor, Op.DISCONNECT_PARTICIPANT, target),
        "mute": allowed(actor, Op.MUTE_PARTICIPANT, target),
        "important": allowed(actor, Op.SET_IMPORTANT_PARTICIPANT, target),
        "message_all": allowed(actor, Op.MESSAGE_ALL, target),
        "dial_out": allowed(actor, Op.DIAL_OUT, target),
        "cameras": configured and allowed(actor, Op.VIEW_CAMERAS, target),
        "add_camera": configured and allowed(actor, Op.ADD_CAMERA, target),
        "remove_camera": configured and allowed(actor, Op.REMOVE_CAMERA, target),
        "end": allowed(actor, Op.END_CONFERENCE, target),
        "configure": configured and allowed(actor, Op.CONFIGURE_CONFERENCE, target),
        "layout": configured and allowed(actor, Op.CONFERENCE_CUSTOM_LAYOUT, target),
        "preview": allowed(actor, Op.VIEW_PARTICIPANTS, target)
        and allowed(actor, Op.VIEW_THUMBNAILS, target),
        "watch": configured and bool(room.record and room.record.streaming)
        and allowed(actor, Op.WATCH_STREAM, target),
        "record": configured and allowed(actor, Op.CONTROL_RECORDING, target),
        "delete_recording": configured and allowed(actor, Op.DELETE_RECORDING, target),
    }


def _details(record: ConferenceRecord | None) -> dict[str, Any]:
    """The schedule as the page shows it (UTC ISO times; the script shows them local);
    None for a conference running without configuration."""
    if record is None:
        return {"ad_hoc": True, "layout": None}
    return {
        "ad_hoc": False,
        "start_time": None if record.start_time is None else record.start_time.isoformat(),
        "duration_minutes": (
            None if record.duration_seconds is None else record.duration_seconds // 60
        ),
        "repetition": record.repetition.value if record.repetition else None,
        "max_participants": record.max_participants,
        "encryption": record.encryption.value,
        "streaming": record.streaming,
        "layout": record.layout,
    }


async def _stream_ended(ctl: Control, principal: Principal, room: Room) -> str | None:
    """Why an event stream must stop now, if it must: asked again at each heartbeat, so a
    revoked session, a demotion or a change of owner ends what the page may watch."""
    token = await ctl.store.lookup_token(principal.token)
    user = None if token is None else await ctl.store.get_user(token.username)
    if user is None:
        return "expired"
    actor = Actor(user.username, user.privilege, user.is_operator)
    target = room.target
    if room.record is not None:
        fresh = await ctl.store.get_conference(room.record.id)
        if fresh is None or fresh.numeric_id != room.numeric_id:
            return "changed"
        target = conference_target(fresh, await ctl.store.list_roles(conference_id=fresh.id))
    if not allowed(actor, Op.VIEW_PARTICIPANTS, target):
        return "expired"
    return None


def _store_error(exc: Invalid | Conflict) -> dict[str, str]:
    if isinstance(exc, Conflict):
        return {FORM_FIELD.get(exc.field, exc.field): "already used by another conference"}
    return {FORM_FIELD.get(exc.field, exc.field): exc.reason}


async def _schedule_form(
    request: Request,
    ctl: Control,
    principal: Principal,
    record: ConferenceRecord | None,
    values: dict[str, Any],
    errors: dict[str, str],
) -> HTMLResponse:
    actor = principal.actor
    target = None if record is None else conference_target(
        record, await ctl.store.list_roles(conference_id=record.id)
    )
    owners: list[str] = []
    if _owner_field_shown(actor, target):
        owners = [u.username for u in await ctl.store.list_users() if can_own(u.privilege)]
    status = 200
    if errors:
        status = 409 if any(m.startswith("already used") for m in errors.values()) else 422
    return render(
        request,
        "conference_form.html",
        status=status,
        principal=principal,
        record=None if record is None else conference_json(record),
        values=values,
        errors=errors,
        owners=owners,
        repetitions=REPETITIONS,
        encryptions=[e.value for e in EncryptionPolicy],
    )
