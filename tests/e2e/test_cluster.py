"""The cluster with real parts (issue 18): PostgreSQL, the project's Kamailio
configuration (dispatcher, leases read and taken in the store) and two ``mcu serve``
nodes, each on its own loopback address; baresips dial Kamailio.

One cluster is shared by the module's tests, in order: callers of one conference land
on one node and hear each other; the other node's web control mutes one of them (the
muted tone leaves the other's ear); killing the node that runs a conference moves it to
the other node for the next callers, within the lease time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.peers.audio_analysis import read_wav, tone_dbfs
from tests.peers.baresip import BaresipPeer
from tests.peers.mcu_cluster import (
    AD_HOC,
    CONFERENCE,
    LEASE_S,
    MCU,
    TONES,
    Cluster,
    Node,
    running_cluster,
)

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


def test_callers_of_one_conference_land_on_one_node_and_hear_each_other(
        cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    created = a.api("POST", "/conferences", json={"name": "Cluster", "numeric_id": CONFERENCE})
    assert created.status_code == 201, created.text
    cluster.conference_id = created.json()["id"]
    # Both nodes are live and known to each other through the store.
    nodes = cluster.wait("both nodes alive", lambda: {
        n["node_id"]: n for n in b.cluster()["nodes"] if n["alive"]}.keys() == {"a", "b"})
    assert nodes
    alice, bob = cluster.peer("alice"), cluster.peer("bob")
    try:
        alice.dial(cluster.front.dial_uri(CONFERENCE))
        alice.wait_established(timeout=15)
        holder = cluster.wait("a lease for the conference", lambda: a.holder(CONFERENCE))
        bob.dial(cluster.front.dial_uri(CONFERENCE))
        bob.wait_established(timeout=15)
        running = cluster.nodes[holder]
        other = b if holder == "a" else a
        path = f"/conferences/{cluster.conference_id}/participants"
        # Both are on the holder; the other node answers the same list (passed on).
        on_holder = cluster.wait("two participants on the holder", lambda: (
            lambda got: got if len(got) == 2 else None)(running.api("GET", path).json()))
        via_other = other.api("GET", path)
        assert via_other.status_code == 200
        assert sorted(p["id"] for p in via_other.json()) == sorted(p["id"] for p in on_holder)
        assert b.holder(CONFERENCE) == a.holder(CONFERENCE) == holder
        _the_page_and_a_cookie_write_through(other, cluster.conference_id)
        time.sleep(3.0)
        # The other node's web control mutes alice on the holder.
        named = {p["display_name"]: p["id"] for p in on_holder}
        assert "alice" in named, on_holder
        alice_id = named["alice"]
        muted = other.api("POST", f"{path}/{alice_id}/mute", json={"muted": True})
        assert muted.status_code == 204, muted.text
        states = {p["id"]: p["muted"] for p in running.api("GET", path).json()}
        assert states[alice_id] is True
        mute_at = time.monotonic()
        time.sleep(3.0)
        for peer in (alice, bob):
            peer.hangup()
        time.sleep(0.3)
        heard = _tone_before_and_after(bob, TONES["alice"], time.monotonic() - mute_at)
        assert heard[0] > -40, f"bob never heard alice ({heard})"
        assert heard[1] < -50, f"bob still hears alice after the mute ({heard})"
        assert _tone_before_and_after(alice, TONES["bob"], 3.0)[0] > -40
    finally:
        alice.close()
        bob.close()


def _the_page_and_a_cookie_write_through(other: Node, conference_id: int) -> None:
    """A browser on the node that does not run the conference: the conference page
    comes from the holder (its participants), and the CSRF token in it is good on any
    node (the key is shared), here for a configuration write served locally."""
    cookies = {"mcu_session": other.token}  # a session token is a bearer token's kind
    page = httpx.get(f"{other.base_url}/conferences/{conference_id}", cookies=cookies,
                     timeout=10)
    assert page.status_code == 200 and "alice" in page.text and "bob" in page.text
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert csrf is not None, page.text[:2000]
    renamed = httpx.patch(f"{other.base_url}/api/v1/conferences/{conference_id}",
                          cookies=cookies, headers={"X-CSRF-Token": csrf.group(1)},
                          json={"name": "Cluster room"}, timeout=10)
    assert renamed.status_code == 200, renamed.text
    forged = httpx.patch(f"{other.base_url}/api/v1/conferences/{conference_id}",
                         cookies=cookies, headers={"X-CSRF-Token": "0" * 64},
                         json={"name": "Forged"}, timeout=10)
    assert forged.status_code == 403


def _tone_before_and_after(peer: BaresipPeer, tone: float, after_s: float) -> tuple[float, ...]:
    """The tone's level (dBFS) in what ``peer`` received: the second before the last
    ``after_s`` seconds began, and the last ``after_s`` seconds less their first."""
    wav = peer.received_wav_path()
    assert wav is not None, f"{peer.name} recorded nothing\n{peer.log_tail()}"
    audio = read_wav(wav)
    total = len(audio.samples) / audio.rate
    split = total - after_s
    before = audio.slice(max(split - 1.5, 0.5), split - 0.3)
    after = audio.slice(split + 0.7, total - 0.2)
    return (tone_dbfs(before.samples, before.rate, tone),
            tone_dbfs(after.samples, after.rate, tone))


def test_a_full_node_s_next_caller_cascades_from_the_other_node(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    alice, bob, carol = (cluster.peer(name) for name in ("alice", "bob", "carol"))
    try:
        for peer in (alice, bob):
            peer.dial(cluster.front.dial_uri(CONFERENCE))
            peer.wait_established(timeout=15)
        holder = cluster.wait("a lease for the conference", lambda: a.holder(CONFERENCE))
        running = cluster.nodes[holder]
        satellite = next(n for n in cluster.nodes.values() if n is not running)
        cluster.wait("the lease counting two", lambda: _lease(running)["participants"] == 2)
        carol.dial(cluster.front.dial_uri(CONFERENCE))
        carol.wait_established(timeout=15)
        cluster.front.wait_log(f"cluster: {CONFERENCE} is full on {holder}: cascading from "
                               f"{satellite.name}")
        path = f"/conferences/{cluster.conference_id}/participants"
        # The holder lists its own, the cascade leg, and Carol on the satellite (NODE~ID).
        listed = cluster.wait("carol listed on the holder", lambda: (lambda got: got if len(
            got) == 4 else None)({p["display_name"]: p for p in running.api("GET", path).json()}))
        assert set(listed) == {"alice", "bob", f"Cascade from {satellite.name}", "carol"}
        assert listed["carol"]["node"] == satellite.name
        assert listed["carol"]["id"].startswith(f"{satellite.name}~")
        assert listed["alice"]["node"] is None
        assert _lease(running)["node_id"] == holder  # the holder keeps the conference
        # The holder's operator drops the cascade leg: the satellite joins again.
        leg = listed[f"Cascade from {satellite.name}"]["id"]
        assert running.api("DELETE", f"{path}/{leg}").status_code == 204
        cluster.wait("a new cascade leg", lambda: any(
            p["display_name"] == f"Cascade from {satellite.name}" and p["id"] != leg
            for p in running.api("GET", path).json()))
        listed = cluster.wait("carol listed again", lambda: (lambda got: got if len(
            got) == 4 else None)({p["display_name"]: p for p in running.api("GET", path).json()}))
        time.sleep(3.0)
        # Any node's web control mutes Carol: the holder tells the satellite (NOTIFY).
        muted = satellite.api("POST", f"{path}/{listed['carol']['id']}/mute",
                              json={"muted": True})
        assert muted.status_code == 204, muted.text
        cluster.wait("carol muted on her node", lambda: any(
            p["display_name"] == "carol" and p["muted"] for p in running.api("GET", path).json()))
        mute_at = time.monotonic()
        time.sleep(3.0)
        for peer in (carol, alice, bob):
            peer.hangup()
        time.sleep(0.3)
        after = time.monotonic() - mute_at
        party = {"alice": alice, "bob": bob, "carol": carol}
        for name, peer in party.items():
            for other in party:
                before_mute, after_mute = _tone_before_and_after(peer, TONES[other], after)
                if other == name:
                    assert before_mute < -50, f"{name} hears itself ({before_mute:.0f} dBFS)"
                    continue
                assert before_mute > -40, f"{name} does not hear {other} ({before_mute:.0f})"
                if other == "carol":
                    assert after_mute < -50, f"{name} still hears carol ({after_mute:.0f})"
        # The satellite's last caller gone, its cascade leg goes too.
        cluster.wait("the conference empty on the holder",
                     lambda: running.api("GET", path).json() == [])
    finally:
        for peer in (alice, bob, carol):
            peer.close()


def test_mcu_cluster_shows_the_nodes_and_where_conferences_live(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    shown = subprocess.run([str(MCU), "cluster"], env=a.env(), capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert {n["node_id"]: n["alive"] for n in status["nodes"]} == {"a": True, "b": True}
    assert {n["node_id"]: n["sip_uri"] for n in status["nodes"]} == {
        name: node.sip_uri for name, node in cluster.nodes.items()}


@pytest.mark.parametrize("user", [
    "7001';DELETE/**/FROM/**/cluster_nodes;--",  # into Kamailio's SQL: never
    "abc",
])
def test_a_number_that_is_no_conference_is_404_at_kamailio(cluster: Cluster,
                                                          user: str) -> None:
    answer = _invite_answer(cluster.front.host, cluster.front.port, user)
    assert answer.startswith("SIP/2.0 404"), answer
    assert {n["node_id"] for n in cluster.nodes["a"].cluster()["nodes"]} == {"a", "b"}


def _invite_answer(host: str, port: int, user: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        me = sock.getsockname()[1]
        request = (
            f"INVITE sip:{user}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};rport;branch=z9hG4bK-{os.urandom(6).hex()}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\n"
            f"To: <sip:{user}@{host}>\r\nCall-ID: {os.urandom(8).hex()}@probe\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:probe@127.0.0.1:{me}>\r\n"
            "Content-Length: 0\r\n\r\n")
        sock.sendto(request.encode(), (host, port))
        while True:
            data = sock.recv(65535).decode(errors="replace")
            if not data.startswith("SIP/2.0 1"):
                return data


def test_an_ad_hoc_conference_on_one_node_is_listed_and_run_from_the_other(
        cluster: Cluster) -> None:
    """A conference nobody configured (``live-N``) lives only in its node's memory: the
    other node lists it (from the leases) and passes its control to that node."""
    a = cluster.nodes["a"]
    dave = cluster.peer("dave")
    try:
        dave.dial(cluster.front.dial_uri(AD_HOC))
        dave.wait_established(timeout=15)
        holder = cluster.wait("a lease for the ad hoc conference", lambda: a.holder(AD_HOC))
        other = next(n for n in cluster.nodes.values() if n.name != holder)
        listed = cluster.wait("the other node listing it", lambda: [
            c for c in other.api("GET", "/conferences").json() if c["numeric_id"] == AD_HOC])
        assert listed[0]["id"] == f"live-{AD_HOC}" and listed[0]["ad_hoc"] is True
        path = f"/conferences/live-{AD_HOC}/participants"
        [dave_there] = other.api("GET", path).json()
        assert dave_there["display_name"] == "dave"
        mark = len(dave.log_lines())
        dropped = other.api("DELETE", f"{path}/{dave_there['id']}")
        assert dropped.status_code == 204, dropped.text
        dave.wait_terminated(timeout=10, after=mark)
        cluster.wait("its lease gone", lambda: a.holder(AD_HOC) is None)
    finally:
        dave.close()


def _lease(node: Node) -> dict[str, Any]:
    leases = {c["numeric_id"]: c for c in node.cluster()["conferences"]}
    return leases.get(CONFERENCE) or {"participants": -1, "node_id": None}


def test_a_killed_node_s_conference_comes_up_on_the_other_for_the_next_callers(
        cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    carol = cluster.peer("carol")
    try:
        carol.dial(cluster.front.dial_uri(CONFERENCE))
        carol.wait_established(timeout=15)
        holder = cluster.wait("a lease for the conference", lambda: a.holder(CONFERENCE))
        survivor, dead = (b, a) if holder == "a" else (a, b)
        dave = cluster.peer("dave")
        dead.kill()  # no BYE, no goodbye: its lease stays behind, unexpired
        killed_at = time.monotonic()
        # Kamailio's pings find it gone (its OPTIONS transaction times out)...
        cluster.front.wait_log(f"cluster: node {dead.sip_uri} is down", timeout=LEASE_S)
        # ...and the conference's next caller brings it up on the survivor at once,
        # well before the dead node's lease would have expired.
        dave.dial(cluster.front.dial_uri(CONFERENCE))
        dave.wait_established(timeout=10)
        assert survivor.holder(CONFERENCE) == survivor.name
        assert time.monotonic() - killed_at < LEASE_S
        cluster.front.wait_log(f"cluster: {dead.name} holding {CONFERENCE} is down")
        # The next callers join it there and hear each other.
        carol.close()
        carol = cluster.peer("carol")
        carol.dial(cluster.front.dial_uri(CONFERENCE))
        carol.wait_established(timeout=10)
        path = f"/conferences/{cluster.conference_id}/participants"
        cluster.wait("both on the survivor",
                     lambda: len(survivor.api("GET", path).json()) == 2)
        time.sleep(3.0)
        for peer in (carol, dave):
            peer.hangup()
        time.sleep(0.3)
        assert _tone_before_and_after(carol, TONES["dave"], 1.0)[0] > -40
        assert _tone_before_and_after(dave, TONES["carol"], 1.0)[0] > -40
        # The killed node stays listed (it did not leave cleanly), no longer alive.
        cluster.wait("the killed node seen dead", lambda: {
            n["node_id"]: n["alive"] for n in survivor.cluster()["nodes"]}.get(dead.name)
            is False)
    finally:
        carol.close()
        dave.close()
