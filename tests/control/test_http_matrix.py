"""The permission tables, exhaustively, THROUGH THE HTTP API (issue 5's test requirement).

Every privilege level x owner / not owner x operation, and every conference role
(moderator appointed by the owner over HTTP, operator-group member, speaker) x privilege x
operation, each its own test id. A request is built for the operation (method, path, JSON
body) against a fresh conference owned by the actor (``owner``) or by another creator
(``other``), sent with the actor's bearer token, and:

- allowed -> the route's success status (so also neither 401 nor 403);
- refused -> 403 whose JSON body names a ``rule``, and nothing changed (the conference,
  its roles, the users and the live MCU are as before the request).

The expectations are written here from the seed text, quoted; nothing is imported from
``mcu.permissions`` to compute them, so a wrong table in the code shows up as a named
failing case. A case is skipped only when its route is not built (no route answers that
method and path); the skip reason names it.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from starlette.routing import Match

from layouts.registry import available_layouts
from mcu.control import create_app
from mcu.permissions import Privilege
from mcu.store import Store, open_store, passwords
from tests.control.fakes import FakeLive

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN_PASSWORD = "admin-secret"
PASSWORD = "pw-for-matrix"
ROOT = "admin"  # seed 002: the root administrator, "fixed userId admin"
OTHER_OWNER = "other_creator"  # owns the "other" conferences (conference_creation)
SPARE = "spare_creator"  # a conference_creation user: new owner, role target
NON_CREATOR = "plain_detail"  # a conference_detail user nobody may make an owner

# The API's privilege identifiers (issue 5, "Users").
ADMINISTRATOR = "administrator"
CC_FULL = "conference_creation_full_control"
CC_LIMITED = "conference_creation_limited_control"
CC = "conference_creation"
DETAIL = "conference_detail"
LIST_STREAMING = "conference_list_streaming"
LIST_ONLY = "conference_list_only"
SECURITY = "security_administrator"
PRIVILEGES = [ADMINISTRATOR, CC_FULL, CC_LIMITED, CC, DETAIL, LIST_STREAMING, LIST_ONLY, SECURITY]

# ----------------------------------------------------------------------------------------
# Expectations, from the seeds
# ----------------------------------------------------------------------------------------

# Seed 003, "User privileges" -- (privilege, actor owns the conference) -> control level:
#   "administrator / conference creation and full control: Users with these privilege
#    levels are able to create and own conferences, and are able to exercise full control
#    of all conferences."
#   "conference creation and limited control: ... They have full control of conferences
#    they own, and limited control of conferences owned by other users."
#   "conference creation: ... They have full control of conferences they own, but no
#    control of conferences owned by other users."
#   "conference detail / conference list plus streaming / conference list only: Users with
#    these privilege levels are not able to own conferences or change any conference's
#    configuration." (so a conference stored with one of them as owner confers nothing)
# Seed 000: "TrueConf Server Security Admin has read-only access to the reports and
#   recording. TrueConf Server Security Admin cannot change any settings" -- no control.
CONTROL: dict[tuple[str, bool], str] = {
    (ADMINISTRATOR, True): "full",
    (ADMINISTRATOR, False): "full",
    (CC_FULL, True): "full",
    (CC_FULL, False): "full",
    (CC_LIMITED, True): "full",
    (CC_LIMITED, False): "limited",
    (CC, True): "full",
    (CC, False): "none",
    (DETAIL, True): "none",
    (DETAIL, False): "none",
    (LIST_STREAMING, True): "none",
    (LIST_STREAMING, False): "none",
    (LIST_ONLY, True): "none",
    (LIST_ONLY, False): "none",
    (SECURITY, True): "none",
    (SECURITY, False): "none",
}
RANK = {"none": 0, "limited": 1, "full": 2}

# Seed 003: "Users with these privilege levels are able to create and own conferences"
# (administrator, the three conference creation levels); below conference_creation users
# "are not able to own conferences or change any conference's configuration".
CREATORS = {ADMINISTRATOR, CC_FULL, CC_LIMITED, CC}

# Seed 003, "Changing the owner of a conference": "A user whose privilege level is either
# conference creation and full control or administrator is also able to change the owner
# of a conference. A conference owner can be changed to either a user with conference
# creation rights or to 'none' ... Also, when scheduling new conferences, users with these
# privileges are able to choose which owner is initially associated with the conference."
OWNER_CHANGERS = {ADMINISTRATOR, CC_FULL}

# Seed 000: "TrueConf Server Admin has full access to the TrueConf Server control panel";
# "Security Admin has read-only access to the reports"; issue 5: security_administrator
# has "read-only access to call records, audit log and recordings".
RECORD_READERS = {ADMINISTRATOR, SECURITY}

# Seed 002: "Internal users with the admin role can manage other internal users ...
# Create new users ... Delete users"; "The root administrator (admin) cannot be deleted,
# but its password can be changed"; the root "has full control" (it stays administrator).
USER_MANAGERS = {ADMINISTRATOR}

# Seed 000, conference roles:
#   "Moderator is assigned by the owner or another moderator and has all the rights of the
#    owner, except the right to download video recordings and view analytics."
#   "Operator is the participant who is included in the special operator group created by
#    the administrator; this user receives moderator rights in every meeting"
#   "Speaker is any conference participant who can be seen and heard by other users" --
#    being on the podium controls nothing.
# The owner's control is seed 003's full control; the seed-003 limit "not able to ... change
# any conference's configuration" still binds a moderator below conference_creation, and
# the security administrator "cannot change any settings" whatever role it is given.
ROLE_CONTROL = {"moderator": "full", "operator": "full", "speaker": "none"}
ROLES = list(ROLE_CONTROL)


@dataclass(frozen=True)
class Need:
    """What an operation needs: a control level, and whether it is configuration."""

    level: str  # "limited" | "full" | "change_owner" | "nobody" | "owner_only"
    configuration: bool = False


LIMITED = Need("limited")
FULL = Need("full")
CONFIG = Need("full", configuration=True)  # seed 003 "Configuration access"
CHANGE_OWNER = Need("change_owner", configuration=True)
NOBODY = Need("nobody")


def conference_allowed(privilege: str, owns: bool, role: str | None, need: Need) -> bool:
    """Seeds 003 and 000, as above, for one conference operation."""
    if privilege == SECURITY:
        return False  # seed 000: read-only reports and recording, "cannot change any settings"
    if need.level == "nobody":
        return False
    if need.configuration and privilege not in CREATORS:
        return False  # seed 003: not able to "change any conference's configuration"
    if need.level == "change_owner":
        return privilege in OWNER_CHANGERS
    level = CONTROL[(privilege, owns)]
    if role is not None and RANK[ROLE_CONTROL[role]] > RANK[level]:
        level = ROLE_CONTROL[role]
    return RANK[level] >= RANK[need.level]


# ----------------------------------------------------------------------------------------
# Operations -> HTTP requests
# ----------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """One case's world: the fresh conference, the actor, a fresh victim user."""

    conference_id: int
    numeric_id: str
    actor: str
    owner: str | None
    victim: str
    serial: int
    layouts: list[str] = field(default_factory=list)
    camera_id: int = 0  # a stored camera of the conference (issue 12)


