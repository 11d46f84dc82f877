"""Encryption with real peers (issue 16): SIP over TLS, SRTP with SDES keys, and the
conference encryption policy.

baresip with ``mediaenc=srtp-mand`` over TLS (it does not verify our self-signed
certificate) joins an encryption-required conference: three such peers hear each
other (FFT) and see each other (colour tiles), every leg says ``encrypted``, and
tshark on the loopback sees SRTP (PCMU packets 10 bytes longer: the HMAC-SHA1-80 tag)
whose payloads, decoded as PCMU, hold no tone, and TLS records where SIP goes, never
a plaintext INVITE. A plain-RTP baresip is refused from the required conference with
488 and admitted to an optional one, where it hears and is heard by an encrypted one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mcu.store import EncryptionPolicy
from tests.e2e.conftest import TONES, RunningMcu
from tests.e2e.test_audio_conference import assert_hears_others_not_self, hang_up_all
from tests.e2e.test_video_conference import COLOURS, VIDEO, assert_each_sees_the_others
from tests.peers.audio_analysis import tone_level_db
from tests.peers.baresip import BaresipPeer, baresip_available
from tests.peers.tshark import capture, fields

pytestmark = pytest.mark.peer
TALK_SECONDS = 3.0
SRTP = "mediaenc=srtp-mand"
REQUIRED, OPTIONAL = "6100", "6200"


def conferences(mcu: RunningMcu) -> None:
    store = mcu.mcu.store
    mcu.run(store.create_conference("Secret", REQUIRED, encryption=EncryptionPolicy.REQUIRED))
    mcu.run(store.create_conference("Mixed", OPTIONAL, encryption=EncryptionPolicy.OPTIONAL))
    mcu.run(mcu.mcu.refresh_conferences())


@pytest.fixture
def party(tmp_path: Path) -> Iterator[list[BaresipPeer]]:
    if not baresip_available():
        pytest.fail("baresip is missing: `make test` installs it (scripts/install-system-deps.sh)")
    started: list[BaresipPeer] = []
    yield started
    for peer in started:
        peer.close()


def peer(party: list[BaresipPeer], tmp_path: Path, name: str, tone: float, secure: bool,
         colour: str | None = None, transport: str | None = None) -> BaresipPeer:
    """``secure``: over TLS with SRTP; else plain RTP over ``transport`` (UDP)."""
    extra = {"video_codec": "H264", "video_colour": COLOURS[colour]} if colour else {}
    made = BaresipPeer(tmp_path, name, 0, tone, ["pcmu"],
                       transport="tls" if secure else transport or "udp",
                       account_params=SRTP if secure else "", **extra)  # type: ignore[arg-type]
    party.append(made)
    return made.start()


def dial(mcu: RunningMcu, peer: BaresipPeer, room: str) -> None:
    host = mcu.tls_host if peer.transport == "tls" else mcu.uri_host
    peer.dial(f"sip:{room}@{host}")


def legs(mcu: RunningMcu, room: str) -> dict[str, dict]:
    return mcu.inspect(lambda m: {v.id: m.statistics(room, v.id) for v in m.participants(room)})


def capture_of(tmp_path: Path, mcu: RunningMcu) -> contextlib.AbstractContextManager[Path]:
    """tshark on the loopback: the MCU's RTP ports and its SIP over TLS port."""
    port_min, port_max = mcu.settings.rtp.port_min, mcu.settings.rtp.port_max
    tls_port = mcu.tls_host.rsplit(":", 1)[1]
    return capture(f"(udp portrange {port_min}-{port_max}) or (tcp port {tls_port})", tmp_path)


def mulaw_pcm(payloads: list[bytes]) -> np.ndarray:
    from gateway.media import AudioFormat
    from mcu.mixer.codecs import G711Decoder  # the same law tables the mixer uses

    decoder = G711Decoder(AudioFormat("PCMU", 0, 8000))
    return np.concatenate([decoder.decode(p[:160]) for p in payloads]).astype(np.float64)


