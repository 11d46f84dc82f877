"""Live conference control through the HTTP API, against a real SQLite store and a fake
live MCU: dial-out, messages, a participant's layout, the important participant, and
ending the conference — each with its 401/403/404/409/422 (and 503), and audit rows.

Expectations from seed 003: full control "connect[s] new participants", ends the
conference, sends "a text message to all"; limited control sets participant layouts,
the important participant and "messages to individual participants".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.leg import Refuse, RefuseCause
from gateway.rtp.ports import PortsExhausted
from mcu.live import DialOutRefused
from mcu.store import ConferenceRecord, Store
from tests.control.conftest import CREATOR, ROOM, token_for
from tests.control.fakes import FakeLive

FULL_CONTROL = "conference_creation_full_control"
LIMITED = "conference_creation_limited_control"
NOT_OWNER = "no-control: not owner of the conference"
LIMITED_NOT_OWNER = "limited-control: not owner of the conference"
LIST_ONLY = "no-control: conference_list_only cannot own conferences"
SECURITY = "security-admin: read-only"

# Who may do a full-control operation on the CREATOR's conference, and who may not.
FULL_OP_CASES = [
    ("admin", None),
    (FULL_CONTROL, None),
    (CREATOR, None),
    (LIMITED, LIMITED_NOT_OWNER),
    ("other_creator", NOT_OWNER),
    ("conference_list_only", LIST_ONLY),
    ("security_administrator", SECURITY),
]
# ...and a limited-control one.
LIMITED_OP_CASES = [
    ("admin", None),
    (CREATOR, None),
    (LIMITED, None),
    ("other_creator", NOT_OWNER),
    ("conference_list_only", LIST_ONLY),
    ("security_administrator", SECURITY),
]


def url(conference: ConferenceRecord, tail: str) -> str:
    return f"/api/v1/conferences/{conference.id}{tail}"


def view(live: FakeLive, pid: str) -> Any:
    return {p.id: p for p in live.participants(ROOM)}[pid]


async def audit_rows(store: Store, actor: str, n: int = 1) -> list[tuple[str, str | None, str]]:
    return [(a.operation, a.target, a.outcome) for a in (await store.list_audit(actor=actor))[:n]]


# Dial-out ---------------------------------------------------------------------


@pytest.mark.parametrize(("username", "rule"), FULL_OP_CASES)
async def test_dial_out(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    rule: str | None,
) -> None:
    body = {"address": "sip:room@example.com", "display_name": "Room"}
    r = await client.post(
        url(conference, "/participants"), json=body, headers=await token_for(client, username)
    )
    if rule is None:
        assert (r.status_code, r.json()) == (201, {"id": "d1"})
        assert live.calls == [("dial", ROOM, "sip:room@example.com", "Room")]
        assert view(live, "d1").display_name == "Room"
        assert await audit_rows(store, username) == [
            (
                "dial_out",
                f"conference:{conference.id} participant:d1",
                "dialled sip:room@example.com",
            )
        ]
    else:
        assert (r.status_code, r.json()) == (403, {"detail": "forbidden", "rule": rule})
        assert live.calls == []
        assert await audit_rows(store, username) == [
            ("dial_out", f"conference:{conference.id}", f"denied: {rule}")
        ]


@pytest.mark.parametrize(
    ("error", "status", "detail", "outcome"),
    [
        (
            DialOutRefused(Refuse(RefuseCause.CLOSED_NOW,
                                  "Temporarily Unavailable (outside the schedule)")),
            409,
            "Temporarily Unavailable (outside the schedule)",
            "refused: Temporarily Unavailable (outside the schedule)",
        ),
        (DialOutRefused(Refuse(RefuseCause.BUSY, "Busy Here (full)")), 409, "Busy Here (full)",
         None),
        (
            ValueError("cannot resolve host"),
            422,
            "cannot resolve host",
            "failed: undiallable address",
        ),
        (PortsExhausted(), 503, "no media ports left; try again later", "failed: no media ports"),
    ],
)
async def test_dial_out_failures(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    error: Exception,
    status: int,
    detail: str,
    outcome: str | None,
) -> None:
    live.dial_error = error
    r = await client.post(
        url(conference, "/participants"),
        json={"address": "sip:room@example.com"},
        headers=await token_for(client, CREATOR),
    )
    assert r.status_code == status
    assert r.json()["detail"] == detail
    if status == 422:
        assert r.json()["field"] == "address"
    if outcome is not None:
        assert await audit_rows(store, CREATOR) == [
            ("dial_out", f"conference:{conference.id}", outcome)
        ]
    assert [p.id for p in live.participants(ROOM)] == ["p1", "p2"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "address"),
        ({"address": "bob"}, "address"),
        ({"address": "sip:"}, "address"),
        ({"address": "sip:a b@x"}, "address"),
        ({"address": 5}, "address"),
        ({"address": "sip:a@x", "display_name": ""}, "display_name"),
        ({"address": "sip:a@x", "via": "h323"}, "via"),
    ],
)
async def test_dial_out_422(
    client: httpx.AsyncClient,
    live: FakeLive,
    conference: ConferenceRecord,
    body: dict[str, Any],
    field: str,
) -> None:
    r = await client.post(
        url(conference, "/participants"), json=body, headers=await token_for(client, "admin")
    )
    assert (r.status_code, r.json()["field"]) == (422, field)
    assert live.calls == []
    # Who may not dial out gets 403 whatever the body.
    r = await client.post(
        url(conference, "/participants"), json=body, headers=await token_for(client, LIMITED)
    )
    assert r.status_code == 403


# Messages ---------------------------------------------------------------------


@pytest.mark.parametrize(("username", "rule"), FULL_OP_CASES)
async def test_message_all(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    r = await client.post(
        url(conference, "/messages"), json={"text": "Starting now"}, headers=headers
    )
    ref = f"conference:{conference.id}"
    if rule is None:
        assert r.status_code == 204
        assert live.messages[ROOM] == "Starting now"
        assert live.calls == [("message", ROOM, "None", "Starting now")]
        assert await audit_rows(store, username) == [("message_all", ref, "sent (12 characters)")]
        r = await client.post(url(conference, "/messages"), json={"text": ""}, headers=headers)
        assert r.status_code == 204 and live.messages[ROOM] is None
        assert await audit_rows(store, username) == [("message_all", ref, "cleared")]
    else:
        assert (r.status_code, r.json()["rule"]) == (403, rule)
        assert live.calls == [] and ROOM not in live.messages


async def test_message_all_errors(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, CREATOR)
    for body, field in [
        ({}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": "hi", "to": "p1"}, "to"),
    ]:
        r = await client.post(url(conference, "/messages"), json=body, headers=headers)
        assert (r.status_code, r.json()["field"]) == (422, field)
    assert live.calls == []
    # Not running (no room in the live MCU): 409.
    idle = await store.create_conference("Idle", "8800", owner=CREATOR)
    r = await client.post(url(idle, "/messages"), json={"text": "hello"}, headers=headers)
    assert (r.status_code, r.json()["detail"]) == (409, "conference is not running")
    assert await audit_rows(store, CREATOR) == [
        ("message_all", f"conference:{idle.id}", "not_running")
    ]
    # The text itself is never in the audit.
    assert all("hello" not in a.outcome for a in await store.list_audit())


@pytest.mark.parametrize(("username", "rule"), LIMITED_OP_CASES)
async def test_message_participant(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    target = url(conference, "/participants/p1/message")
    r = await client.post(target, json={"text": "You are on mute"}, headers=headers)
    if rule is None:
        assert r.status_code == 204
        assert view(live, "p1").message == "You are on mute"
        assert await audit_rows(store, username) == [
            (
                "message_participant",
                f"conference:{conference.id} participant:p1",
                "sent (15 characters)",
            )
        ]
        r = await client.post(
            url(conference, "/participants/zz/message"), json={"text": "x"}, headers=headers
        )
        assert (r.status_code, r.json()["detail"]) == (404, "participant not found")
        r = await client.post(target, json={"text": None}, headers=headers)
        assert (r.status_code, r.json()["field"]) == (422, "text")
    else:
        assert (r.status_code, r.json()["rule"]) == (403, rule)
        assert view(live, "p1").message is None and live.calls == []


# A participant's own layout -----------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize(("username", "rule"), LIMITED_OP_CASES)
async def test_participant_layout(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    method: str,
    username: str,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    target = url(conference, "/participants/p1/layout")
    r = await client.request(method, target, json={"layout": "equal-2x2"}, headers=headers)
    if rule is None:
        assert r.status_code == 204, r.text
        assert view(live, "p1").layout == "equal-2x2"
        ref = f"conference:{conference.id} participant:p1"
        assert await audit_rows(store, username) == [
            ("participant_layout", ref, "layout equal-2x2")
        ]
        r = await client.request(method, target, json={"layout": None}, headers=headers)
        assert r.status_code == 204 and view(live, "p1").layout is None
        assert await audit_rows(store, username) == [
            ("participant_layout", ref, "conference layout")
        ]
    else:
        assert (r.status_code, r.json()["rule"]) == (403, rule)
        assert view(live, "p1").layout is None and live.calls == []


async def test_participant_layout_errors(
    client: httpx.AsyncClient,
    live: FakeLive,
    conference: ConferenceRecord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = await token_for(client, LIMITED)
    target = url(conference, "/participants/p1/layout")
    for body in ({"layout": "2x2"}, {"layout": 3}, {}, {"layout": ""}):
        r = await client.put(target, json=body, headers=headers)
        assert (r.status_code, r.json()["field"]) == (422, "layout")
    r = await client.put(
        url(conference, "/participants/zz/layout"), json={"layout": "equal-1x1"}, headers=headers
    )
    assert r.status_code == 404

    # The live MCU's own ValueError (a layout it does not know) is a 422 too.
    def refuse(numeric_id: str, participant_id: str, layout: str | None) -> bool:
        raise ValueError(f"unknown layout {layout!r}")

    monkeypatch.setattr(live, "set_layout", refuse)
    r = await client.post(target, json={"layout": "equal-1x1"}, headers=headers)
    assert (r.status_code, r.json()["field"]) == (422, "layout")


# The important participant ------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize(("username", "rule"), LIMITED_OP_CASES)
async def test_important_participant(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    method: str,
    username: str,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    r = await client.request(
        method,
        url(conference, "/participants/p1/important"),
        json={"important": True},
        headers=headers,
    )
    if rule is None:
        assert r.status_code == 204
        assert view(live, "p1").important is True
        ref = f"conference:{conference.id} participant:p1"
        assert await audit_rows(store, username) == [
            ("set_important_participant", ref, "important")
        ]
        # One important participant: making p2 important unmakes p1.
        r = await client.request(
            method,
            url(conference, "/participants/p2/important"),
            json={"important": True},
            headers=headers,
        )
        assert r.status_code == 204
        assert (view(live, "p1").important, view(live, "p2").important) == (False, True)
        r = await client.request(
            method,
            url(conference, "/participants/p2/important"),
            json={"important": False},
            headers=headers,
        )
        assert r.status_code == 204 and not view(live, "p2").important
    else:
        assert (r.status_code, r.json()["rule"]) == (403, rule)
        assert not view(live, "p1").important and live.calls == []


async def test_important_errors(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, CREATOR)
    target = url(conference, "/participants/p1/important")
    for body in ({"important": "yes"}, {"important": 1}, {}):
        r = await client.put(target, json=body, headers=headers)
        assert (r.status_code, r.json()["field"]) == (422, "important")
    r = await client.put(
        url(conference, "/participants/zz/important"), json={"important": True}, headers=headers
    )
    assert (r.status_code, r.json()["detail"]) == (404, "participant not found")
    assert (await audit_rows(store, CREATOR))[0][2] == "not_found"


# Ending the conference ----------------------------------------------------------


@pytest.mark.parametrize(("username", "rule"), FULL_OP_CASES)
async def test_end_conference(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    username: str,
    rule: str | None,
) -> None:
    headers = await token_for(client, username)
    r = await client.post(url(conference, "/end"), headers=headers)
    ref = f"conference:{conference.id}"
    if rule is None:
        assert r.status_code == 204
        assert live.participants(ROOM) == []
        assert await audit_rows(store, username) == [("end_conference", ref, "ended")]
        # Not running any more: 409, and the stored conference is still there.
        r = await client.post(url(conference, "/end"), headers=headers)
        assert (r.status_code, r.json()["detail"]) == (409, "conference is not running")
        assert await audit_rows(store, username) == [("end_conference", ref, "not_running")]
        assert await store.get_conference(conference.id) is not None
    else:
        assert (r.status_code, r.json()["rule"]) == (403, rule)
        assert len(live.participants(ROOM)) == 2 and live.calls == []


# Every new route: 401 first, then 404 for an unknown conference ------------------

ROUTES = [
    ("POST", "/participants", {"address": "sip:a@x"}),
    ("POST", "/messages", {"text": "hi"}),
    ("POST", "/participants/p1/message", {"text": "hi"}),
    ("PUT", "/participants/p1/layout", {"layout": None}),
    ("POST", "/participants/p1/layout", {"layout": None}),
    ("PUT", "/participants/p1/important", {"important": True}),
    ("POST", "/participants/p1/important", {"important": True}),
    ("POST", "/end", None),
]


@pytest.mark.parametrize(("method", "tail", "body"), ROUTES)
async def test_401_then_404_then_403(
    client: httpx.AsyncClient,
    live: FakeLive,
    conference: ConferenceRecord,
    method: str,
    tail: str,
    body: dict[str, Any] | None,
) -> None:
    missing = f"/api/v1/conferences/999999{tail}"
    r = await client.request(method, missing, json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = await client.request(method, url(conference, tail), json=body)
    assert r.status_code == 401
    stranger = await token_for(client, "other_creator")
    r = await client.request(method, missing, json=body, headers=stranger)
    assert (r.status_code, r.json()) == (404, {"detail": "conference not found"})
    r = await client.request(method, url(conference, tail), json=body, headers=stranger)
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    assert live.calls == []


async def test_session_cookie_needs_csrf_for_live_control(
    client: httpx.AsyncClient, live: FakeLive, conference: ConferenceRecord
) -> None:
    from tests.control.conftest import ADMIN_PASSWORD
    from tests.control.test_pages import login

    csrf = await login(client, "admin", ADMIN_PASSWORD)
    target = url(conference, "/messages")
    r = await client.post(target, json={"text": "hi"})
    assert (r.status_code, r.json()["detail"]) == (403, "CSRF token missing or wrong")
    r = await client.post(target, json={"text": "hi"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204 and live.messages[ROOM] == "hi"


async def test_openapi_lists_the_live_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    paths = spec["paths"]
    prefix = "/api/v1/conferences/{conference_id}"
    assert {"post"} <= set(paths[f"{prefix}/participants"])
    assert {"put", "post"} <= set(paths[f"{prefix}/participants/{{participant_id}}/layout"])
    assert {"put", "post"} <= set(paths[f"{prefix}/participants/{{participant_id}}/important"])
    assert "post" in paths[f"{prefix}/participants/{{participant_id}}/message"]
    assert "post" in paths[f"{prefix}/messages"] and "post" in paths[f"{prefix}/end"]
    assert "503" in paths[f"{prefix}/participants"]["post"]["responses"]


async def test_participant_video_format(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, LIMITED)  # seed 003: limited control may
    target = url(conference, "/participants/p1/video_format")
    r = await client.post(target, json={"format": "standard"}, headers=headers)
    assert r.status_code == 204, r.text
    assert view(live, "p1").video_format == "standard"
    ref = f"conference:{conference.id} participant:p1"
    assert await audit_rows(store, LIMITED) == [
        ("participant_video_format", ref, "standard video")]
    for body in ({"format": "square"}, {}, {"format": None}):
        r = await client.post(target, json=body, headers=headers)
        assert (r.status_code, r.json()["field"]) == (422, "format")
    r = await client.post(url(conference, "/participants/zz/video_format"),
                          json={"format": "widescreen"}, headers=headers)
    assert r.status_code == 404


async def test_participant_custom_layout(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, LIMITED)  # seed 003: limited control may
    target = url(conference, "/participants/p1/panes")
    r = await client.post(target, json={"panes": ["p2", None]}, headers=headers)
    assert r.status_code == 204, r.text
    assert live.calls[-1] == ("panes", conference.numeric_id, "p1", "['p2', None]")
    ref = f"conference:{conference.id} participant:p1"
    assert await audit_rows(store, LIMITED) == [
        ("participant_custom_layout", ref, "custom layout of 2 cells")]
    r = await client.post(target, json={"panes": []}, headers=headers)
    assert r.status_code == 204 and live.calls[-1][-1] == "None"
    for body in ({"panes": "p2"}, {"panes": [3]}, {"panes": ["x"] * 17}, {}):
        r = await client.post(target, json=body, headers=headers)
        assert r.status_code == 422 and r.json()["field"].startswith("panes"), body
    r = await client.post(url(conference, "/participants/zz/panes"), json={"panes": []},
                          headers=headers)
    assert r.status_code == 404


async def test_participant_statistics(
    client: httpx.AsyncClient, live: FakeLive, conference: ConferenceRecord
) -> None:
    headers = await token_for(client, LIMITED)  # seed 003: limited control may
    r = await client.get(url(conference, "/participants/p1/statistics"), headers=headers)
    assert r.status_code == 200 and r.json()["audio"]["codec"] == "PCMU"
    r = await client.get(url(conference, "/participants/zz/statistics"), headers=headers)
    assert r.status_code == 404
