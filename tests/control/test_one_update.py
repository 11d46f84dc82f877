"""Issue 11: one update operation for the schedule form, the layout chooser and
``PATCH /api/v1/conferences/{id}`` (same authorize, same audit rows); the composed
picture route of the conference page; dial-out to any scheme a running gateway serves."""

from __future__ import annotations

import httpx

from mcu.store import ConferenceRecord, EncryptionPolicy, Store
from tests.control.conftest import ADMIN_PASSWORD, CREATOR, PASSWORD, token_for
from tests.control.fakes import FakeLive
from tests.control.test_pages import CSRF, fields, form_page, login

LIMITED = "conference_creation_limited_control"


async def rows(store: Store, conference: ConferenceRecord) -> list[tuple[str, str]]:
    """The audit rows written about the conference, oldest first, without its id."""
    ref = f"conference:{conference.id}"
    return [(a.operation, a.outcome) for a in reversed(await store.list_audit(actor="admin"))
            if a.target == ref]


async def test_page_and_api_write_the_same_audit_rows(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord, live: FakeLive
) -> None:
    twin = await store.create_conference("Board", "4322", pin="1234", owner=CREATOR)
    change = {"name": "Board 2", "owner": "other_creator", "pin": "9999"}
    r = await client.patch(f"/api/v1/conferences/{conference.id}", json=change,
                           headers=await token_for(client, "admin"))
    assert r.status_code == 200, r.text
    await login(client, "admin", ADMIN_PASSWORD)
    _, csrf = await form_page(client, f"/conferences/{twin.id}/edit")
    r = await client.post(f"/conferences/{twin.id}/edit", data=fields(
        csrf_token=csrf, numeric_id="4322", **change))
    assert r.status_code == 303, r.text
    expected = [
        ("configure_conference", "updated: name"),
        ("configure_pin", "updated: pin"),
        ("change_owner", "owner: conference_creation -> other_creator"),
    ]
    assert await rows(store, conference) == expected
    assert await rows(store, twin) == expected
    for record in (conference, twin):
        saved = await store.get_conference(record.id)
        assert saved is not None
        assert (saved.name, saved.owner, saved.pin) == ("Board 2", "other_creator", "9999")
    assert live.refreshes == 2


async def test_page_refuses_an_owner_as_a_field_error(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    _, csrf = await form_page(client, f"/conferences/{conference.id}/edit")
    for owner, why in (("conference_detail", "cannot own conferences"),
                       ("nobody", "no such user")):
        r = await client.post(f"/conferences/{conference.id}/edit", data=fields(
            csrf_token=csrf, numeric_id=conference.numeric_id, name="Board", owner=owner))
        assert r.status_code == 422 and 'data-error="owner"' in r.text and why in r.text
    assert (await store.get_conference(conference.id)).owner == CREATOR  # type: ignore[union-attr]


async def test_layout_chooser_uses_the_update_operation(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord, live: FakeLive
) -> None:
    csrf = await login(client, CREATOR, PASSWORD)  # the owner: full control
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-form="layout"' in page and '<option value="equal-2x2"' in page
    assert f'src="/conferences/{conference.id}/view.jpg"' in page
    r = await client.post(f"/conferences/{conference.id}/layout",
                          data={"csrf_token": csrf, "layout": "equal-2x2"})
    assert r.status_code == 303
    audit = (await store.list_audit(actor=CREATOR))[0]
    assert (audit.operation, audit.target, audit.outcome) == (
        "conference_custom_layout", f"conference:{conference.id}", "updated: layout")
    r = await client.get(f"/api/v1/conferences/{conference.id}",
                         headers=await token_for(client, CREATOR))
    assert r.json()["layout"] == "equal-2x2"
    assert '<option value="equal-2x2" selected' in (
        await client.get(f"/conferences/{conference.id}")).text
    r = await client.post(f"/conferences/{conference.id}/layout",
                          data={"csrf_token": csrf, "layout": "no-such"})
    assert r.status_code == 422 and "layout" in r.text
    r = await client.post(f"/conferences/{conference.id}/layout",
                          data={"csrf_token": "forged", "layout": "equal-1x1"})
    assert r.status_code == 403
    r = await client.post(f"/conferences/{conference.id}/layout",
                          data={"csrf_token": csrf, "layout": ""})
    assert r.status_code == 303
    assert (await store.get_conference(conference.id)).layout is None  # type: ignore[union-attr]


async def test_layout_chooser_follows_authorize(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    csrf = await login(client, LIMITED, PASSWORD)  # limited: no conference layout
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-form="layout"' not in page and "view.jpg" in page
    r = await client.post(f"/conferences/{conference.id}/layout",
                          data={"csrf_token": csrf, "layout": "equal-2x2"})
    assert r.status_code == 403 and "limited-control" in r.text
    assert (await store.list_audit(actor=LIMITED))[0].outcome.startswith("denied: ")
    assert (await store.get_conference(conference.id)).layout is None  # type: ignore[union-attr]


async def test_composed_view_is_a_jpeg_for_who_may_see_pictures(
    client: httpx.AsyncClient, store: Store, conference: ConferenceRecord
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    r = await client.get(f"/conferences/{conference.id}/view.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"
    await store.update_conference(conference.id, encryption=EncryptionPolicy.REQUIRED)
    assert (await client.get(f"/conferences/{conference.id}/view.jpg")).status_code == 404
    assert "view.jpg" not in (await client.get(f"/conferences/{conference.id}")).text
    await login(client, "other_creator", PASSWORD)
    assert (await client.get(f"/conferences/{conference.id}/view.jpg")).status_code == 403


async def test_dial_out_any_scheme_a_gateway_serves(
    client: httpx.AsyncClient, conference: ConferenceRecord, live: FakeLive
) -> None:
    url = f"/api/v1/conferences/{conference.id}/participants"
    headers = await token_for(client, "admin")
    r = await client.post(url, json={"address": "h323:room@192.0.2.9"}, headers=headers)
    assert (r.status_code, r.json()["field"]) == (422, "address")
    assert "schemes served: sip" in r.json()["detail"]
    live.schemes = ["sip", "h323"]
    r = await client.post(url, json={"address": "h323:room@192.0.2.9"}, headers=headers)
    assert r.status_code == 201, r.text
    assert live.calls[-1] == ("dial", conference.numeric_id, "h323:room@192.0.2.9", "None")
    r = await client.post(url, json={"address": "RTSP:cam@192.0.2.9"}, headers=headers)
    assert (r.status_code, r.json()["field"]) == (422, "address")
    assert r.json()["detail"] == ("no running gateway dials rtsp: URIs; "
                                  "schemes served: h323, sip")
    # The page's dial-out form says which schemes it takes.
    await login(client, "admin", ADMIN_PASSWORD)
    page = (await client.get(f"/conferences/{conference.id}")).text
    assert 'data-schemes="h323 sip"' in page and CSRF.search(page)
