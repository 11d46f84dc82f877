"""A gateway call passes media through where the two parties' codecs match, and
transcodes only where they differ (issue 13), proven on the wire.

Audio: a SIP baresip reaches an H.323-only room system (ooh323c's `simple`) through
the dial plan. Both speak G.711 u-law, so tshark sees the very bytes each sends
arrive at the other (tones whose u-law bytes never repeat, so a match is no chance;
ooh323c stamps its 20 ms packets 240 ticks (30 ms) apart, so its jitter buffer has a
frame for two ticks in three and the third goes out as silence, where the mixer
would conceal it),
and the MCU's metrics count the frames passed through. A baresip that offers only
G.722 is transcoded: both still hear each other, nothing is passed through.

Video: two SIP baresips, one calling the other through the dial plan, both sending
VP8 (and both H.264). Each decodes the other's own pictures at the size the other
sends (a mixed picture would be the MCU's canvas size), in the colour it sends; the
MCU encodes nothing.
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import MCU_RTP_PORTS, RunningMcu
from tests.e2e.test_h323 import room_hangs_up, sip_call
from tests.e2e.test_video_conference import VIDEO, snapshot_where, video_peers  # noqa: F401 -- fixture
from tests.peers import pictures
from tests.peers.baresip import BaresipPeer
from tests.peers.ooh323 import OohPeer, require_simple
from tests.peers.tshark import capture, fields

pytestmark = pytest.mark.peer
SIP_TONE, ROOM_TONE = 443.0, 1013.0  # neither divides 8 kHz: no short repeats in u-law
TALK_SECONDS = 3.0
SILENT_FRAME = b"\xff" * 160  # 20 ms of u-law silence
SENT_SIZE = (320, 240)  # what the video parties send; the MCU's canvas is 640x360


@pytest.fixture
def room() -> Iterator[OohPeer]:
    """An H.323-only room system, answering on 127.0.0.2."""
    require_simple()
    peer = OohPeer(tone=ROOM_TONE).start()
    try:
        peer.wait_for("Listening for Calls", timeout=10)
        yield peer
    finally:
        peer.close()


def relayed_frames(mcu: RunningMcu, kind: str) -> float:
    """``mcu_mixer_relayed_frames`` of one mixer kind, read over HTTP as Prometheus does."""
    url = f"http://127.0.0.1:{mcu.mcu.web.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mcu_mixer_relayed_frames_total" and sample.labels == {"kind": kind}:
                return sample.value
    raise AssertionError("mcu_mixer_relayed_frames is not in /metrics")


def gateway_call_up(mcu: RunningMcu, protocols: list[str]) -> None:
    def calls(m) -> list[list[str]]:  # type: ignore[no-untyped-def]
        return [sorted(p.protocol for p in m.participants(c.numeric_id))
                for c in m.conferences()]
    mcu.wait_until(lambda m: calls(m) == [protocols], timeout=15)


def rtp_capture() -> contextlib.AbstractContextManager[Path]:
    """Every UDP datagram from or to the MCU's media ports or the room system."""
    low, high = MCU_RTP_PORTS
    return capture(f"udp and (host 127.0.0.2 or portrange {low}-{high})")


def rtp_payloads(path: Path, payload_type: int) -> dict[tuple[str, str], bytes]:
    """Each (source, destination) "ip:port" pair's RTP payloads of one type, in order."""
    streams: dict[tuple[str, str], list[bytes]] = {}
    for row in fields(path, "ip.src", "udp.srcport", "ip.dst", "udp.dstport", "udp.payload"):
        if len(row) != 5 or not row[4]:
            continue
        datagram = bytes.fromhex(row[4].replace(":", ""))
        if len(datagram) < 12 or datagram[0] >> 6 != 2 or datagram[1] & 0x7F != payload_type:
            continue  # not RTP of that type (RTCP's second byte is 200-206)
        start = 12 + 4 * (datagram[0] & 0x0F)
        if datagram[0] & 0x10:  # a header extension: skip its words too
            start += 4 + 4 * int.from_bytes(datagram[start + 2:start + 4], "big")
        key = (f"{row[0]}:{row[1]}", f"{row[2]}:{row[3]}")
        streams.setdefault(key, []).append(datagram[start:])
    return {key: b"".join(parts) for key, parts in streams.items()}


