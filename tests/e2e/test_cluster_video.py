"""A cascade carries pictures too (issue 18): real PostgreSQL, Kamailio and two
``mcu serve`` nodes with video; baresips send solid colours. Alice (red) and Bob
(green) fill conference 7001's share of its node, so Carol (blue) lands on the other
node, which joins the conference there by a cascade leg. Each sees the others and not
themselves: Carol's one tile is the holder's picture for the cascade leg (red and
green), Alice's tiles are Bob and the cascade leg (Carol's blue)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.peers import pictures
from tests.peers.baresip import BaresipPeer
from tests.peers.mcu_cluster import CONFERENCE, VIDEO_ENV, Cluster, running_cluster

pytestmark = pytest.mark.peer
NAMES = {"red": "alice", "green": "bob", "blue": "carol"}
PICTURE_TIMEOUT = 40.0  # two nodes' encoders and three peers on two cores
_shots = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster-video"), cascade_after=2,
                         node_env=VIDEO_ENV) as running:
        yield running


def seen(peer: BaresipPeer, folder: Path, want: list[str]) -> np.ndarray:
    """Snapshots of what ``peer`` receives until its 2x2 cells are named ``want``."""
    deadline = time.monotonic() + PICTURE_TIMEOUT
    while True:
        path = peer.snapshot(folder / f"{peer.name}-{next(_shots)}.png")
        image = pictures.load_rgb(path)
        names = pictures.grid_names(image, 2)
        if names == want:
            return image
        if time.monotonic() > deadline:
            raise AssertionError(f"{peer.name} never saw {want}; last {path.name}: "
                                 f"{pictures.describe(image, pictures.grid(2))}")
        time.sleep(0.5)


def test_both_sides_of_a_cascade_see_each_other(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    alice, bob, carol = (cluster.peer(name, video_codec="H264")
                         for name in ("alice", "bob", "carol"))
    try:
        for peer in (alice, bob):
            peer.dial(cluster.front.dial_uri(CONFERENCE))
            peer.wait_established(timeout=15)
            cluster.wait(f"{peer.name} counted in the lease",
                         lambda n=peer: _lease_count(a) >= (1 if n is alice else 2))
        holder = a.holder(CONFERENCE)
        satellite = next(name for name in cluster.nodes if name != holder)
        carol.dial(cluster.front.dial_uri(CONFERENCE))
        carol.wait_established(timeout=15)
        cluster.front.wait_log(f"cluster: {CONFERENCE} is full on {holder}: cascading from "
                               f"{satellite}")
        # Carol's only tile is the cascade leg: the holder's picture of Alice and Bob.
        seen(carol, cluster.folder, ["red", "green", "black", "black"])
        # Alice sees Bob and the cascade leg, whose picture is Carol's.
        seen(alice, cluster.folder, ["green", "blue", "black", "black"])
        seen(bob, cluster.folder, ["red", "blue", "black", "black"])
    finally:
        for peer in (alice, bob, carol):
            peer.close()


def _lease_count(node) -> int:
    leases = {c["numeric_id"]: c for c in node.cluster()["conferences"]}
    lease = leases.get(CONFERENCE)
    return int(lease["participants"]) if lease else 0
