"""Issue 11 defect: a conference nobody configured (ad hoc: three callers dialled 5000)
is listed, read and controlled through the API and the pages as ``live-<numeric_id>``,
with no owner, under the same `authorize` as a conference owned by someone else."""

from __future__ import annotations

import httpx
import pytest

from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, ROOM, token_for
from tests.control.fakes import FakeLive
from tests.control.test_pages import login

AD_HOC = "5000"
LIVE_ID = f"live-{AD_HOC}"
URL = f"/api/v1/conferences/{LIVE_ID}"
LIMITED = "conference_creation_limited_control"
NOT_OWNER = "no-control: not owner of the conference"


@pytest.fixture
def live(live: FakeLive) -> FakeLive:
    for pid, name in (("a1", "Ann"), ("a2", "Abe"), ("a3", "Ada")):
        live.add(AD_HOC, pid, name)
    live.ad_hoc.add(AD_HOC)
    return live


async def audit_rows(store: Store, actor: str) -> list[tuple[str, str | None, str]]:
    return [(a.operation, a.target, a.outcome) for a in await store.list_audit(actor=actor)]


async def test_listed_with_ad_hoc_true_and_no_owner(
    client: httpx.AsyncClient, conference: ConferenceRecord
) -> None:
    r = await client.get("/api/v1/conferences", headers=await token_for(client, "admin"))
    assert r.status_code == 200
    assert r.json() == [
        {"listing": "link", "id": conference.id, "name": "Board", "numeric_id": ROOM,
         "owner": CREATOR, "has_pin": True, "has_guest_pin": False, "ad_hoc": False},
        {"listing": "link", "id": LIVE_ID, "name": f"Conference {AD_HOC}",
         "numeric_id": AD_HOC, "owner": None, "has_pin": False, "has_guest_pin": False,
         "ad_hoc": True},
    ]
    # Seed 003: no control over a conference one does not own -> its name only.
    r = await client.get("/api/v1/conferences", headers=await token_for(client, CREATOR))
    assert r.json()[1] == {"listing": "name_only", "name": f"Conference {AD_HOC}"}
    r = await client.get("/api/v1/conferences", headers=await token_for(client, LIMITED))
    assert r.json()[1]["id"] == LIVE_ID
    r = await client.get(
        "/api/v1/conferences", headers=await token_for(client, "security_administrator"))
    assert r.status_code == 403
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert "live-<numeric_id>" in spec["paths"]["/api/v1/conferences"]["get"]["description"]


async def test_read_and_participants(client: httpx.AsyncClient) -> None:
    admin = await token_for(client, "admin")
    r = await client.get(URL, headers=admin)
    assert r.status_code == 200
    assert r.json() == {"id": LIVE_ID, "name": f"Conference {AD_HOC}", "numeric_id": AD_HOC,
                        "owner": None, "has_pin": False, "has_guest_pin": False,
                        "ad_hoc": True, "active": True}
    r = await client.get(URL + "/participants", headers=admin)
    assert [p["id"] for p in r.json()] == ["a1", "a2", "a3"]
    assert (await client.get(URL + "/roles", headers=admin)).json() == []
    r = await client.get(URL, headers=await token_for(client, CREATOR))
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)


async def test_admin_controls_participants(
    client: httpx.AsyncClient, store: Store, live: FakeLive
) -> None:
    admin = await token_for(client, "admin")
    r = await client.delete(URL + "/participants/a2", headers=admin)
    assert r.status_code == 204, r.text
    assert ("drop", AD_HOC, "a2") in live.calls
    assert (await audit_rows(store, "admin"))[0] == (
        "disconnect_participant", f"conference:{LIVE_ID} participant:a2", "ok")
    r = await client.post(URL + "/participants/a1/mute", json={"muted": True}, headers=admin)
    assert r.status_code == 204 and live.participants(AD_HOC)[0].muted
    r = await client.put(URL + "/participants/a1/layout", json={"layout": "equal-1x1"},
                         headers=admin)
    assert r.status_code == 204 and live.participants(AD_HOC)[0].layout == "equal-1x1"
    r = await client.post(URL + "/participants", json={"address": "sip:bob@192.0.2.5"},
                          headers=admin)
    assert r.status_code == 201 and ("dial", AD_HOC, "sip:bob@192.0.2.5", "None") in live.calls
    r = await client.post(URL + "/messages", json={"text": "hi"}, headers=admin)
    assert r.status_code == 204 and live.messages[AD_HOC] == "hi"
    assert (await client.post(URL + "/end", headers=admin)).status_code == 204
    assert AD_HOC not in live.rooms
    assert (await client.get(URL, headers=admin)).status_code == 404  # it ended