def ours(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    return host == "127.0.0.1" and MCU_RTP_PORTS[0] <= int(port) <= MCU_RTP_PORTS[1]


def streams_of(streams: dict[tuple[str, str], bytes], port: str) -> tuple[bytes, bytes]:
    """What reached one of the MCU's media ports, and what left it."""
    came = b"".join(v for (_, dst), v in streams.items() if dst == port)
    went = b"".join(v for (src, _), v in streams.items() if src == port)
    return came, went


def passed_untouched(sent: bytes, received: bytes) -> bool:
    """Whether the 20 ms frames that arrived (leaving out silence, which the MCU sends
    where the sender's frame is missing) are, nearly all, bytes the sender sent."""
    frames = [received[i:i + 160] for i in range(0, len(received) - 159, 160)]
    spoken = [frame for frame in frames if frame != SILENT_FRAME]
    return len(spoken) > 50 and sum(frame in sent for frame in spoken) >= 0.95 * len(spoken)


def call_the_room(start_mcu, peers, room: OohPeer, codec: str  # type: ignore[no-untyped-def]
                  ) -> tuple[RunningMcu, BaresipPeer]:
    """A SIP caller offering only ``codec`` reaches the room system by the dial plan."""
    rule = {"prefix": "8", "uri": f"h323:{{number}}@127.0.0.2:{room.port}"}
    mcu = start_mcu(dial_plan={"rules": [rule]})
    sip = peers("sip", SIP_TONE, [codec])
    sip_call(sip, mcu, "8123")
    gateway_call_up(mcu, ["h323", "sip"])
    time.sleep(TALK_SECONDS)
    return mcu, sip


def test_one_codec_both_sides_passes_the_audio_through_untouched(start_mcu, peers, room):
    with rtp_capture() as path:
        mcu, sip = call_the_room(start_mcu, peers, room, "pcmu")
        relayed = relayed_frames(mcu, "audio")
        room_hangs_up(mcu, sip, room, SIP_TONE, ROOM_TONE)
    streams = rtp_payloads(path, 0)
    # The room system sends from another address than it takes media on: tell the
    # legs apart by the MCU's own port of each.
    room_port = next(src for src, dst in streams if dst.startswith("127.0.0.2:"))
    sip_port = next(src for src, _ in streams if ours(src) and src != room_port)
    from_room, to_room = streams_of(streams, room_port)
    from_sip, to_sip = streams_of(streams, sip_port)
    assert passed_untouched(from_room, to_sip), "the room's u-law did not reach the SIP caller"
    assert passed_untouched(from_sip, to_room), "the SIP caller's u-law did not reach the room"
    assert relayed > 2 * 50 * (TALK_SECONDS - 1)  # both ways, 50 frames a second


def test_codecs_that_differ_are_transcoded_both_ways(start_mcu, peers, room):
    mcu, sip = call_the_room(start_mcu, peers, room, "g722")  # the room: G.711 only
    assert relayed_frames(mcu, "audio") == 0
    room_hangs_up(mcu, sip, room, SIP_TONE, ROOM_TONE)


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_two_video_parties_of_one_codec_see_each_others_own_pictures(
        start_mcu, video_peers, tmp_path, codec):  # noqa: F811
    callee = video_peers("green", codec, 800.0, video_size=SENT_SIZE)  # answers
    rule = {"prefix": "7", "uri": callee.aor}
    mcu = start_mcu(video=VIDEO | {"codecs": [codec]}, dial_plan={"rules": [rule]})
    caller = video_peers("red", codec, 440.0, video_size=SENT_SIZE)
    caller.dial(f"sip:71@{mcu.uri_host}")
    caller.wait_established(timeout=15)
    callee.wait_established(timeout=15)
    gateway_call_up(mcu, ["sip", "sip"])
    # The other's own pictures: the size it sends (a mixed picture would be the MCU's
    # 640x360 canvas), whole, in its colour.
    for viewer, colour in ((caller, "green"), (callee, "red")):
        snapshot_where(viewer, tmp_path, lambda image, colour=colour: sent_whole(image, colour),
                       1, f"{colour} at {SENT_SIZE[0]}x{SENT_SIZE[1]}")
    relayed = relayed_frames(mcu, "video")
    encoded = mcu.inspect(encodes)
    time.sleep(2.0)
    assert relayed_frames(mcu, "video") > relayed + 15  # both ways, at 15 fps
    assert mcu.inspect(encodes) == encoded  # the MCU makes no picture for either
    caller.hangup()
    callee.wait_terminated(timeout=10)
    mcu.wait_until(lambda m: m.conferences() == [], timeout=10)
    mcu.wait_idle()


def encodes(m) -> float:  # type: ignore[no-untyped-def]
    (call,) = m.conferences()
    return m.directory.get(call.numeric_id).video.counters["encoded"]


def sent_whole(image: object, colour: str) -> bool:
    height, width = image.shape[:2]  # type: ignore[attr-defined]
    return ((width, height) == SENT_SIZE
            and pictures.grid_names(image, 1) == [colour])  # type: ignore[arg-type]