def secrets_of(mcu: RunningMcu) -> list[str]:
    """Every SRTP key of the MCU's calls, as SDP (base64) and hex would show it."""
    def keys(m) -> list[bytes]:  # type: ignore[no-untyped-def]
        found = []
        for call in m.gateway("sip").calls.values():
            for srtp in (call.negotiated.audio_srtp, call.negotiated.video_srtp):
                if srtp is not None:
                    found += [srtp.local_key, srtp.remote_key]
        return found
    return [text for key in mcu.inspect(keys)
            for text in (base64.b64encode(key).decode(), key.hex())]


def test_three_encrypted_callers_hear_and_see_each_other_and_the_wire_is_srtp(
        start_mcu, party: list[BaresipPeer], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mcu = start_mcu(video=VIDEO)
    conferences(mcu)
    colours = ["red", "green", "blue"]
    callers = [peer(party, tmp_path, colour, TONES[i], True, colour)
               for i, colour in enumerate(colours)]
    with capture_of(tmp_path, mcu) as pcap:
        for caller in callers:
            dial(mcu, caller, REQUIRED)
            caller.wait_established(timeout=15)
        mcu.wait_until(lambda m: len(m.participants(REQUIRED)) == 3, timeout=15)
        assert_each_sees_the_others(callers, tmp_path)
        time.sleep(TALK_SECONDS)
        stats = legs(mcu, REQUIRED)
        views = mcu.inspect(lambda m: m.participants(REQUIRED))
        keys = secrets_of(mcu)
        hang_up_all(callers)
    assert_hears_others_not_self(callers, TONES[:3])
    assert all(view.encrypted for view in views)
    assert len(keys) == 3 * 2 * 2 * 2  # callers x streams x (ours, theirs) x spellings
    shown = json.dumps(stats, default=str) + json.dumps([v.as_json() for v in views])
    for key in keys:
        assert key not in caplog.text and key not in shown
    for leg in stats.values():
        assert leg["encrypted"] is True
        for kind in ("audio", "video"):
            assert leg[kind]["srtp"] in ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
                                         "AEAD_AES_128_GCM"), leg[kind]
            # baresip's first packet on each RTP port is a plain 16-byte RTCP keep-alive,
            # which fails authentication: dropped and counted, once.
            assert leg[kind]["srtp_unprotected"] > 0 and leg[kind]["srtp_auth_failed"] <= 1
    # The wire: SIP only inside TLS records, RTP payloads unreadable.
    tls = fields(pcap, "tls.record.content_type", display_filter="tls")
    assert tls, "no TLS on the SIP over TLS port"
    assert not fields(pcap, "frame.number", display_filter='frame contains "INVITE sip:"')
    rtp = fields(pcap, "udp.length", "udp.payload", display_filter="udp && !rtcp")
    pcmu = [bytes.fromhex(payload)[12:] for length, payload in rtp
            if len(payload) >= 24 and int(payload[2:4], 16) & 0x7F == 0]
    assert len(pcmu) > 100
    tagged = {len(p) - 160 for p in pcmu}
    assert tagged <= {10, 4, 16}, tagged  # the auth tag rides behind the 160 bytes
    pcm = mulaw_pcm(pcmu) / 32768
    for tone in TONES[:3]:
        assert tone_level_db(pcm, 8000, tone) < 10, f"{tone} Hz readable on the wire"
    mcu.wait_idle()


def test_plain_rtp_is_refused_where_required_and_mixes_where_optional(
        start_mcu, party: list[BaresipPeer], tmp_path: Path) -> None:
    mcu = start_mcu()
    conferences(mcu)
    plain = peer(party, tmp_path, "plain", TONES[0], False)
    dial(mcu, plain, REQUIRED)
    plain.wait_for("488", timeout=10)
    # TLS without SRTP is not enough either.
    tls_only = peer(party, tmp_path, "tlsonly", TONES[2], False, transport="tls")
    dial(mcu, tls_only, REQUIRED)
    tls_only.wait_for("488", timeout=10)
    assert mcu.inspect(lambda m: m.participants(REQUIRED)) == []
    secure = peer(party, tmp_path, "secure", TONES[1], True)
    for caller in (plain, secure):
        dial(mcu, caller, OPTIONAL)
        caller.wait_established(timeout=15)
    time.sleep(TALK_SECONDS)
    views = {v.display_name: v for v in mcu.inspect(lambda m: m.participants(OPTIONAL))}
    hang_up_all([plain, secure])
    assert_hears_others_not_self([plain, secure], TONES[:2])
    assert {name: v.encrypted for name, v in views.items()} == {"plain": False, "secure": True}
    mcu.wait_idle()


