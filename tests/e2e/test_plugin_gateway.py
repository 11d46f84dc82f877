"""A gateway is a plug-in: a protocol the MCU has never heard of joins a conference.

The loopback gateway (tests/loopback_gateway) is registered with one line and carries
real RTP through the shared media session: a tone its first caller sends from a plain
UDP socket is heard, mixed, by its second caller's socket; dial-out reaches it by its
scheme; unknown schemes are refused; every port comes back.
"""

from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest

from gateway.gateway import UnsupportedUri
from gateway.leg import Refuse, RefuseCause
from mcu.app import Mcu
from mcu.gateways import GATEWAYS
from mcu.mixer.codecs import make_decoder, make_encoder
from tests.e2e.conftest import RunningMcu, mcu_settings
from tests.loopback_gateway import PCMU, LoopbackGateway
from tests.peers.audio_analysis import tone_level_db


class PluginMcu(RunningMcu):
    def start(self) -> PluginMcu:
        self._thread.start()

        async def create() -> Mcu:
            mcu = Mcu(self.settings, gateways=(*GATEWAYS, LoopbackGateway.factory))
            await mcu.start()
            return mcu

        self.mcu = self.run(create())
        return self


@pytest.fixture
def mcu():
    running = PluginMcu(mcu_settings()).start()
    yield running
    running.stop()


def rtp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.02)
    return sock


def loop(m: Mcu) -> LoopbackGateway:
    gateway = m.gateway("loop")
    assert isinstance(gateway, LoopbackGateway)
    return gateway


def send_tone_and_listen(talker: socket.socket, to: tuple[str, int], listener: socket.socket,
                         seconds: float) -> np.ndarray:
    """Send 440 Hz PCMU at real time from ``talker``; return what ``listener`` got."""
    encoder, decoder = make_encoder(PCMU), make_decoder(PCMU)
    heard: list[np.ndarray] = []
    start = time.monotonic()
    for n in range(int(seconds * 50)):
        t = (np.arange(160) + n * 160) / 8000
        pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        header = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, n * 160, 0x1234)
        talker.sendto(header + encoder.encode(pcm), to)
        while time.monotonic() < start + (n + 1) * 0.02:
            try:
                data = listener.recv(2048)
            except TimeoutError:
                continue
            if len(data) > 12 and data[1] & 0x7F == 0:
                heard.append(decoder.decode(data[12:]))
    return np.concatenate(heard) if heard else np.zeros(0, np.int16)


def test_a_plugin_gateway_joins_a_conference_and_carries_media(mcu: PluginMcu) -> None:
    alice, bob = rtp_socket(), rtp_socket()
    ids = [mcu.inspect(lambda m, s=s: loop(m).ring("5000", s.getsockname())) for s in (alice, bob)]
    assert all(isinstance(leg_id, str) for leg_id in ids)
    views = mcu.inspect(lambda m: m.participants("5000"))
    assert {(v.id, v.protocol, v.state) for v in views} == {(i, "loop", "connected") for i in ids}
    assert [c.numeric_id for c in mcu.inspect(lambda m: m.conferences()) if c.ad_hoc] == ["5000"]
    alice_port = mcu.inspect(lambda m: loop(m).local_port(ids[0]))
    heard = send_tone_and_listen(alice, ("127.0.0.1", alice_port), bob, seconds=1.5)
    assert tone_level_db(heard[4000:], 8000, 440.0) > 20  # Bob hears Alice's tone
    stats = mcu.inspect(lambda m: m.statistics("5000", ids[1]))
    assert stats["protocol"] == "loop" and stats["audio"]["codec"] == "PCMU"
    assert mcu.inspect(lambda m: loop(m).statistics()) == {"calls": 2, "rtp_ports_in_use": 4}
    assert mcu.inspect(lambda m: m.drop("5000", ids[0]))
    mcu.wait_until(lambda m: len(m.participants("5000")) == 1)
    alice.close()
    bob.close()


def test_dial_out_goes_to_the_gateway_of_the_scheme(mcu: PluginMcu) -> None:
    peer = rtp_socket()
    host, port = peer.getsockname()
    assert mcu.inspect(lambda m: m.dial_schemes()) == ["h323", "loop", "rtsp", "sip", "sips"]
    leg_id = mcu.inspect(lambda m: m.dial_out("7000", f"loop:carol@{host}:{port}"))
    assert [v.id for v in mcu.inspect(lambda m: m.participants("7000"))] == [leg_id]

    def refused(uri: str) -> str:
        def attempt(m: Mcu) -> str:
            try:
                m.dial_out("7000", uri)
            except UnsupportedUri as error:
                return str(error)
            return "accepted"
        return mcu.inspect(attempt)

    assert "schemes served: h323, loop, rtsp, sip" in refused("webrtc:room@127.0.0.1")
    assert "schemes served" in refused("no-scheme-here")
    assert "loop:NAME@HOST:PORT" in refused("loop:nobody")
    assert [v.id for v in mcu.inspect(lambda m: m.participants("7000"))] == [leg_id]
    peer.close()


def test_refusals_are_causes_and_nothing_leaks(mcu: PluginMcu) -> None:
    peer = rtp_socket()
    refused = mcu.inspect(lambda m: loop(m).ring("not-a-number", peer.getsockname()))
    assert isinstance(refused, Refuse) and refused.cause == RefuseCause.NOT_FOUND
    mcu.inspect(lambda m: loop(m).ring("5001", peer.getsockname()))
    mcu.inspect(lambda m: m.end_conference("5001"))
    mcu.wait_until(lambda m: loop(m).statistics() == {"calls": 0, "rtp_ports_in_use": 0}
                   and m.ports.in_use == 0 and m.directory.total_seats == 0)
    peer.close()
