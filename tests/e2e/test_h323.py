"""H.323 endpoints in conferences (issue 13), proven with an independent H.323 stack:
ooh323c's test endpoint `simple` (tests/peers/ooh323.py) dials a running MCU with Fast
Connect and tunnelling, without Fast Connect, and without tunnelling (H.245 on its own
connection). In each mode it is listed as a participant, a SIP baresip in the same
conference hears its tone (its RTP reaches the mixer) and it plays the baresip's tone
(the MCU's RTP reaches it): FFTs of both ends. PIN entry by userInputIndication, a
number no conference answers (cause 1), and tshark's H.225.0/H.245 dissectors reading
every message of a call without a malformed packet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningMcu
from tests.peers.audio_analysis import hears, tone_dbfs, tone_level_db
from tests.peers.baresip import BaresipPeer
from tests.peers.ooh323 import OohPeer, require_simple
from tests.peers.tshark import capture, dissect

pytestmark = pytest.mark.peer
SIP_TONE, H323_TONE = 440.0, 1000.0
TALK_SECONDS = 3.0
MODES = {  # name: (fast_start, tunnelling)
    "fast-start-tunnelled": (True, True),
    "no-fast-start-tunnelled": (False, True),
    "no-fast-start-separate-h245": (False, False),
}


def configure(mcu: RunningMcu, numeric_id: str, **fields: object) -> None:
    mcu.run(mcu.mcu.store.create_conference(f"Room {numeric_id}", numeric_id, **fields))
    mcu.run(mcu.mcu.refresh_conferences())


def h323_address(mcu: RunningMcu) -> str:
    return f"127.0.0.1:{mcu.inspect(lambda m: m.gateway('h323').port)}"


def states(mcu: RunningMcu, numeric_id: str) -> list[tuple[str, str | None, str]]:
    return sorted(mcu.inspect(lambda m: [(p.state, p.role, p.protocol)
                                         for p in m.participants(numeric_id)]), key=str)


def wait_states(mcu: RunningMcu, numeric_id: str, expected: list[tuple[str, str | None, str]],
                timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if states(mcu, numeric_id) == sorted(expected, key=str):
            return
        time.sleep(0.05)
    raise AssertionError(f"{numeric_id}: {states(mcu, numeric_id)} != {expected}")


def h323_calls(mcu: RunningMcu) -> list[dict[str, object]]:
    def read(m) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
        return [{"tunnelling": c.core.tunnelling, "separate_h245": c.core._h245_separate,
                 "stats": c.leg.statistics() if c.leg else None}
                for c in m.gateway("h323")._calls.values()]
    return mcu.inspect(read)


@pytest.fixture
def ooh323() -> Iterator[list[OohPeer]]:
    require_simple()
    started: list[OohPeer] = []
    yield started
    for peer in started:
        peer.close()


def dial(started: list[OohPeer], mcu: RunningMcu, user: str, **options: object) -> OohPeer:
    peer = OohPeer(f"{user}@{h323_address(mcu)}" if user else h323_address(mcu),
                   **options)  # type: ignore[arg-type]
    started.append(peer.start())
    return peer


def sip_call(peer: BaresipPeer, mcu: RunningMcu, user: str) -> None:
    peer.dial(f"sip:{user}@{mcu.uri_host}")
    peer.wait_established()


@pytest.mark.parametrize("mode", list(MODES))
def test_an_h323_endpoint_joins_hears_and_is_heard(start_mcu, peers, ooh323, mode: str) -> None:
    fast_start, tunnelling = MODES[mode]
    mcu = start_mcu()
    configure(mcu, "4321")
    sip = peers("sip", SIP_TONE, ["pcmu"])
    sip_call(sip, mcu, "4321")
    h323 = dial(ooh323, mcu, "4321", fast_start=fast_start, tunnelling=tunnelling,
                tone=H323_TONE)
    wait_states(mcu, "4321", [("connected", "participant", "sip"),
                              ("connected", "participant", "h323")])
    (call,) = h323_calls(mcu)
    assert call["tunnelling"] is tunnelling and call["separate_h245"] is not tunnelling
    time.sleep(TALK_SECONDS)
    stats = h323_calls(mcu)[0]["stats"]
    assert stats["audio"]["codec"] == "PCMU" and stats["audio"]["received"] > 50  # type: ignore[index]
    heard_by_h323 = h323.received(skip_seconds=1.0)
    h323.hang_up()
    wait_states(mcu, "4321", [("connected", "participant", "sip")])
    sip.hangup()
    time.sleep(0.3)
    # Its RTP reached the mixer: the SIP caller hears the H.323 endpoint's tone ...
    assert hears(sip.received_wav_path(), H323_TONE, skip_seconds=1.5)
    # ... and the MCU's reached it: what it played holds the SIP caller's tone, alone.
    assert heard_by_h323.seconds > 1.0
    assert tone_dbfs(heard_by_h323.samples, 8000, SIP_TONE) > -40
    assert tone_level_db(heard_by_h323.samples, 8000, SIP_TONE) > 20
    assert tone_level_db(heard_by_h323.samples, 8000, H323_TONE) < 10  # not itself
    mcu.wait_idle()
    assert mcu.inspect(lambda m: m.gateway("h323").statistics()["rtp_ports_in_use"]) == 0


def test_the_mcu_dials_an_h323_endpoint_out(start_mcu, peers, ooh323) -> None:
    mcu = start_mcu()
    configure(mcu, "4321")
    sip = peers("sip", SIP_TONE, ["pcmu"])
    sip_call(sip, mcu, "4321")
    room = OohPeer(tone=H323_TONE).start()  # listening, answering every call
    ooh323.append(room)
    room.wait_for("Listening for Calls", timeout=10)
    uri = f"h323:room@127.0.0.2:{room.port}"
    assert "h323" in mcu.inspect(lambda m: m.dial_schemes())
    mcu.run(_dial(mcu, "4321", uri))
    wait_states(mcu, "4321", [("connected", "participant", "sip"),
                              ("connected", "participant", "h323")])
    time.sleep(TALK_SECONDS)
    heard_by_room = room.received(skip_seconds=1.0)
    room.hang_up()
    wait_states(mcu, "4321", [("connected", "participant", "sip")])
    sip.hangup()
    time.sleep(0.3)
    assert hears(sip.received_wav_path(), H323_TONE, skip_seconds=1.5)
    assert tone_level_db(heard_by_room.samples, 8000, SIP_TONE) > 20
    mcu.wait_idle()


async def _dial(mcu: RunningMcu, numeric_id: str, uri: str) -> str:
    return mcu.mcu.dial_out(numeric_id, uri)


def test_a_pin_keyed_as_user_input_admits_the_h323_caller(start_mcu, ooh323) -> None:
    mcu = start_mcu()
    configure(mcu, "5555", pin="2468")
    h323 = dial(ooh323, mcu, "5555")
    wait_states(mcu, "5555", [("lobby", None, "h323")])
    time.sleep(0.5)
    h323.send_digits("2468#")  # H.245 userInputIndication, as our capabilities ask
    wait_states(mcu, "5555", [("connected", "participant", "h323")])
    h323.hang_up()
    wait_states(mcu, "5555", [])
    mcu.wait_idle()


def test_a_number_no_conference_answers_is_released_with_cause_1(start_mcu, ooh323) -> None:
    mcu = start_mcu(conferences={"ad_hoc": False})  # only configured IDs exist
    h323 = dial(ooh323, mcu, "999999")
    # ooh323c reads Q.931 cause 1 (unallocated number) as "no such user"
    h323.wait_for("Ended - OO_REASON_NOUSER", timeout=10)
    assert mcu.inspect(lambda m: m.gateway("h323").statistics()["refused"]) == 1
    mcu.wait_idle()


@pytest.mark.parametrize("mode", list(MODES))
def test_tshark_reads_every_message_of_a_call_without_error(start_mcu, ooh323,
                                                            mode: str) -> None:
    fast_start, tunnelling = MODES[mode]
    mcu = start_mcu()
    configure(mcu, "4321")
    port = mcu.inspect(lambda m: m.gateway("h323").port)
    with capture("tcp and host 127.0.0.2") as path:
        h323 = dial(ooh323, mcu, "4321", fast_start=fast_start, tunnelling=tunnelling)
        wait_states(mcu, "4321", [("connected", "participant", "h323")])
        time.sleep(1.0)
        h323.hang_up()
        wait_states(mcu, "4321", [])
    # tshark finds Q.931 over TPKT on any port by its heuristic (as on 1720)
    ours = dissect(path, "-Y", f"tcp.srcport=={port} && q931",
                   "-T", "fields", "-e", "q931.message_type")
    kinds = {line.split("\t")[0] for line in ours.splitlines()}
    expected = {"0x02", "0x07"} | ({"0x62"} if tunnelling else set())  # + Facility
    assert expected <= kinds, ours  # CallProceeding, Connect
    bad = dissect(path, "-Y", "_ws.malformed || _ws.expert.severity >= 0x00800000")
    assert bad.strip() == "", bad  # no malformed packet, no expert error
    # ours, tunnelled in H.225.0 or on the H.245 connection (which tshark follows from
    # the h245Address of our Connect)
    h245 = dissect(path, "-Y", "ip.src==127.0.0.1 && h245.terminalCapabilitySet_element")
    assert h245.strip(), "our H.245 was not dissected"


def test_a_sip_caller_reaches_an_h323_endpoint_through_the_dial_plan(start_mcu, peers,
                                                                      ooh323) -> None:
    room = OohPeer(tone=H323_TONE).start()  # an H.323-only room system, answering
    ooh323.append(room)
    room.wait_for("Listening for Calls", timeout=10)
    rule = {"prefix": "8", "uri": f"h323:{{number}}@127.0.0.2:{room.port}"}
    mcu = start_mcu(dial_plan={"rules": [rule]})
    sip = peers("sip", SIP_TONE, ["pcmu"])
    sip_call(sip, mcu, "8123")  # no conference 8123: the dial plan's number

    def gateway_calls(m) -> list[list[str]]:  # type: ignore[no-untyped-def]
        return [sorted(p.protocol for p in m.participants(c.numeric_id))
                for c in m.conferences()]
    mcu.wait_until(lambda m: gateway_calls(m) == [["h323", "sip"]], timeout=15)
    time.sleep(TALK_SECONDS)
    room_hangs_up(mcu, sip, room, SIP_TONE, H323_TONE)


def room_hangs_up(mcu: RunningMcu, sip: BaresipPeer, room: OohPeer, sip_tone: float,
                  room_tone: float) -> None:
    """The H.323 side of a gateway call hangs up, which ends the call (either side
    leaving does); each side heard the other's tone; nothing is left."""
    heard_by_room = room.received(skip_seconds=1.0)
    room.hang_up()
    sip.wait_terminated(timeout=10)
    time.sleep(0.3)
    assert hears(sip.received_wav_path(), room_tone, skip_seconds=1.5)
    assert tone_level_db(heard_by_room.samples, 8000, sip_tone) > 20
    mcu.wait_until(lambda m: m.conferences() == [], timeout=10)
    mcu.wait_idle()


def test_an_h323_caller_reaches_a_sip_endpoint_through_the_dial_plan(start_mcu, peers,
                                                                      ooh323) -> None:
    sip = peers("room", SIP_TONE, ["pcmu"])  # a SIP-only endpoint, answering
    mcu = start_mcu(dial_plan={"rules": [{"prefix": "7", "uri": sip.aor}]})
    h323 = dial(ooh323, mcu, "71", tone=H323_TONE)
    sip.wait_established(timeout=15)
    time.sleep(TALK_SECONDS)
    heard_by_h323 = h323.received(skip_seconds=1.0)
    sip.hangup()
    h323.wait_for("Ended", timeout=10)
    time.sleep(0.3)
    assert hears(sip.received_wav_path(), H323_TONE, skip_seconds=1.5)
    assert tone_level_db(heard_by_h323.samples, 8000, SIP_TONE) > 20
    mcu.wait_until(lambda m: m.conferences() == [], timeout=10)
    mcu.wait_idle()
