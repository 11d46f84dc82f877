"""Users under /api/v1/users: list, create, read, change, delete — by username.

Order in every route, as in `api`: authenticate (401), `authorize` (403 naming the rule),
validate the body (422 naming the field), act (404/409/422 from the store). The target
user is looked up before `authorize` only to tell it the user's privilege; a missing
user is answered 404 only to those `authorize` lets through, so nobody else can probe
which usernames exist. Passwords are never returned, logged or audited: audit rows name
the fields that changed, not their values.

The same operations serve the pages (`pages_admin`), so both ask `authorize` alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints, ValidationError

from mcu.control.access import (
    Control,
    ControlError,
    Principal,
    audit,
    control_of,
    principal_of,
    require,
    validation_error,
)
from mcu.control.schemas import ERRORS
from mcu.permissions import Actor, Operation, Privilege, UserTarget
from mcu.store import UserRecord

Op = Operation
# Usernames travel in URL paths: letters, digits and a few separators only.
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
# Argon2 hashes anything, but a megabyte password is a denial of service, not a secret.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    username: Username
    password: Password
    privilege: Privilege
    is_operator: StrictBool = False


class UserUpdate(_Body):
    privilege: Privilege | None = None
    password: Password | None = None
    is_operator: StrictBool | None = None


class UserOut(BaseModel):
    username: str
    privilege: Privilege
    is_operator: bool
    created_at: str


def user_json(user: UserRecord) -> dict[str, Any]:
    """A user as the API shows it: never the password or its hash."""
    return {
        "username": user.username,
        "privilege": user.privilege.value,
        "is_operator": user.is_operator,
        "created_at": user.created_at.isoformat(),
    }


def user_ref(username: str) -> str:
    return f"user:{username}"


def _privilege_or_none(value: object) -> Privilege | None:
    try:
        return Privilege(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _validate(model: type[_Body], data: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_error(exc) from None


def json_object(raw: bytes) -> tuple[dict[str, Any], ControlError | None]:
    """The body as a JSON object, else {} and the 422 to raise once authorized."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, ControlError(422, "body is not JSON", field="body")
    if not isinstance(value, dict):
        return {}, ControlError(422, "body must be a JSON object", field="body")
    return value, None


# The operations, shared by the API and the pages ------------------------------------


async def list_users(ctl: Control, actor: Actor) -> list[UserRecord]:
    await require(ctl, actor, Op.LIST_USERS, None)
    return await ctl.store.list_users()


async def get_user(ctl: Control, actor: Actor, username: str) -> UserRecord:
    user = await ctl.store.get_user(username)
    target = UserTarget(username, user.privilege if user else Privilege.CONFERENCE_LIST_ONLY)
    await require(ctl, actor, Op.VIEW_USER, target)
    if user is None:
        raise ControlError(404, "user not found")
    return user


async def create_user(
    ctl: Control, actor: Actor, data: Mapping[str, Any], bad_body: ControlError | None = None
) -> UserRecord:
    """Create from an untrusted mapping (JSON object or form): authorize, then validate
    (`bad_body`: the body could not even be read, raised once authorized)."""
    named = data.get("username")
    target = UserTarget(
        named if isinstance(named, str) else "",
        _privilege_or_none(data.get("privilege")) or Privilege.CONFERENCE_LIST_ONLY,
    )
    ref = user_ref(target.username) if target.username else "user:new"
    await require(ctl, actor, Op.CREATE_USER, target, audit_target=ref, audited=True)
    if bad_body is not None:
        raise bad_body
    body: UserCreate = _validate(UserCreate, data)
    user = await ctl.store.create_user(
        body.username, body.password, body.privilege, is_operator=body.is_operator
    )
    await audit(
        ctl,
        actor.username,
        Op.CREATE_USER,
        user_ref(user.username),
        f"created: {user.privilege}" + (", operator" if user.is_operator else ""),
    )
    return user


