"""Real SIP peers (baresip) in conferences on the MCU: an FFT of what each received."""

from __future__ import annotations

import re
import time

import pytest

from mcu.app import Mcu
from tests.e2e.conftest import TONES
from tests.peers.audio_analysis import hears

pytestmark = pytest.mark.peer
TALK_SECONDS = 3.0


def dial_all(peers, uri: str) -> None:
    for peer in peers:
        peer.dial(uri)
        peer.wait_established()


def hang_up_all(peers) -> None:
    for peer in peers:
        peer.hangup()
    time.sleep(0.3)  # let sndfile close its recordings


def assert_hears_others_not_self(peers, tones) -> None:
    for peer, own in zip(peers, tones, strict=True):
        wav = peer.received_wav_path()
        assert wav is not None, f"{peer.name} recorded nothing\n{peer.log_tail()}"
        for tone in tones:
            heard = hears(wav, tone, skip_seconds=1.0)
            if tone == own:
                assert not heard, f"{peer.name} hears its own {tone} Hz"
            else:
                assert heard, f"{peer.name} does not hear {tone} Hz"


@pytest.mark.parametrize("codec", ["pcmu", "g722", "opus"])
def test_three_parties_hear_each_other_and_not_themselves(start_mcu, peers, codec):
    mcu = start_mcu()
    party = [peers(f"p{i}", tone, [codec]) for i, tone in enumerate(TONES)]
    dial_all(party, f"sip:1000@{mcu.uri_host}")
    assert mcu.inspect(lambda m: len(m.directory.get("1000").participants)) == 3
    time.sleep(TALK_SECONDS)
    hang_up_all(party)  # BYE from the peers' side
    assert_hears_others_not_self(party, TONES)
    mcu.wait_idle()


def test_a_call_over_tcp_joins_the_udp_callers(start_mcu, peers):
    mcu = start_mcu()
    party = [peers("tcp", TONES[0], ["pcmu"], transport="tcp"),
             peers("udp", TONES[1], ["pcmu"])]
    party[0].dial(f"sip:2000@{mcu.uri_host};transport=tcp")
    party[0].wait_established()
    party[1].dial(f"sip:2000@{mcu.uri_host}")
    party[1].wait_established()
    time.sleep(TALK_SECONDS)
    hang_up_all(party)
    assert_hears_others_not_self(party, TONES[:2])
    mcu.wait_idle()


def _sessions(mcu: Mcu) -> list:
    return list(mcu.gateway("sip").calls.values())


def test_hold_and_resume_by_reinvite(start_mcu, peers):
    mcu = start_mcu()
    holder, other = peers("holder", TONES[0], ["pcmu"]), peers("other", TONES[1], ["pcmu"])
    dial_all([holder, other], f"sip:3000@{mcu.uri_host}")
    holder_call = lambda m: next(c for c in m.gateway("sip").calls.values()  # noqa: E731
                                 if c.info.remote.endswith(f":{holder.sip_port}"))
    holder.hold()
    mcu.wait_until(lambda m: holder_call(m).negotiated.on_hold)
    assert mcu.inspect(lambda m: holder_call(m).media.audio.sending) is False  # we stop sending
    holder.resume()
    mcu.wait_until(lambda m: not holder_call(m).negotiated.on_hold)
    def received(m: Mcu) -> int:
        return holder_call(m).media.audio.session.counters["received"]

    before = mcu.inspect(received)
    time.sleep(1.0)
    assert mcu.inspect(received) > before + 20
    assert mcu.inspect(lambda m: holder_call(m).media.audio.sending) is True
    hang_up_all([holder, other])
    mcu.wait_idle()


def test_the_mcu_hangs_up_with_bye(start_mcu, peers):
    mcu = start_mcu()
    peer = peers("byed", TONES[0], ["pcmu"])
    dial_all([peer], f"sip:4000@{mcu.uri_host}")
    mark = peer.mark()

    async def hang_up_everyone(m: Mcu) -> None:
        for participant in list(m.directory.get("4000").participants.values()):
            await participant.leg.hang_up("operator")

    mcu.run(hang_up_everyone(mcu.mcu))
    peer.wait_terminated(after=mark)
    mcu.wait_idle()


def test_a_killed_peer_is_ended_by_rtp_timeout_and_its_ports_freed(start_mcu, peers):
    mcu = start_mcu(rtp={"inactivity_timeout": 1.5})
    victim, survivor = peers("victim", TONES[0], ["pcmu"]), peers("survivor", TONES[1], ["pcmu"])
    dial_all([victim, survivor], f"sip:5000@{mcu.uri_host}")
    assert mcu.counts()["rtp_ports"] == 2
    victim.kill9()
    mcu.wait_until(lambda m: m.gateway("sip").ports.in_use == 1
                   and len(m.gateway("sip").calls) == 1, timeout=10)
    assert survivor.count(re.compile("terminated|session closed")) == 0  # unaffected
    hang_up_all([survivor])
    mcu.wait_idle(timeout=15)  # the BYE to the dead peer times out (64*T1)


def test_conference_and_mcu_limits_refuse_with_486(start_mcu, peers):
    mcu = start_mcu(conferences={"max_participants": 1})
    first, second = peers("first", TONES[0], ["pcmu"]), peers("second", TONES[1], ["pcmu"])
    dial_all([first], f"sip:6000@{mcu.uri_host}")
    second.dial(f"sip:6000@{mcu.uri_host}")
    second.wait_for("486")
    hang_up_all([first])
    mcu.wait_idle()



def test_the_mcu_dials_out_and_the_callee_joins_the_conference(start_mcu, peers):
    mcu = start_mcu()
    caller, callee = peers("caller", TONES[0], ["pcmu"]), peers("callee", TONES[1], ["pcmu"])
    dial_all([caller], f"sip:7000@{mcu.uri_host}")

    async def dial_out(m: Mcu) -> str:
        return m.dial_out("7000", callee.aor)

    mcu.run(dial_out(mcu.mcu))
    callee.wait_established()  # baresip answers automatically
    mcu.wait_until(lambda m: len(m.directory.get("7000").participants) == 2)
    time.sleep(TALK_SECONDS)
    hang_up_all([caller, callee])  # the callee's BYE ends our UAC dialog
    assert_hears_others_not_self([caller, callee], TONES[:2])
    mcu.wait_idle()


def test_rfc4733_digits_from_a_caller_reach_its_leg_as_dtmf_events(start_mcu, peers):
    mcu = start_mcu()
    peer = peers("keys", TONES[0], ["pcmu"])
    dial_all([peer], f"sip:8000@{mcu.uri_host}")
    received: list[str] = []

    def watch(m: Mcu) -> None:
        leg = next(iter(m.directory.get("8000").participants.values())).leg
        original = leg.post

        def post(event) -> None:
            if type(event).__name__ == "Dtmf":
                received.append(event.digit)
            original(event)

        leg.post = post  # observe what the SIP leg hands its conference

    mcu.inspect(watch)
    peer.send_dtmf("12#")
    deadline = time.monotonic() + 5
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert received == ["1", "2", "#"]
    hang_up_all([peer])
    mcu.wait_idle()