@dataclass(frozen=True)
class Req:
    method: str
    template: str  # the route's path template, for telling "not built" apart
    path: str
    body: Any = None
    params: dict[str, str] | None = None
    has_body: bool = False


def conf_req(method: str, tail: str, body: Any = None, has_body: bool = False,
             params: dict[str, str] | None = None) -> Callable[[Ctx], Req]:
    def build(c: Ctx) -> Req:
        path = f"/api/v1/conferences/{c.conference_id}{tail}"
        template = "/api/v1/conferences/{conference_id}" + tail.replace("/p1", "/{pid}").replace(
            "/p2", "/{pid}"
        )
        value = body(c) if callable(body) else body
        return Req(method, template, path, value, params, has_body or body is not None)

    return build


def camera_req(method: str) -> Callable[[Ctx], Req]:
    """DELETE the case's stored camera."""
    def build(c: Ctx) -> Req:
        path = f"/api/v1/conferences/{c.conference_id}/cameras/{c.camera_id}"
        return Req(method, "/api/v1/conferences/{conference_id}/cameras/{camera_id}", path)

    return build


CAMERA_BODY = {"name": "Door", "url": "rtsp://192.0.2.9/cam", "username": "u",
               "password": "p", "transport": "auto"}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


FUTURE = datetime(2031, 5, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ConfOp:
    name: str
    need: Need
    build: Callable[[Ctx], Req]
    ok: int
    seed: str  # the words the need is written from


CONFERENCE_OPS: list[ConfOp] = [
    # Seed 003, limited control.
    ConfOp("view_conference", LIMITED, conf_req("GET", ""), 200,
           "limited: the conference and its participant list can be viewed"),
    ConfOp("view_participants", LIMITED, conf_req("GET", "/participants"), 200,
           "limited: 'Viewing the participant list'"),
    ConfOp("view_statistics", LIMITED, conf_req("GET", "/participants/p1/statistics"), 200,
           "limited: 'Viewing participant statistics and diagnostics'"),
    ConfOp("view_roles", LIMITED, conf_req("GET", "/roles"), 200,
           "limited: who is in the conference, as the participant list"),
    ConfOp("mute", LIMITED, conf_req("POST", "/participants/p1/mute", {"muted": True}), 204,
           "limited: 'mute (or stop muting) individual endpoints' audio'"),
    ConfOp("important", LIMITED,
           conf_req("POST", "/participants/p1/important", {"important": True}), 204,
           "limited: 'change the conference's \"important\" participant'"),
    ConfOp("participant_layout", LIMITED,
           conf_req("POST", "/participants/p1/layout", lambda c: {"layout": c.layouts[0]}), 204,
           "limited: 'choose what view layout (or family) is used ... sent to a participant'"),
    ConfOp("participant_custom_layout", LIMITED,
           conf_req("POST", "/participants/p1/panes", {"panes": ["p2", None]}), 204,
           "limited: 'changing the Participant custom layout'"),
    ConfOp("participant_video_format", LIMITED,
           conf_req("POST", "/participants/p1/video_format", {"format": "standard"}), 204,
           "limited: 'whether to send widescreen or standard format video to that endpoint'"),
    ConfOp("message_participant", LIMITED,
           conf_req("POST", "/participants/p1/message", {"text": "hello"}), 204,
           "limited: 'Textual messages can be sent to an individual participant'"),
    ConfOp("participant_layout_control", LIMITED,
           conf_req("PATCH", "", {"participant_layout_control": False}), 200,
           "limited: 'enable or disable the participants' ability to affect their own "
           "layouts via Far-End Camera Control or DTMF tones'"),
    # Seed 003, full control: participant control.
    ConfOp("admit", FULL, conf_req("POST", "/participants/p2/admit", has_body=False), 204,
           "full: 'connect new participants to the conference' (a PIN-lobby caller)"),
    ConfOp("disconnect", FULL, conf_req("DELETE", "/participants/p1"), 204,
           "full: 'disconnect participants'"),
    ConfOp("dial_out", FULL,
           conf_req("POST", "/participants", {"address": "sip:carol@192.0.2.7"}), 201,
           "full: 'connect new participants to the conference'"),
    # Issue 12: an IP camera is a participant.
    ConfOp("view_cameras", LIMITED, conf_req("GET", "/cameras"), 200,
           "limited: 'Viewing the participant list' (cameras are participants)"),
    ConfOp("add_camera", FULL, conf_req("POST", "/cameras", CAMERA_BODY), 201,
           "full: 'connect new participants to the conference' (an IP camera)"),
    ConfOp("remove_camera", FULL, camera_req("DELETE"), 204,
           "full: 'disconnect participants' (an IP camera)"),
    ConfOp("end", FULL, conf_req("POST", "/end"), 204,
           "full: 'end the conference whenever they want to'"),
    # Seed 003, full control: changing live conference parameters.
    ConfOp("message_all", FULL, conf_req("POST", "/messages", {"text": "to all"}), 204,
           "full: 'send a text message to all connected participants' video displays'"),
    ConfOp("conference_layout", FULL,
           conf_req("PATCH", "", lambda c: {"layout": c.layouts[-1]}), 200,
           "full: 'change the Conference custom layout'"),
    # Seed 000: "Moderator is assigned by the owner or another moderator".
    ConfOp("appoint_moderator", FULL,
           conf_req("POST", "/roles", {"username": SPARE, "role": "moderator"}), 201,
           "seed 000: the owner (or a moderator) appoints moderators"),
    ConfOp("remove_role", FULL,
           conf_req("DELETE", "/roles", params={"username": SPARE, "role": "speaker"}), 204,
           "seed 000: roles are the owner's (or a moderator's) to give and take"),
    # Seed 003, full control: configuration access.
    ConfOp("view_configuration", CONFIG, conf_req("GET", ""), 200,
           "full: 'can view and modify any aspect of the conference's configuration'"),
    ConfOp("configure_name", CONFIG, conf_req("PATCH", "", lambda c: {"name": f"R{c.serial}"}),
           200, "full: 'modify any aspect of the conference's configuration'"),
    ConfOp("configure_schedule", CONFIG,
           conf_req("PATCH", "", {"start_time": _iso(FUTURE), "duration_seconds": 1800}), 200,
           "full: 'the start time, end time'"),
    ConfOp("configure_repetition", CONFIG,
           conf_req("PATCH", "", {"repetition": "weekly", "repeat_count": 3}), 200,
           "full: 'or repetition characteristics'"),
    ConfOp("configure_streaming", CONFIG, conf_req("PATCH", "", {"streaming": True}), 200,
           "full: 'whether streaming is enabled'"),
    ConfOp("configure_participants", CONFIG,
           conf_req("PATCH", "", {"participants": [{"address": "sip:dave@192.0.2.8"}]}), 200,
           "full: 'which endpoints are pre-configured as participants'"),
    ConfOp("configure_pin", CONFIG, conf_req("PATCH", "", {"pin": "9999"}), 200,
           "full: configuration (the PINs)"),
    ConfOp("configure_encryption", CONFIG, conf_req("PATCH", "", {"encryption": "off"}), 200,
           "full: 'any aspect of the conference's configuration'"),
    ConfOp("configure_max_participants", CONFIG,
           conf_req("PATCH", "", {"max_participants": 12}), 200,
           "full: 'any aspect of the conference's configuration'"),
    ConfOp("delete_conference", CONFIG, conf_req("DELETE", ""), 204,
           "full: the scheduled conference's configuration, removed"),
    # Seed 003, "Changing the owner of a conference".
    ConfOp("change_owner", CHANGE_OWNER, conf_req("PATCH", "", {"owner": SPARE}), 200,
           "only administrator / conference creation and full control change the owner"),
    ConfOp("change_owner_to_none", CHANGE_OWNER, conf_req("PATCH", "", {"owner": None}), 200,
           "'... or to \"none\"'"),
    ConfOp("change_owner_to_non_creator", NOBODY,
           conf_req("PATCH", "", {"owner": NON_CREATOR}), 200,
           "'changed to either a user with conference creation rights or to \"none\"'"),
]

# Seed 003's limited control names these too; the API has no route for them yet, and seed
# 000's owner-only rights (recordings, analytics) have none either: reported, not tested.
UNROUTED = [
    "camera_control",  # "send control commands (e.g. pan and tilt)"
    "view_audio_status / set_audio_gain",  # "Waveforms ... audio gain applied"
    "download_recordings / view_analytics",  # seed 000: the owner's, not a moderator's
]

def known_bug(privilege: str, owns: bool, role: str | None, op: str) -> str | None:
    """Where the code is known to disagree with the seed (an xfail reason); none now."""
    return None


# Server-wide operations: no conference, so no owner axis.
@dataclass(frozen=True)
class ServerOp:
    name: str
    allowed: Callable[[str], bool]
    build: Callable[[Ctx], Req]
    ok: int
    seed: str
    rule_contains: str | None = None


def _password_of(user: str) -> str:
    return ADMIN_PASSWORD if user == ROOT else PASSWORD


def user_req(method: str, who: Callable[[Ctx], str] | None, body: Any = None) -> Callable[
    [Ctx], Req
]:
    def build(c: Ctx) -> Req:
        value = body(c) if callable(body) else body
        if who is None:
            return Req(method, "/api/v1/users", "/api/v1/users", value, None, value is not None)
        return Req(method, "/api/v1/users/{username}", f"/api/v1/users/{who(c)}", value, None,
                   value is not None)

    return build


def new_conf(owner: Any = "absent") -> Callable[[Ctx], Req]:
    def build(c: Ctx) -> Req:
        body: dict[str, Any] = {"name": f"New {c.serial}", "numeric_id": f"8{c.serial}"}
        if owner != "absent":
            body["owner"] = owner
        return Req("POST", "/api/v1/conferences", "/api/v1/conferences", body, None, True)

    return build


def _get(path: str) -> Callable[[Ctx], Req]:
    return lambda c: Req("GET", path, path)


def _me(c: Ctx) -> str:
    return c.actor


def _victim(c: Ctx) -> str:
    return c.victim


def _root(c: Ctx) -> str:
    return ROOT


SERVER_OPS: list[ServerOp] = [
    ServerOp("create_conference", lambda p: p in CREATORS, new_conf(), 201,
             "seed 003: 'able to create and own conferences'"),
    ServerOp("create_conference_for_other", lambda p: p in OWNER_CHANGERS, new_conf(SPARE), 201,
             "seed 003: 'when scheduling ... choose which owner is initially associated'"),
    ServerOp("create_conference_owner_none", lambda p: p in OWNER_CHANGERS, new_conf(None), 201,
             "seed 003: owner 'none'"),
    ServerOp("create_conference_for_non_creator", lambda p: False, new_conf(NON_CREATOR), 201,
             "seed 003: the owner is 'a user with conference creation rights or ... none'"),
    # Seed 003: "either the list of scheduled conferences will not be shown to the user, or
    # the list will be shown but conferences over which the user has no control will be
    # presented as names"; the seed-003 levels all see the list; the security admin reads
    # "reports and recording", not conferences.
    ServerOp("list_conferences", lambda p: p != SECURITY, _get("/api/v1/conferences"), 200,
             "seed 003 list shown (names or links); seed 000 security admin: reports only"),
    ServerOp("view_call_records", lambda p: p in RECORD_READERS, _get("/api/v1/cdr"), 200,
             "seed 000: admin full access; security admin 'read-only access to the reports'"),
    ServerOp("view_audit_log", lambda p: p in RECORD_READERS, _get("/api/v1/audit"), 200,
             "seed 000: admin full access; security admin 'read-only access to the reports'"),
    ServerOp("list_users", lambda p: p in USER_MANAGERS, user_req("GET", None), 200,
             "seed 002: the admin role manages internal users"),
    ServerOp("create_user", lambda p: p in USER_MANAGERS,
             user_req("POST", None, lambda c: {"username": f"made{c.serial}",
                                               "password": PASSWORD,
                                               "privilege": LIST_ONLY}), 201,
             "seed 002: 'Create new users'"),
    ServerOp("view_other_user", lambda p: p in USER_MANAGERS, user_req("GET", _victim), 200,
             "seed 002: accounts are the admin role's to manage"),
    ServerOp("view_own_user", lambda p: True, user_req("GET", _me), 200,
             "one's own account (to change one's own password)"),
    ServerOp("change_other_privilege", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _victim, {"privilege": DETAIL}), 200,
             "seed 002: the admin role manages users"),
    ServerOp("make_other_operator", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _victim, {"is_operator": True}), 200,
             "seed 000: 'the special operator group created by the administrator'"),
    ServerOp("raise_own_privilege", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _me, {"privilege": ADMINISTRATOR}), 200,
             "seed 002: only the admin role manages users -- nobody promotes themself"),
    ServerOp("make_self_operator", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _me, {"is_operator": True}), 200,
             "seed 000: the operator group is the administrator's"),
    # A password is a credential, not a "setting" of the server: everyone changes their own
    # (even the security administrator, who "cannot change any settings").
    ServerOp("change_own_password", lambda p: True,
             user_req("PATCH", _me, lambda c: {"password": _password_of(c.actor)}), 200,
             "one's own credential"),
    ServerOp("change_other_password", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _victim, {"password": "changed-by-test"}), 200,
             "seed 002: credentials 'can be modified from the Users & Permissions view'"),
    ServerOp("delete_other_user", lambda p: p in USER_MANAGERS, user_req("DELETE", _victim),
             204, "seed 002: 'Delete users: Remove internal users from the system'"),
    ServerOp("delete_root_admin", lambda p: False, user_req("DELETE", _root), 204,
             "seed 002: 'The root administrator (admin) cannot be deleted'",
             rule_contains="root-admin"),
    ServerOp("demote_root_admin", lambda p: False,
             user_req("PATCH", _root, {"privilege": LIST_ONLY}), 200,
             "seed 002: the root administrator 'has full control'", rule_contains="root-admin"),
    ServerOp("change_root_password", lambda p: p in USER_MANAGERS,
             user_req("PATCH", _root, {"password": ADMIN_PASSWORD}), 200,
             "seed 002: the root admin 'cannot be deleted, but its password can be changed'"),
]

