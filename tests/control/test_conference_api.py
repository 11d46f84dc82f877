"""Conference configuration and roles through the HTTP API, against a real SQLite store:
every field group asks its own operation, owner changes follow seed 003, PINs are shown
in clear only to full control, nothing is half-saved, every change leaves an audit row.

Expectations are written from the seeds: seed 003 gives administrator and
conference_creation_full_control full control of every conference, the owner full
control of theirs, conference_creation_limited_control limited control of others',
conference_creation none of others'; below conference_creation nobody configures or
owns. Seed 000: the owner or a moderator appoints moderators, who get the owner's
control; speakers control nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mcu.store import ConferenceRecord, ParticipantRecord, RoleName, Store
from tests.control.conftest import CREATOR, token_for
from tests.control.fakes import FakeLive

FULL_CONTROL = "conference_creation_full_control"
LIMITED = "conference_creation_limited_control"
NOT_OWNER = "no-control: not owner of the conference"
LIMITED_NOT_OWNER = "limited-control: not owner of the conference"
BELOW_CREATION = "below-conference-creation: cannot own or configure"
CHANGE_OWNER_ONLY = "change-owner: administrator or conference_creation_full_control only"
OWNER_CANNOT_CREATE = "change-owner: new owner cannot create conferences"
CONFIG_KEYS = {
    "start_time",
    "duration_seconds",
    "repetition",
    "repeat_count",
    "repeat_until",
    "max_participants",
    "encryption",
    "streaming",
    "layout",
    "end_when_chair_leaves",
    "guests_send_audio",
    "guests_send_video",
    "participant_layout_control",
    "participants",
}


def url(conference: ConferenceRecord, tail: str = "") -> str:
    return f"/api/v1/conferences/{conference.id}{tail}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def last_audit(store: Store, actor: str, n: int = 1) -> list[tuple[str, str | None, str]]:
    return [(a.operation, a.target, a.outcome) for a in (await store.list_audit(actor=actor))[:n]]


# Create with the whole configuration ----------------------------------------------


async def test_create_with_every_field(
    client: httpx.AsyncClient, store: Store, live: FakeLive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    body: dict[str, Any] = {
        "name": "Weekly board",
        "numeric_id": "7300",
        "pin": "2468",
        "guest_pin": "1357",
        "start_time": "2031-03-03T10:00:00+01:00",  # the same instant as `start`
        "duration_seconds": 5400,
        "repetition": "weekly",
        "repeat_until": "2031-12-31T23:59:59Z",
        "max_participants": 12,
        "encryption": "required",
        "streaming": True,
        "layout": "equal-2x2",
        "end_when_chair_leaves": True,
        "guests_send_audio": False,
        "guests_send_video": False,
        "participant_layout_control": False,
        "participants": [
            {"address": "sip:room@example.com", "display_name": "Room"},
            {"address": "sips:bob@example.com"},
        ],
    }
    r = await client.post(
        "/api/v1/conferences", json=body, headers=await token_for(client, CREATOR)
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert CONFIG_KEYS <= set(out)
    assert out["owner"] == CREATOR and out["active"] is False  # 2031 is yet to come
    assert parse(out["start_time"]) == start
    assert parse(out["repeat_until"]) == datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert (out["repetition"], out["encryption"], out["layout"]) == (
        "weekly",
        "required",
        "equal-2x2",
    )
    assert out["participants"] == [
        {"address": "sip:room@example.com", "display_name": "Room"},
        {"address": "sips:bob@example.com", "display_name": None},
    ]
    # Writes never echo PINs, even to who may see them.
    assert out["has_pin"] and out["has_guest_pin"] and "pin" not in out
    assert "2468" not in r.text and "1357" not in r.text
    record = await store.get_conference(out["id"])
    assert record is not None
    assert (record.pin, record.guest_pin, record.start_time) == ("2468", "1357", start)
    assert (record.max_participants, record.streaming, record.guests_send_audio) == (
        12,
        True,
        False,
    )
    assert await store.list_participants(record.id) == [
        ParticipantRecord("sip:room@example.com", "Room"),
        ParticipantRecord("sips:bob@example.com"),
    ]
    assert await last_audit(store, CREATOR) == [
        ("create_conference", f"conference:{record.id}", "created")
    ]
    assert live.refreshes == 1
    assert "2468" not in caplog.text and "1357" not in caplog.text


async def test_create_defaults(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "Ad hoc", "numeric_id": "7301"},
        headers=await token_for(client, "admin"),
    )
    assert r.status_code == 201
    out = r.json()
    assert out["active"] is True  # no start time: always active
    assert (out["encryption"], out["streaming"], out["participants"]) == ("optional", False, [])
    assert out["guests_send_audio"] is True and out["start_time"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_time": "2031-03-03T10:00:00"}, "start_time"),  # no zone
        ({"start_time": "tomorrow"}, "start_time"),
        ({"start_time": 1900000000}, "start_time"),
        ({"start_time": "2031-03-03T10:00:00Z", "duration_seconds": 0}, "duration_seconds"),
        ({"start_time": "2031-03-03T10:00:00Z", "duration_seconds": "60"}, "duration_seconds"),
        ({"start_time": "2031-03-03T10:00:00Z", "repetition": "yearly"}, "repetition"),
        ({"duration_seconds": 60}, "duration_seconds"),  # a duration needs a start
        ({"repetition": "daily"}, "repetition"),  # so does a repetition
        ({"start_time": "2031-03-03T10:00:00Z", "repeat_count": 3}, "repetition"),
        (
            {
                "start_time": "2031-03-03T10:00:00Z",
                "repetition": "daily",
                "repeat_count": 0,
            },
            "repeat_count",
        ),
        (
            {
                "start_time": "2031-03-03T10:00:00Z",
                "repetition": "daily",
                "repeat_count": 3,
                "repeat_until": "2031-04-01T00:00:00Z",
            },
            "repeat_until",
        ),
        (
            {
                "start_time": "2031-03-03T10:00:00Z",
                "repetition": "monthly",
                "repeat_until": "2031-03-01T00:00:00Z",
            },
            "repeat_until",
        ),
        (
            {
                "start_time": "2031-03-03T10:00:00Z",
                "repetition": "daily",
                "duration_seconds": 2 * 86400,
            },
            "duration_seconds",
        ),
        ({"max_participants": 0}, "max_participants"),
        ({"max_participants": True}, "max_participants"),
        ({"encryption": "maybe"}, "encryption"),
        ({"encryption": None}, "encryption"),
        ({"streaming": "yes"}, "streaming"),
        ({"streaming": None}, "streaming"),
        ({"guests_send_video": 1}, "guests_send_video"),
        ({"layout": "nope"}, "layout"),
        ({"participants": None}, "participants"),
        ({"participants": [{"address": "bob"}]}, "participants.0.address"),
        ({"participants": [{"address": "sip:a@x", "colour": "red"}]}, "participants.0.colour"),
        (
            {"participants": [{"address": "sip:a@x", "display_name": " "}]},
            "participants.0.display_name",
        ),
        (
            {"participants": [{"address": "sip:a@x"}, {"address": "SIP:A@x"}]},
            "participants.1.address",
        ),
        ({"participants": [{"address": f"sip:{i}@x"} for i in range(101)]}, "participants"),
    ],
)
async def test_create_422_names_the_field(
    client: httpx.AsyncClient, store: Store, live: FakeLive, body: dict[str, Any], field: str
) -> None:
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "X", "numeric_id": "7302", **body},
        headers=await token_for(client, "admin"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert await store.get_conference_by_numeric_id("7302") is None
    assert live.refreshes == 0


# GET by control level: configuration and PINs ------------------------------------


@pytest.mark.parametrize(
    ("username", "status", "configuration", "rule"),
    [
        ("admin", 200, True, None),
        (FULL_CONTROL, 200, True, None),
        (CREATOR, 200, True, None),  # the owner: full control of their own
        (LIMITED, 200, False, None),  # limited control: no configuration access
        ("other_creator", 403, False, NOT_OWNER),
        ("conference_detail", 403, False, "no-control: conference_detail cannot own conferences"),
        (
            "conference_list_only",
            403,
            False,
            "no-control: conference_list_only cannot own conferences",
        ),
        ("security_administrator", 403, False, "security-admin: read-only"),
    ],
)
async def test_get_shows_configuration_and_pins_to_full_control_only(
    client: httpx.AsyncClient,
    conference: ConferenceRecord,
    username: str,
    status: int,
    configuration: bool,
    rule: str | None,
) -> None:
    r = await client.get(url(conference), headers=await token_for(client, username))
    assert r.status_code == status
    if rule is not None:
        assert r.json() == {"detail": "forbidden", "rule": rule}
        return
    out = r.json()
    assert out["has_pin"] is True and out["active"] is True
    if configuration:
        assert CONFIG_KEYS <= set(out)
        assert (out["pin"], out["guest_pin"]) == ("1234", None)
    else:
        assert not CONFIG_KEYS & set(out)
        assert "pin" not in out and "guest_pin" not in out and "1234" not in r.text


async def test_moderators_see_what_their_privilege_allows(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    # Seed 000: a moderator gets the owner's control...
    await store.add_role(conference.id, "other_creator", RoleName.MODERATOR)
    r = await client.get(url(conference), headers=await token_for(client, "other_creator"))
    assert r.status_code == 200 and r.json()["pin"] == "1234"
    # ...but seed 003: below conference_creation nobody sees or changes configuration.
    await store.add_role(conference.id, "conference_detail", RoleName.MODERATOR)
    detail = await token_for(client, "conference_detail")
    r = await client.get(url(conference), headers=detail)
    assert r.status_code == 200
    assert "pin" not in r.json() and not CONFIG_KEYS & set(r.json())
    r = await client.patch(url(conference), json={"name": "Mine"}, headers=detail)
    assert (r.status_code, r.json()["rule"]) == (403, BELOW_CREATION)
    # The conference custom layout is a live parameter, not configuration: allowed.
    r = await client.patch(url(conference), json={"layout": "equal-3x3"}, headers=detail)
    assert r.status_code == 200, r.text
    assert "layout" not in r.json()  # and still no configuration shown back
    assert (await store.get_conference(conference.id)).layout == "equal-3x3"  # type: ignore[union-attr]


async def test_speakers_control_nothing(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await store.add_role(conference.id, "other_creator", RoleName.SPEAKER)
    r = await client.get(url(conference), headers=await token_for(client, "other_creator"))
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)


@pytest.mark.parametrize(
    ("fields", "active"),
    [
        ({}, True),
        ({"start_time": timedelta(days=1)}, False),
        ({"start_time": -timedelta(days=1)}, True),  # open-ended
        ({"start_time": -timedelta(hours=2), "duration_seconds": 3600}, False),
        ({"start_time": -timedelta(minutes=30), "duration_seconds": 3600}, True),
        (
            {
                "start_time": -timedelta(days=3, minutes=30),
                "duration_seconds": 3600,
                "repetition": "daily",
            },
            True,
        ),
        (
            {
                "start_time": -timedelta(days=3, minutes=30),
                "duration_seconds": 3600,
                "repetition": "daily",
                "repeat_count": 3,
            },
            False,
        ),
    ],
)
async def test_active_follows_the_schedule(
    client: httpx.AsyncClient, store: Store, fields: dict[str, Any], active: bool
) -> None:
    if "start_time" in fields:
        fields["start_time"] = datetime.now(UTC) + fields["start_time"]
    record = await store.create_conference("Sched", "7400", owner=CREATOR, **fields)
    r = await client.get(url(record), headers=await token_for(client, "admin"))
    assert r.status_code == 200
    assert r.json()["active"] is active


# PATCH: each field group by its operation ---------------------------------------


@pytest.mark.parametrize(
    ("body", "operation"),
    [
        ({"name": "New"}, "configure_conference"),
        ({"numeric_id": "9"}, "configure_conference"),
        ({"max_participants": 3}, "configure_conference"),
        ({"encryption": "off"}, "configure_conference"),
        ({"guests_send_audio": False}, "configure_conference"),
        ({"colour": "red"}, "configure_conference"),
        ({}, "configure_conference"),
        ({"pin": "1"}, "configure_pin"),
        ({"guest_pin": "2"}, "configure_pin"),
        ({"start_time": "2031-01-01T00:00:00Z"}, "configure_schedule"),
        ({"duration_seconds": 60}, "configure_schedule"),
        ({"repetition": "daily"}, "configure_repetition"),
        ({"repeat_count": 2}, "configure_repetition"),
        ({"repeat_until": "x"}, "configure_repetition"),
        ({"streaming": True}, "configure_streaming"),
        ({"participants": []}, "configure_preconfigured_participants"),
        ({"layout": "equal-2x2"}, "conference_custom_layout"),
        ({"owner": "other_creator"}, "change_owner"),
    ],
)
async def test_patch_asks_each_field_groups_operation(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    body: dict[str, Any],
    operation: str,
) -> None:
    # Limited control (not the owner) may do none of these: seed 003 puts configuration,
    # the conference custom layout and owner changes beyond it. The refusal names the
    # operation asked, in the audit.
    r = await client.patch(url(conference), json=body, headers=await token_for(client, LIMITED))
    assert r.status_code == 403
    rule = CHANGE_OWNER_ONLY if operation == "change_owner" else LIMITED_NOT_OWNER
    assert r.json()["rule"] == rule
    assert await last_audit(store, LIMITED) == [
        (operation, f"conference:{conference.id}", f"denied: {rule}")
    ]
    assert await store.get_conference(conference.id) == conference
    assert live.refreshes == 0


async def test_patch_every_group_by_the_owner(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    owner = await token_for(client, CREATOR)
    body = {
        "name": "Board v2",
        "max_participants": 8,
        "pin": "5555",
        "guest_pin": "6666",
        "start_time": "2031-05-05T08:00:00Z",
        "duration_seconds": 3600,
        "repetition": "daily",
        "repeat_count": 5,
        "streaming": True,
        "participants": [{"address": "sip:room@example.com"}],
        "layout": "strip-1+5",
    }
    r = await client.patch(url(conference), json=body, headers=owner)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["name"], out["repetition"], out["repeat_count"], out["layout"]) == (
        "Board v2",
        "daily",
        5,
        "strip-1+5",
    )
    assert out["participants"] == [{"address": "sip:room@example.com", "display_name": None}]
    assert out["active"] is False and "5555" not in r.text and "6666" not in r.text
    assert live.refreshes == 1
    ref = f"conference:{conference.id}"
    assert sorted(await last_audit(store, CREATOR, 7)) == [
        ("conference_custom_layout", ref, "updated: layout"),
        ("configure_conference", ref, "updated: max_participants,name"),
        ("configure_pin", ref, "updated: guest_pin,pin"),
        ("configure_preconfigured_participants", ref, "updated: participants"),
        ("configure_repetition", ref, "updated: repeat_count,repetition"),
        ("configure_schedule", ref, "updated: duration_seconds,start_time"),
        ("configure_streaming", ref, "updated: streaming"),
    ]
    # GET shows the new PINs to the owner; a partial PATCH leaves the rest alone.
    r = await client.patch(
        url(conference),
        json={"repeat_count": None, "repeat_until": "2031-06-01T00:00:00Z"},
        headers=owner,
    )
    assert r.status_code == 200, r.text
    r = await client.get(url(conference), headers=owner)
    got = r.json()
    assert (got["pin"], got["guest_pin"], got["name"], got["repeat_count"]) == (
        "5555",
        "6666",
        "Board v2",
        None,
    )
    assert parse(got["repeat_until"]) == datetime(2031, 6, 1, tzinfo=UTC)
    # Clearing the schedule needs clearing what depends on it, in the same request.
    r = await client.patch(url(conference), json={"start_time": None}, headers=owner)
    assert (r.status_code, r.json()["field"]) == (422, "duration_seconds")
    r = await client.patch(
        url(conference),
        json={
            "start_time": None,
            "duration_seconds": None,
            "repetition": None,
            "repeat_until": None,
        },
        headers=owner,
    )
    assert r.status_code == 200 and r.json()["active"] is True


async def test_patch_audit_names_fields_per_operation(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    owner = await token_for(client, CREATOR)
    r = await client.patch(
        url(conference), json={"name": "N", "pin": "77", "streaming": True}, headers=owner
    )
    assert r.status_code == 200
    ref = f"conference:{conference.id}"
    assert await last_audit(store, CREATOR, 3) == [
        ("configure_streaming", ref, "updated: streaming"),
        ("configure_pin", ref, "updated: pin"),
        ("configure_conference", ref, "updated: name"),
    ]
    r = await client.patch(url(conference), json={}, headers=owner)
    assert r.status_code == 200
    assert await last_audit(store, CREATOR) == [("configure_conference", ref, "unchanged")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"numeric_id": None}, "numeric_id"),
        ({"numeric_id": "12a"}, "numeric_id"),
        ({"encryption": None}, "encryption"),
        ({"participant_layout_control": None}, "participant_layout_control"),
        ({"start_time": "2031-01-01 10:00"}, "start_time"),
        ({"duration_seconds": 60}, "duration_seconds"),  # no start time stored
        ({"layout": "2x2"}, "layout"),
        ({"pin": None}, "guest_pin"),  # it has no guest PIN... set one first below
        ({"participants": [{"address": "tel:+123"}]}, "participants.0.address"),
    ],
)
async def test_patch_422_names_the_field_and_saves_nothing(
    client: httpx.AsyncClient,
    store: Store,
    live: FakeLive,
    conference: ConferenceRecord,
    body: dict[str, Any],
    field: str,
) -> None:
    await store.update_conference(conference.id, guest_pin="99")
    before = await store.get_conference(conference.id)
    await store.set_participants(conference.id, [ParticipantRecord("sip:kept@x")])
    r = await client.patch(url(conference), json=body, headers=await token_for(client, CREATOR))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert await store.get_conference(conference.id) == before
    assert await store.list_participants(conference.id) == [ParticipantRecord("sip:kept@x")]
    assert live.refreshes == 0


async def test_patch_is_one_transaction(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    await store.create_conference("Taken", "5000")
    await store.set_participants(conference.id, [ParticipantRecord("sip:kept@x")])
    r = await client.patch(
        url(conference),
        json={
            "name": "Half",
            "numeric_id": "5000",
            "participants": [{"address": "sip:new@x"}],
            "streaming": True,
        },
        headers=await token_for(client, CREATOR),
    )
    assert (r.status_code, r.json()["field"]) == (409, "numeric_id")
    assert await store.get_conference(conference.id) == conference
    assert await store.list_participants(conference.id) == [ParticipantRecord("sip:kept@x")]
    assert live.refreshes == 0
    audit = await store.list_audit(actor=CREATOR)
    assert not [a for a in audit if a.outcome.startswith("updated")]


async def test_patch_order_401_404_403_422(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    bad = {"pin": "not digits"}
    assert (await client.patch("/api/v1/conferences/999999", json=bad)).status_code == 401
    other = await token_for(client, "other_creator")
    r = await client.patch("/api/v1/conferences/999999", json=bad, headers=other)
    assert r.status_code == 404
    r = await client.patch(url(conference), json=bad, headers=other)
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    r = await client.patch(url(conference), content=b"{nope", headers=other)
    assert r.status_code == 403
    r = await client.patch(url(conference), json=bad, headers=await token_for(client, CREATOR))
    assert (r.status_code, r.json()["field"]) == (422, "pin")


# Change of owner (seed 003) -------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "new_owner", "status", "rule"),
    [
        ("admin", "other_creator", 200, None),
        ("admin", None, 200, None),
        (FULL_CONTROL, LIMITED, 200, None),
        (FULL_CONTROL, "admin", 200, None),
        ("admin", "conference_detail", 403, OWNER_CANNOT_CREATE),
        ("admin", "conference_list_only", 403, OWNER_CANNOT_CREATE),
        ("admin", "security_administrator", 403, OWNER_CANNOT_CREATE),
        ("admin", "ghost", 403, OWNER_CANNOT_CREATE),
        (CREATOR, "other_creator", 403, CHANGE_OWNER_ONLY),  # the owner cannot give it away
        (CREATOR, None, 403, CHANGE_OWNER_ONLY),
        (LIMITED, "other_creator", 403, CHANGE_OWNER_ONLY),
        ("conference_detail", None, 403, CHANGE_OWNER_ONLY),
        ("security_administrator", "admin", 403, CHANGE_OWNER_ONLY),
    ],
)
async def test_change_owner(
    client: httpx.AsyncClient,
    store: Store,
    conference: ConferenceRecord,
    actor: str,
    new_owner: str | None,
    status: int,
    rule: str | None,
) -> None:
    r = await client.patch(
        url(conference), json={"owner": new_owner}, headers=await token_for(client, actor)
    )
    assert r.status_code == status, r.text
    record = await store.get_conference(conference.id)
    assert record is not None
    ref = f"conference:{conference.id}"
    if rule is None:
        assert r.json()["owner"] == new_owner and record.owner == new_owner
        moved = f"owner: {CREATOR} -> {new_owner or 'none'}"
        assert await last_audit(store, actor) == [("change_owner", ref, moved)]
    else:
        assert r.json() == {"detail": "forbidden", "rule": rule}
        assert record.owner == CREATOR
        assert await last_audit(store, actor) == [("change_owner", ref, f"denied: {rule}")]


async def test_owner_change_moves_control(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    admin = await token_for(client, "admin")
    r = await client.patch(url(conference), json={"owner": "other_creator"}, headers=admin)
    assert r.status_code == 200
    r = await client.get(url(conference), headers=await token_for(client, CREATOR))
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    r = await client.get(url(conference), headers=await token_for(client, "other_creator"))
    assert r.status_code == 200 and r.json()["pin"] == "1234"


async def test_naming_the_present_owner_is_no_change(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    r = await client.patch(
        url(conference),
        json={"owner": CREATOR, "name": "Same owner"},
        headers=await token_for(client, CREATOR),
    )
    assert r.status_code == 200 and r.json()["owner"] == CREATOR
    assert "change_owner" not in {a.operation for a in await store.list_audit(actor=CREATOR)}


async def test_malformed_owner(client: httpx.AsyncClient, conference: ConferenceRecord) -> None:
    r = await client.patch(
        url(conference), json={"owner": 5}, headers=await token_for(client, "admin")
    )
    assert (r.status_code, r.json()["field"]) == (422, "owner")
    r = await client.patch(
        url(conference), json={"owner": ""}, headers=await token_for(client, "admin")
    )
    assert (r.status_code, r.json()["field"]) == (422, "owner")
    # Who may not change owners learns nothing about the value: 403 first.
    r = await client.patch(
        url(conference), json={"owner": 5}, headers=await token_for(client, CREATOR)
    )
    assert (r.status_code, r.json()["rule"]) == (403, CHANGE_OWNER_ONLY)


async def test_create_for_an_owner_below_creation_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    r = await client.post(
        "/api/v1/conferences",
        json={"name": "Theirs", "numeric_id": "7500", "owner": "conference_list_streaming"},
        headers=await token_for(client, FULL_CONTROL),
    )
    assert (r.status_code, r.json()["rule"]) == (403, OWNER_CANNOT_CREATE)
    assert await store.get_conference_by_numeric_id("7500") is None


# PINs never leak ------------------------------------------------------------------


async def test_pins_stay_out_of_lists_writes_audit_and_logs(
    client: httpx.AsyncClient,
    store: Store,
    conference: ConferenceRecord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    admin = await token_for(client, "admin")
    r = await client.patch(
        url(conference), json={"pin": "80808", "guest_pin": "90909"}, headers=admin
    )
    assert r.status_code == 200 and "80808" not in r.text
    listing = await client.get("/api/v1/conferences", headers=admin)
    assert "80808" not in listing.text and "90909" not in listing.text
    limited = await client.get(url(conference), headers=await token_for(client, LIMITED))
    assert "80808" not in limited.text
    audit = " ".join(f"{a.target} {a.outcome}" for a in await store.list_audit(limit=1000))
    assert "80808" not in audit and "90909" not in audit
    assert "80808" not in caplog.text and "90909" not in caplog.text
    full = await client.get(url(conference), headers=admin)
    assert (full.json()["pin"], full.json()["guest_pin"]) == ("80808", "90909")


# Conference roles (seed 000) ------------------------------------------------------


async def test_owner_appoints_a_moderator(
    client: httpx.AsyncClient, store: Store, live: FakeLive, conference: ConferenceRecord
) -> None:
    owner = await token_for(client, CREATOR)
    roles = url(conference, "/roles")
    r = await client.post(
        roles, json={"username": "other_creator", "role": "moderator"}, headers=owner
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"username": "other_creator", "role": "moderator"}
    assert live.refreshes == 1
    assert await last_audit(store, CREATOR) == [
        (
            "appoint_moderator",
            f"conference:{conference.id} user:other_creator",
            "appointed moderator",
        )
    ]
    r = await client.get(roles, headers=owner)
    assert r.json() == [{"username": "other_creator", "role": "moderator"}]
    # The moderator now has the owner's control: they admit, and appoint another.
    moderator = await token_for(client, "other_creator")
    r = await client.post(url(conference, "/participants/p2/admit"), headers=moderator)
    assert r.status_code == 204
    r = await client.post(roles, json={"username": LIMITED, "role": "moderator"}, headers=moderator)
    assert r.status_code == 201
    # Appointing twice is a conflict.
    r = await client.post(roles, json={"username": LIMITED, "role": "moderator"}, headers=owner)
    assert (r.status_code, r.json()["field"]) == (409, "role")


async def test_speakers_list(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    owner = await token_for(client, CREATOR)
    roles = url(conference, "/roles")
    for username in ("conference_list_only", "other_creator"):
        r = await client.post(roles, json={"username": username, "role": "speaker"}, headers=owner)
        assert r.status_code == 201
    r = await client.get(roles, headers=await token_for(client, LIMITED))  # limited: may view
    assert r.json() == [
        {"username": "conference_list_only", "role": "speaker"},
        {"username": "other_creator", "role": "speaker"},
    ]
    r = await client.request(
        "DELETE", roles, json={"username": "other_creator", "role": "speaker"}, headers=owner
    )
    assert r.status_code == 204
    r = await client.delete(
        roles, params={"username": "conference_list_only", "role": "speaker"}, headers=owner
    )
    assert r.status_code == 204
    assert await store.list_roles(conference_id=conference.id) == []
    r = await client.request(
        "DELETE", roles, json={"username": "other_creator", "role": "speaker"}, headers=owner
    )
    assert (r.status_code, r.json()["detail"]) == (404, "role not found")
    outcomes = [a.outcome for a in await store.list_audit(actor=CREATOR)][:3]
    assert outcomes == ["not_found", "removed speaker", "removed speaker"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ghost", "role": "moderator"}, "username"),
        ({"username": "other_creator", "role": "chair"}, "role"),
        ({"username": "other_creator", "role": "owner"}, "role"),
        ({"role": "moderator"}, "username"),
        ({"username": "other_creator"}, "role"),
    ],
)
async def test_roles_422(
    client: httpx.AsyncClient, conference: ConferenceRecord, body: dict[str, str], field: str
) -> None:
    r = await client.post(
        url(conference, "/roles"), json=body, headers=await token_for(client, CREATOR)
    )
    assert (r.status_code, r.json()["field"]) == (422, field)
    r = await client.delete(
        url(conference, "/roles"), params=body, headers=await token_for(client, CREATOR)
    )
    if field != "username" or "username" not in body:
        assert (r.status_code, r.json()["field"]) == (422, field)


@pytest.mark.parametrize(
    ("username", "rule"),
    [
        (LIMITED, LIMITED_NOT_OWNER),
        ("other_creator", NOT_OWNER),
        ("conference_detail", "no-control: conference_detail cannot own conferences"),
        ("security_administrator", "security-admin: read-only"),
    ],
)
async def test_roles_403(
    client: httpx.AsyncClient,
    store: Store,
    conference: ConferenceRecord,
    username: str,
    rule: str,
) -> None:
    headers = await token_for(client, username)
    roles = url(conference, "/roles")
    body = {"username": username, "role": "moderator"}
    for method in ("POST", "DELETE"):
        r = await client.request(method, roles, json=body, headers=headers)
        assert r.json() == {"detail": "forbidden", "rule": rule}
    r = await client.post(roles, json={"role": "bad"}, headers=headers)  # 403 before 422
    assert r.status_code == 403
    assert await store.list_roles(conference_id=conference.id) == []
    assert (await last_audit(store, username))[0][2] == f"denied: {rule}"


async def test_roles_401_and_404(client: httpx.AsyncClient, conference: ConferenceRecord) -> None:
    for method in ("GET", "POST", "DELETE"):
        r = await client.request(method, "/api/v1/conferences/999999/roles")
        assert r.status_code == 401
        r = await client.request(
            method,
            "/api/v1/conferences/999999/roles",
            headers=await token_for(client, "other_creator"),
        )
        assert r.status_code == 404
    r = await client.get(
        url(conference, "/roles"), headers=await token_for(client, "other_creator")
    )
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)


async def test_openapi_documents_the_configuration(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    create = spec["paths"]["/api/v1/conferences"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert CONFIG_KEYS | {"name", "numeric_id", "pin", "guest_pin", "owner"} <= set(
        schema["properties"]
    )
    assert "$ref" not in str(schema)  # nested models inlined
    assert "/api/v1/conferences/{conference_id}/roles" in spec["paths"]
