"""Encryption with real peers (issue 16): SIP over TLS, SRTP with SDES keys, and the
conference encryption policy."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import TONES
from tests.e2e.test_audio_conference import assert_hears_others_not_self, hang_up_all

pytestmark = pytest.mark.peer
TALK_SECONDS = 3.0


def test_a_call_over_tls_joins_the_udp_callers(start_mcu, peers):
    mcu = start_mcu()
    party = [peers("tls", TONES[0], ["pcmu"], transport="tls"),
             peers("udp", TONES[1], ["pcmu"])]
    party[0].dial(f"sip:2000@{mcu.tls_host}")
    party[0].wait_established()
    party[1].dial(f"sip:2000@{mcu.uri_host}")
    party[1].wait_established()
    time.sleep(TALK_SECONDS)
    hang_up_all(party)
    assert_hears_others_not_self(party, TONES[:2])
    mcu.wait_idle()