# ----------------------------------------------------------------------------------------
# The world: one store and app per module, a fresh conference per case
# ----------------------------------------------------------------------------------------


def priv_user(privilege: str) -> str:
    """The actor of a privilege case: the root admin for administrator."""
    return ROOT if privilege == ADMINISTRATOR else privilege


def role_user(role: str, privilege: str) -> str:
    return f"{role}_{privilege}"


class MatrixLive(FakeLive):
    """FakeLive with a log per room, so a refused request can be shown to touch nothing."""

    def calls_for(self, numeric_id: str) -> list[tuple[str, ...]]:
        return [c for c in self.calls if len(c) > 1 and c[1] == numeric_id]


@dataclass
class World:
    store: Store
    live: MatrixLive
    client: httpx.AsyncClient
    app: Any
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = await self.client.post(
                "/api/v1/auth/token",
                json={"username": username, "password": _password_of(username)},
            )
            assert r.status_code == 200, r.text
            self.tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.tokens[username]

    def built(self, req: Req) -> bool:
        scope = {"type": "http", "path": req.path, "method": req.method}
        return any(route.matches(scope)[0] is Match.FULL for route in self.app.routes)

    async def send(self, username: str, req: Req) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": await self.headers(username)}
        if req.params:
            kwargs["params"] = req.params
        if req.has_body:
            kwargs["json"] = req.body
        return await self.client.request(req.method, req.path, **kwargs)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    with pytest.MonkeyPatch.context() as mp:
        # Real argon2 at its lowest cost, as the conftest fixture (which is per test).
        mp.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        # On tmpfs where there is one: a case is a dozen small transactions.
        shm = Path("/dev/shm")
        base = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path_factory.mktemp("m")
        path = base / "m.db"
        store = await open_store(f"sqlite+aiosqlite:///{path}", ADMIN_PASSWORD)
        try:
            for p in PRIVILEGES:
                if p != ADMINISTRATOR:
                    await store.create_user(p, PASSWORD, Privilege(p))
                for role in ROLES:
                    await store.create_user(
                        role_user(role, p), PASSWORD, Privilege(p), is_operator=role == "operator"
                    )
            await store.create_user(OTHER_OWNER, PASSWORD, Privilege(CC))
            await store.create_user(SPARE, PASSWORD, Privilege(CC))
            await store.create_user(NON_CREATOR, PASSWORD, Privilege(DETAIL))
            live = MatrixLive()
            app = create_app(store, live)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield World(store, live, c, app)
        finally:
            await store.close()
            shutil.rmtree(base, ignore_errors=True)