async def update_user(
    ctl: Control,
    actor: Actor,
    username: str,
    data: Mapping[str, Any],
    bad_body: ControlError | None = None,
    keep_token: str | None = None,
) -> UserRecord:
    """Change privilege / operator membership (UPDATE_USER) and/or the password
    (CHANGE_PASSWORD: also one's own); each part is authorized before anything is read.
    A new password ends the user's other sessions (all but ``keep_token``)."""
    existing = await ctl.store.get_user(username)
    current = existing.privilege if existing else Privilege.CONFERENCE_LIST_ONLY
    ref = user_ref(username)
    keys = set(data)
    operations = []
    if keys - {"password"} or not keys:
        operations.append(Op.UPDATE_USER)
    if "password" in keys:
        operations.append(Op.CHANGE_PASSWORD)
    target = UserTarget(username, current, _privilege_or_none(data.get("privilege")))
    for operation in operations:
        await require(ctl, actor, operation, target, audit_target=ref, audited=True)
    if existing is None:
        raise ControlError(404, "user not found")
    if bad_body is not None:
        raise bad_body
    body: UserUpdate = _validate(UserUpdate, data)
    for name in ("privilege", "password", "is_operator"):
        if name in body.model_fields_set and getattr(body, name) is None:
            raise ControlError(422, "must not be null", field=name)
    changes = body.model_dump(include=body.model_fields_set)
    updated = await ctl.store.update_user(username, **changes)
    if "password" in changes:
        await ctl.store.revoke_tokens(username, keep=keep_token)
    # Which fields changed (and the new privilege), never the password.
    outcome = "updated: " + ",".join(sorted(changes)) if changes else "unchanged"
    if "privilege" in changes:
        outcome += f" (privilege {existing.privilege} -> {updated.privilege})"
    await audit(ctl, actor.username, operations[0], ref, outcome)
    return updated


async def delete_user(ctl: Control, actor: Actor, username: str) -> None:
    """Delete a user; the store resets their conferences' owner to none (seed 003)."""
    existing = await ctl.store.get_user(username)
    current = existing.privilege if existing else Privilege.CONFERENCE_LIST_ONLY
    ref = user_ref(username)
    await require(
        ctl, actor, Op.DELETE_USER, UserTarget(username, current), audit_target=ref, audited=True
    )
    if existing is None:
        raise ControlError(404, "user not found")
    owned = await ctl.store.list_conferences(owner=username)
    await ctl.store.delete_user(username)
    outcome = "deleted"
    if owned:
        outcome += "; owner reset to none: " + ",".join(f"conference:{c.id}" for c in owned)
    await audit(ctl, actor.username, Op.DELETE_USER, ref, outcome)
    if owned:
        await ctl.live.refresh_conferences()


# The API ----------------------------------------------------------------------------

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["users"])

    @router.get("/users", response_model=list[UserOut])
    async def list_users_route(principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Every account (administrator only)."""
        return [user_json(u) for u in await list_users(ctl, principal.actor)]

    @router.post(
        "/users", status_code=201, response_model=UserOut, openapi_extra=_body_doc(UserCreate)
    )
    async def create_user_route(request: Request, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """Create an account: `username`, `password`, `privilege`, optional `is_operator`."""
        data, bad_body = json_object(await request.body())
        return user_json(await create_user(ctl, principal.actor, data, bad_body))

    @router.get("/users/{username}", response_model=UserOut)
    async def get_user_route(username: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """One account: the administrator's to read, and everyone's own."""
        return user_json(await get_user(ctl, principal.actor, username))

    @router.patch("/users/{username}", response_model=UserOut, openapi_extra=_body_doc(UserUpdate))
    async def update_user_route(
        username: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Change `privilege` / `is_operator` (administrator) or `password` (administrator,
        or the user themself)."""
        data, bad_body = json_object(await request.body())
        return user_json(await update_user(ctl, principal.actor, username, data, bad_body,
                                           keep_token=principal.token))

    @router.delete("/users/{username}", status_code=204)
    async def delete_user_route(username: str, principal: Auth, ctl: Ctl) -> Response:
        """Delete an account (not `admin`); their conferences' owner becomes none."""
        await delete_user(ctl, principal.actor, username)
        return Response(status_code=204)

    return router


__all__ = [
    "UserCreate",
    "UserUpdate",
    "build_router",
    "create_user",
    "delete_user",
    "get_user",
    "list_users",
    "update_user",
    "user_json",
]