def baresip_certificate(tmp_path: Path) -> Path:
    """A PEM with key and certificate, which baresip's ``sip_certificate`` takes to
    listen for TLS (on its SIP port + 1)."""
    from gateway.tls import GENERATED_CERTIFICATE, GENERATED_KEY, TlsSettings, load_identity

    identity = load_identity(TlsSettings(directory=str(tmp_path / "peer-tls")))
    both = tmp_path / "peer-tls" / "baresip.pem"
    both.write_bytes((tmp_path / "peer-tls" / GENERATED_KEY).read_bytes()
                     + (tmp_path / "peer-tls" / GENERATED_CERTIFICATE).read_bytes())
    assert identity.generated
    return both


def test_the_mcu_dials_out_over_tls_with_srtp(start_mcu, party: list[BaresipPeer],
                                              tmp_path: Path) -> None:
    """``sips:`` dial-out: TLS to the callee, our SRTP offer answered, the callee joins
    the required conference and hears the caller there."""
    mcu = start_mcu()
    conferences(mcu)
    caller = peer(party, tmp_path, "caller", TONES[0], True)
    callee = BaresipPeer(tmp_path, "callee", 0, TONES[1], ["pcmu"], transport="tls",
                         account_params=SRTP,
                         extra_config={"sip_certificate": str(baresip_certificate(tmp_path))})
    party.append(callee)
    callee.start()
    dial(mcu, caller, REQUIRED)
    caller.wait_established(timeout=15)
    target = f"sips:callee@127.0.0.1:{callee.sip_port + 1}"
    mcu.inspect(lambda m: m.dial_out(REQUIRED, target))
    callee.wait_established(timeout=15)
    mcu.wait_until(lambda m: len(m.participants(REQUIRED)) == 2, timeout=15)
    time.sleep(TALK_SECONDS)
    views = mcu.inspect(lambda m: m.participants(REQUIRED))
    hang_up_all([caller, callee])
    assert all(v.encrypted for v in views), views
    assert_hears_others_not_self([caller, callee], TONES[:2])
    mcu.wait_idle()


def test_a_dtls_srtp_caller_is_encrypted_and_heard(start_mcu, party: list[BaresipPeer],
                                                   tmp_path: Path) -> None:
    """A peer that offers only DTLS-SRTP (RFC 5763/5764: UDP/TLS/RTP/SAVP, fingerprint,
    setup) gets keys from a handshake on the media port and joins the required
    conference beside an SDES caller; they hear each other."""
    mcu = start_mcu()
    conferences(mcu)
    sdes = peer(party, tmp_path, "sdes", TONES[0], True)
    dtls = BaresipPeer(tmp_path, "dtls", 0, TONES[1], ["pcmu"], transport="tls",
                       account_params="mediaenc=dtls_srtp")
    party.append(dtls)
    dtls.start()
    for caller in (sdes, dtls):
        dial(mcu, caller, REQUIRED)
        caller.wait_established(timeout=15)
    mcu.wait_until(lambda m: len(m.participants(REQUIRED)) == 2, timeout=15)
    time.sleep(TALK_SECONDS)
    stats = legs(mcu, REQUIRED)
    views = mcu.inspect(lambda m: m.participants(REQUIRED))
    hang_up_all([sdes, dtls])
    assert_hears_others_not_self([sdes, dtls], TONES[:2])
    assert all(v.encrypted for v in views), views
    dtls_leg = next(leg for leg in stats.values() if leg["audio"].get("dtls"))
    assert dtls_leg["audio"]["dtls"] == "established", dtls_leg["audio"]
    assert dtls_leg["audio"]["srtp_unprotected"] > 50
    mcu.wait_idle()