async def fresh_case(w: World, actor: str, owner: str | None, victim: bool = False) -> Ctx:
    """A conference owned by `owner`, running in the live MCU with a connected participant
    p1 and a PIN-lobby caller p2, SPARE as speaker; with `victim`, a user to change."""
    n = next(w.serial)
    start = datetime.now(UTC) - timedelta(minutes=10)
    record = await w.store.create_conference(
        f"Matrix {n}", str(n), pin="1234", owner=owner, start_time=start, duration_seconds=86400
    )
    await w.store.add_role(record.id, SPARE, "speaker")
    w.live.add(str(n), "p1", "Alice", "connected", "chair")
    w.live.add(str(n), "p2", "Bob", "lobby")
    camera = await w.store.create_camera(record.id, "Stored cam", "rtsp://192.0.2.10/s")
    name = f"victim{n}"
    if victim:
        await w.store.create_user(name, PASSWORD, Privilege(LIST_ONLY))
    return Ctx(record.id, str(n), actor, owner, name, n, list(available_layouts()), camera.id)


async def snapshot(w: World, c: Ctx, server: bool = False) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was, read narrowly (the store grows
    by a conference per case): the case's conference, its roles and preconfigured
    participants, its live room; for server-wide operations the users and conference it
    could have made or changed."""
    record = await w.store.get_conference(c.conference_id)
    roles = sorted(
        (r.username, str(r.role)) for r in await w.store.list_roles(conference_id=c.conference_id)
    )
    participants = await w.store.list_participants(c.conference_id)
    participants += await w.store.list_cameras(c.conference_id)  # type: ignore[arg-type]
    live = [call for call in w.live.calls if call[1:2] == (c.numeric_id,)]
    if not server:
        return record, roles, participants, live
    names = (c.actor, c.victim, ROOT, f"made{c.serial}")
    users = [await w.store.get_user(u) for u in names]
    created = await w.store.get_conference_by_numeric_id(f"8{c.serial}")
    return record, roles, participants, live, users, created


def assert_refused(r: httpx.Response, case: str, rule_contains: str | None = None) -> None:
    assert r.status_code == 403, f"{case}: expected 403, got {r.status_code} {r.text}"
    if r.request.url.path.startswith("/api/"):
        body = r.json()
        assert isinstance(body.get("rule"), str) and body["rule"], f"{case}: no rule in {body}"
        if rule_contains is not None:
            assert rule_contains in body["rule"], f"{case}: rule {body['rule']!r}"


def assert_allowed(r: httpx.Response, ok: int, case: str) -> None:
    assert r.status_code not in (401, 403), f"{case}: refused {r.status_code} {r.text}"
    assert r.status_code == ok, f"{case}: expected {ok}, got {r.status_code} {r.text}"


# ----------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------


def _conference_cases() -> list[Any]:
    cases = []
    subjects: list[tuple[str, str | None, bool | None]] = []
    for p in PRIVILEGES:
        subjects.append((p, None, True))
        subjects.append((p, None, False))
    for role in ROLES:
        for p in PRIVILEGES:
            subjects.append((p, role, False))
    for p, role, owns in subjects:
        for op in CONFERENCE_OPS:
            axis = ("owner" if owns else "other") if role is None else role
            expected = conference_allowed(p, bool(owns), role, op.need)
            marks = []
            bug = known_bug(p, bool(owns), role, op.name)
            if bug is not None:
                marks.append(pytest.mark.xfail(strict=True, reason=bug))
            cases.append(
                pytest.param(p, role, bool(owns), op, expected, id=f"{p}-{axis}-{op.name}",
                             marks=marks)
            )
    return cases


@pytest.mark.parametrize(("privilege", "role", "owns", "op", "expected"), _conference_cases())
async def test_conference_operation(
    world: World, privilege: str, role: str | None, owns: bool, op: ConfOp, expected: bool
) -> None:
    w = world
    actor = priv_user(privilege) if role is None else role_user(role, privilege)
    owner = actor if owns else OTHER_OWNER
    c = await fresh_case(w, actor, owner)
    req = op.build(c)
    if not w.built(req):
        pytest.skip(f"route {req.method} {req.template} not built")
    if role in ("moderator", "speaker"):
        # Seed 000: "Moderator is assigned by the owner" -- so the owner does it, over HTTP.
        r = await w.send(OTHER_OWNER, conf_req(
            "POST", "/roles", {"username": actor, "role": role})(c))
        assert r.status_code == 201, f"owner appointing {actor} {role}: {r.status_code} {r.text}"
    case = f"{actor} ({privilege}, {'owner' if owns else role or 'not owner'}) {op.name}"
    before = None if expected else await snapshot(w, c)
    r = await w.send(actor, req)
    if op.name == "view_configuration":
        # GET answers whoever may view; the configuration and PINs only with full control.
        viewer = conference_allowed(privilege, owns, role, LIMITED)
        if not viewer:
            assert_refused(r, case)
            return
        assert_allowed(r, 200, case)
        shown = r.json()
        assert ("encryption" in shown) is expected, f"{case}: configuration shown? {shown}"
        assert (shown.get("pin") == "1234") is expected, f"{case}: PIN in clear? {shown}"
        return
    if expected:
        assert_allowed(r, op.ok, case)
    else:
        rule = "owner" if op.need.level == "change_owner" else None
        assert_refused(r, case, rule)
        assert await snapshot(w, c) == before, f"{case}: a refused request changed something"


def _server_cases() -> list[Any]:
    return [
        pytest.param(p, op, op.allowed(p), id=f"{p}-server-{op.name}")
        for p in PRIVILEGES
        for op in SERVER_OPS
    ]


@pytest.mark.parametrize(("privilege", "op", "expected"), _server_cases())
async def test_server_operation(world: World, privilege: str, op: ServerOp, expected: bool) -> None:
    w = world
    actor = priv_user(privilege)
    c = await fresh_case(w, actor, OTHER_OWNER, victim=True)
    req = op.build(c)
    if not w.built(req):
        pytest.skip(f"route {req.method} {req.template} not built")
    case = f"{actor} ({privilege}) {op.name}"
    before = None if expected else await snapshot(w, c, server=True)
    try:
        r = await w.send(actor, req)
    finally:
        # A wrongly allowed self-promotion must not leak into later cases.
        if actor != ROOT:
            await w.store.update_user(actor, privilege=Privilege(privilege), is_operator=False)
    if expected:
        assert_allowed(r, op.ok, case)
    else:
        assert_refused(r, case, op.rule_contains)
        after = await snapshot(w, c, server=True)
        assert after == before, f"{case}: a refused request changed something"


# Seed 003, no control: "the list will be shown but conferences over which the user has no
# control will be presented as names rather than hyperlinks".
def _listing_cases() -> list[Any]:
    out = []
    for p in PRIVILEGES:
        if p == SECURITY:
            continue  # no list at all (test_server_operation: list_conferences)
        for owns in (True, False):
            out.append(pytest.param(p, None, owns, id=f"{p}-{'owner' if owns else 'other'}"))
        for role in ROLES:
            out.append(pytest.param(p, role, False, id=f"{p}-{role}"))
    return out


@pytest.mark.parametrize(("privilege", "role", "owns"), _listing_cases())
async def test_listing_names_or_links(
    world: World, privilege: str, role: str | None, owns: bool
) -> None:
    w = world
    actor = priv_user(privilege) if role is None else role_user(role, privilege)
    c = await fresh_case(w, actor, actor if owns else OTHER_OWNER)
    if role in ("moderator", "speaker"):
        r = await w.send(OTHER_OWNER, conf_req(
            "POST", "/roles", {"username": actor, "role": role})(c))
        assert r.status_code == 201, r.text
    r = await w.send(actor, Req("GET", "/api/v1/conferences", "/api/v1/conferences"))
    assert r.status_code == 200, r.text
    mine = [e for e in r.json() if e.get("name") == f"Matrix {c.serial}"]
    assert len(mine) == 1, mine
    controls = conference_allowed(privilege, owns, role, LIMITED)
    if controls:
        assert mine[0]["listing"] == "link" and mine[0]["id"] == c.conference_id, mine
    else:
        assert mine[0] == {"listing": "name_only", "name": f"Matrix {c.serial}"}, mine


# Seed 003: "the MCU will not show thumbnail previews on the participant list page if
# encryption is required for a conference" -- whoever has the control to see them.
@pytest.mark.parametrize("policy", ["required", "optional"])
async def test_thumbnail_follows_encryption(world: World, policy: str) -> None:
    w = world
    c = await fresh_case(w, ROOT, ROOT)
    await w.store.update_conference(c.conference_id, encryption=policy)
    path = f"/conferences/{c.conference_id}/participants/p1/thumbnail.jpg"
    r = await w.send(ROOT, Req("GET", path, path))
    if policy == "required":
        assert r.status_code == 404, r.status_code
    else:
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"


# Seed 003, limited control: "a thumbnail preview image of the video stream"; the thumbnail
# is served by the pages (bearer tokens accepted), every privilege x owner / other.
@pytest.mark.parametrize(
    ("privilege", "owns"),
    [pytest.param(p, o, id=f"{p}-{'owner' if o else 'other'}") for p in PRIVILEGES
     for o in (True, False)],
)
async def test_thumbnail_by_privilege(world: World, privilege: str, owns: bool) -> None:
    w = world
    actor = priv_user(privilege)
    c = await fresh_case(w, actor, actor if owns else OTHER_OWNER)
    path = f"/conferences/{c.conference_id}/participants/p1/thumbnail.jpg"
    r = await w.send(actor, Req("GET", path, path))
    if conference_allowed(privilege, owns, None, LIMITED):
        assert r.status_code == 200, f"{actor}: {r.status_code}"
    else:
        assert r.status_code == 403, f"{actor}: {r.status_code}"


async def test_unrouted_operations_are_named() -> None:
    """The seed operations no route serves yet: listed so the report can name them."""
    print("operations without an HTTP route (not tested here):", ", ".join(UNROUTED))
    assert UNROUTED