async def test_no_control_is_403_and_touches_nothing(
    client: httpx.AsyncClient, store: Store, live: FakeLive
) -> None:
    creator = await token_for(client, CREATOR)
    r = await client.delete(URL + "/participants/a2", headers=creator)
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    r = await client.post(URL + "/participants/a1/mute", json={"muted": True}, headers=creator)
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    assert [p.id for p in live.participants(AD_HOC)] == ["a1", "a2", "a3"]
    assert not live.participants(AD_HOC)[0].muted
    assert (await audit_rows(store, CREATOR))[0] == (
        "mute_participant", f"conference:{LIVE_ID} participant:a1", f"denied: {NOT_OWNER}")
    # Limited control over others' conferences: mute yes, drop no (seed 003).
    limited = await token_for(client, LIMITED)
    r = await client.post(URL + "/participants/a1/mute", json={"muted": True}, headers=limited)
    assert r.status_code == 204
    r = await client.delete(URL + "/participants/a1", headers=limited)
    rule = "limited-control: not owner of the conference"
    assert (r.status_code, r.json()["rule"]) == (403, rule)


@pytest.mark.parametrize("raw_id", ["live-9999", f"live-{ROOM}", "live-", "live-5000x", AD_HOC])
async def test_unknown_live_ids_are_404(
    client: httpx.AsyncClient, conference: ConferenceRecord, raw_id: str
) -> None:
    # live-4321 is running but configured: it is addressed by its store id only.
    r = await client.get(f"/api/v1/conferences/{raw_id}", headers=await token_for(client, "admin"))
    assert r.status_code == 404


async def test_no_configuration_to_change(client: httpx.AsyncClient, store: Store) -> None:
    admin = await token_for(client, "admin")
    r = await client.patch(URL, json={"name": "Mine"}, headers=admin)
    assert (r.status_code, r.json()["detail"]) == (
        409, "conference is not configured (ad hoc): nothing to change")
    assert (await client.delete(URL, headers=admin)).status_code == 409
    r = await client.post(URL + "/roles", json={"username": CREATOR, "role": "moderator"},
                          headers=admin)
    assert r.status_code == 409
    # authorize first: who may not configure it learns nothing more.
    r = await client.patch(URL, json={"name": "Mine"}, headers=await token_for(client, CREATOR))
    assert (r.status_code, r.json()["rule"]) == (403, NOT_OWNER)
    assert await store.get_conference_by_numeric_id(AD_HOC) is None


async def test_pages_list_and_open_it(client: httpx.AsyncClient, live: FakeLive) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    page = (await client.get("/")).text
    assert f'href="/conferences/{LIVE_ID}"' in page
    r = await client.get(f"/conferences/{LIVE_ID}")
    assert r.status_code == 200
    assert 'data-ad-hoc="1"' in r.text and 'data-participant-id="a3"' in r.text
    assert 'data-can-drop="1"' in r.text and 'data-form="layout"' not in r.text
    assert 'data-action="edit"' not in r.text
    r = await client.get(f"/conferences/{LIVE_ID}/participants/a1/thumbnail.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    await login(client, CREATOR, PASSWORD)
    assert f'href="/conferences/{LIVE_ID}"' not in (await client.get("/")).text
    assert f"Conference {AD_HOC}" in (await client.get("/")).text  # its name only
    assert (await client.get(f"/conferences/{LIVE_ID}")).status_code == 403
