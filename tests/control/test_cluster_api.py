"""GET /api/v1/cluster (issue 18): this node, the nodes with `alive`, and the leases,
read from the shared store; administrators only (as the status page). And the
`ClusterForward` middleware's choice of what is passed to a conference's node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from mcu.control.forward import FORWARDED_BY, ClusterForward, conference_of
from mcu.live import ClusterMember
from mcu.permissions import Privilege
from mcu.store import NodeRecord, Store
from tests.control.conftest import token_for
from tests.control.fakes import FakeLive

API = "/api/v1"


async def test_a_single_mcu_says_it_is_no_node(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/cluster", headers=await token_for(client, "admin"))
    assert r.status_code == 200
    assert r.json() == {"node_id": None, "nodes": [], "conferences": []}


async def test_nodes_and_leases_with_liveness(client: httpx.AsyncClient, store: Store,
                                              live: FakeLive) -> None:
    live.member = ClusterMember("a", 10.0)
    now = datetime.now(UTC)
    for name, age in (("a", 1), ("b", 60)):
        at = now - timedelta(seconds=age)
        await store.publish_node(NodeRecord(name, f"sip:{name}:5060", f"http://{name}:80",
                                            2, 1, 12.5, at, at))
    await store.take_lease("700", "a", 2, now, now + timedelta(seconds=10))
    r = await client.get(f"{API}/cluster", headers=await token_for(client, "admin"))
    body = r.json()
    assert body["node_id"] == "a"
    assert {n["node_id"]: n["alive"] for n in body["nodes"]} == {"a": True, "b": False}
    [lease] = body["conferences"]
    assert (lease["numeric_id"], lease["node_id"], lease["participants"], lease["live"]) == (
        "700", "a", 2, True)


@pytest.mark.parametrize("who", [p.value for p in Privilege
                                 if p not in (Privilege.ADMINISTRATOR,
                                              Privilege.SECURITY_ADMINISTRATOR)])
async def test_only_administrators_read_it(client: httpx.AsyncClient, who: str) -> None:
    r = await client.get(f"{API}/cluster", headers=await token_for(client, who))
    assert r.status_code == 403


@pytest.mark.parametrize(("path", "conference"), [
    ("/api/v1/conferences/12/participants", "12"),
    ("/api/v1/conferences/12/participants/sip-c1/mute", "12"),
    ("/api/v1/conferences/12/end", "12"),
    ("/api/v1/conferences/12/recordings", "12"),
    ("/api/v1/conferences/live-7100/participants", "live-7100"),
    ("/conferences/12", "12"),
    ("/conferences/live-7100", "live-7100"),
    ("/conferences/12/events", "12"),
    ("/conferences/12/view.jpg", "12"),
    ("/conferences/12/stream/index.m3u8", "12"),
    ("/api/v1/conferences/12", None),  # configuration: the shared store, served here
    ("/conferences/12/edit", None),
    ("/api/v1/conferences", None),
    ("/api/v1/cluster", None),
    ("/conferences/x/events", None),
    ("/conferences/live-x/events", None),
])
def test_what_is_passed_to_the_conference_s_node(path: str, conference: str | None) -> None:
    assert conference_of(path) == conference


def _app(target: str | None) -> FastAPI:
    app = FastAPI()

    @app.get("/conferences/{cid}/events")
    async def here(cid: int) -> PlainTextResponse:
        return PlainTextResponse(f"served here {cid}")

    async def locate(cid: str) -> str | None:
        return target

    app.add_middleware(ClusterForward, locate=locate, node_id="b")
    return app


async def _get(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node-b") as client:
        return await client.get("/conferences/7/events", headers=headers)


async def test_a_conference_run_here_or_nowhere_is_served_here() -> None:
    assert (await _get(_app(None))).text == "served here 7"


async def test_a_request_already_passed_on_is_never_passed_again() -> None:
    answer = await _get(_app("http://127.0.0.1:9"), {FORWARDED_BY: "a"})
    assert answer.text == "served here 7"


async def test_a_holder_that_does_not_answer_is_a_502_naming_it() -> None:
    answer = await _get(_app("http://127.0.0.1:9"))
    assert answer.status_code == 502
    assert "http://127.0.0.1:9" in answer.json()["detail"]
