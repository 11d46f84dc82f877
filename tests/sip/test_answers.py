"""The SIP gateway says each neutral refusal with today's SIP answers."""

from __future__ import annotations

import pytest

from gateway.leg import Refuse, RefuseCause
from gateway.sip.service import SIP_ANSWERS, sip_answer


@pytest.mark.parametrize(("cause", "status"), [
    (RefuseCause.NOT_FOUND, 404),
    (RefuseCause.BUSY, 486),
    (RefuseCause.FULL, 503),
    (RefuseCause.CLOSED_NOW, 480),
    (RefuseCause.NEEDS_ENCRYPTION, 488),
    (RefuseCause.NO_COMMON_MEDIA, 488),
    (RefuseCause.BAD_REQUEST, 400),
])
def test_each_cause_has_its_sip_status(cause: RefuseCause, status: int) -> None:
    answered, reason, headers = sip_answer(Refuse(cause, "why"))
    assert answered == status and reason.endswith("(why)") and headers == []


def test_every_cause_is_mapped() -> None:
    assert set(SIP_ANSWERS) == set(RefuseCause)


def test_retry_after_becomes_a_header() -> None:
    status, reason, headers = sip_answer(Refuse(RefuseCause.FULL, "MCU full", retry_after=30))
    assert (status, reason) == (503, "Service Unavailable (MCU full)")
    assert headers == [("Retry-After", "30")]
