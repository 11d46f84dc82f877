"""IP cameras over the API (issue 12): add, list, remove; the error order; and
credentials that never come back in answers, pages or audit rows."""

from __future__ import annotations

import httpx
import pytest

from mcu.store import ConferenceRecord, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, ROOM, token_for
from tests.control.fakes import FakeLive
from tests.control.test_pages import login

SECRET = "s3cret-pw"
USER = "camuser-x9"
CAMERA = {"name": "Lobby cam", "url": "rtsp://192.0.2.50:8554/cam", "username": USER,
          "password": SECRET, "transport": "tcp"}


def path(conference: ConferenceRecord, tail: str = "") -> str:
    return f"/api/v1/conferences/{conference.id}/cameras{tail}"


async def test_add_list_remove(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store
) -> None:
    h = await token_for(client, CREATOR)
    r = await client.post(path(conference), json=CAMERA, headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    assert {k: made[k] for k in ("name", "url", "state", "reason")} == {
        "name": "Lobby cam", "url": "rtsp://192.0.2.50:8554/cam", "state": "live", "reason": ""}
    assert made["transport"] == "tcp" and made["audio"] is False
    # The live MCU got the credentials; the store keeps them apart from the URL.
    dialled = live.camera_dials[-1]
    assert (dialled.username, dialled.password) == (USER, SECRET)
    assert SECRET not in repr(dialled) and USER not in repr(dialled)
    # It is a participant of kind camera.
    r = await client.get(f"/api/v1/conferences/{conference.id}/participants", headers=h)
    kinds = {p["id"]: p["kind"] for p in r.json()}
    assert kinds[made["participant_id"]] == "camera" and kinds["p1"] == "call"
    r = await client.get(path(conference), headers=h)
    assert r.status_code == 200 and [c["id"] for c in r.json()] == [made["id"]]
    r = await client.delete(path(conference, f"/{made['id']}"), headers=h)
    assert r.status_code == 204, r.text
    assert ("stop_camera", ROOM, str(made["id"])) in live.calls
    assert made["participant_id"] not in {p.id for p in live.participants(ROOM)}
    assert (await client.get(path(conference), headers=h)).json() == []
    assert await store.list_cameras(conference.id) == []
    r = await client.delete(path(conference, f"/{made['id']}"), headers=h)
    assert r.status_code == 404


async def test_credentials_in_url_are_stored_apart(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store
) -> None:
    h = await token_for(client, CREATOR)
    body = {"name": "Gate", "url": f"rtsp://{USER}:{SECRET}@192.0.2.51/live/1"}
    r = await client.post(path(conference), json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["url"] == "rtsp://192.0.2.51/live/1"
    [stored] = await store.list_cameras(conference.id)
    assert (stored.url, stored.username, stored.password) == (
        "rtsp://192.0.2.51/live/1", USER, SECRET)
    assert stored.transport == "auto"


async def test_not_active_conference_stores_without_starting(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive
) -> None:
    live.rooms.pop(ROOM)
    h = await token_for(client, CREATOR)
    r = await client.post(path(conference), json=CAMERA, headers=h)
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["reason"]) == ("offline", "not running")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CAMERA, "url": "http://192.0.2.50/cam"}, "url"),
        ({**CAMERA, "url": "rtsp://192.0.2.50"}, "url"),
        ({**CAMERA, "url": f"rtsp://{USER}:{SECRET}@192.0.2.50:99999/cam"}, "url"),
        ({**CAMERA, "transport": "sctp"}, "transport"),
        ({k: v for k, v in CAMERA.items() if k != "name"}, "name"),
        ({**CAMERA, "audio": "yes"}, "audio"),
    ],
)
async def test_bad_body_is_422_naming_the_field(
    client: httpx.AsyncClient, conference: ConferenceRecord, body: dict[str, object], field: str
) -> None:
    h = await token_for(client, CREATOR)
    r = await client.post(path(conference), json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert SECRET not in r.text and USER not in r.text


async def test_401_404_403(client: httpx.AsyncClient, conference: ConferenceRecord) -> None:
    assert (await client.post(path(conference), json=CAMERA)).status_code == 401
    h = await token_for(client, CREATOR)
    r = await client.post("/api/v1/conferences/999999/cameras", json=CAMERA, headers=h)
    assert r.status_code == 404
    other = await token_for(client, "other_creator")  # conference_creation, not the owner
    r = await client.post(path(conference), json={"bad": 1}, headers=other)
    assert r.status_code == 403 and r.json()["rule"]  # authorize before the body
    r = await client.get(path(conference), headers=other)
    assert r.status_code == 403
    limited = await token_for(client, "conference_creation_limited_control")
    assert (await client.get(path(conference), headers=limited)).status_code == 200
    r = await client.post(path(conference), json=CAMERA, headers=limited)
    assert r.status_code == 403, r.text


async def test_credentials_never_leak(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the password nor the username in any answer, page, audit row or log."""
    caplog.set_level("DEBUG")
    h = await token_for(client, "admin")
    texts = []
    r = await client.post(path(conference), json=CAMERA, headers=h)
    texts.append(r.text)
    body = {"name": "Inline", "url": f"rtsp://{USER}:{SECRET}@192.0.2.52:554/s"}
    r2 = await client.post(path(conference), json=body, headers=h)
    texts.append(r2.text)
    texts.append((await client.get(path(conference), headers=h)).text)
    texts.append((await client.get(f"/api/v1/conferences/{conference.id}/participants",
                                   headers=h)).text)
    texts.append((await client.get(f"/api/v1/conferences/{conference.id}", headers=h)).text)
    texts.append((await client.get("/api/v1/audit", headers=h)).text)
    # The conference page, with a session cookie.
    await login(client, "admin", ADMIN_PASSWORD)
    page = await client.get(f"/conferences/{conference.id}")
    assert page.status_code == 200, page.text
    assert "Lobby cam" in page.text and "rtsp://192.0.2.50:8554/cam" in page.text
    texts.append(page.text)
    texts.append((await client.delete(path(conference, f"/{r.json()['id']}"), headers=h)).text)
    audit = [repr(a) for a in await store.list_audit(limit=1000)]
    assert any("add_camera" in a for a in audit) and any("remove_camera" in a for a in audit)
    texts.extend(audit)
    texts.append(caplog.text)
    for text in texts:
        assert SECRET not in text
        assert USER not in text


async def test_deleting_the_conference_stops_its_cameras(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store
) -> None:
    h = await token_for(client, CREATOR)
    made = (await client.post(path(conference), json=CAMERA, headers=h)).json()
    r = await client.delete(f"/api/v1/conferences/{conference.id}", headers=h)
    assert r.status_code == 204, r.text
    assert ("stop_camera", ROOM, str(made["id"])) in live.calls
    assert await store.list_cameras() == []


async def test_live_only_conference_has_no_cameras(
    client: httpx.AsyncClient, live: FakeLive
) -> None:
    live.add("777", "x1", "Caller")
    h = await token_for(client, "admin")
    r = await client.get("/api/v1/conferences/live-777/cameras", headers=h)
    assert r.status_code == 200 and r.json() == []
    r = await client.post("/api/v1/conferences/live-777/cameras", json=CAMERA, headers=h)
    assert r.status_code == 409, r.text


async def test_no_camera_joins_an_encrypted_conference(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive, store: Store
) -> None:
    """Issue 16: RTSP is not encrypted, so a conference that requires encryption takes
    no camera: 409 naming why, nothing stored, nothing dialled, an audit row."""
    from mcu.store import EncryptionPolicy

    await store.update_conference(conference.id, encryption=EncryptionPolicy.REQUIRED)
    h = await token_for(client, CREATOR)
    r = await client.post(path(conference), json=CAMERA, headers=h)
    assert r.status_code == 409 and "encryption" in r.text, r.text
    assert await store.list_cameras(conference.id) == [] and live.camera_dials == []
    audit = await store.list_audit(limit=10)
    assert any(a.operation == "add_camera" and "encryption" in a.outcome
               for a in audit)
