from __future__ import annotations

from gateway.leg import Refuse, RefuseCause
from mcu.entry import Admit, ConferenceDirectory
from mcu.settings import ConferenceSettings, StaticConference


def directory(**kw) -> ConferenceDirectory[str]:
    return ConferenceDirectory(ConferenceSettings(**kw), lambda nid, name: f"{nid}:{name}")


def test_ad_hoc_conference_is_created_on_first_dial_and_shared():
    d = directory()
    first, second = d.route("1000"), d.route("1000")
    assert isinstance(first, Admit) and isinstance(second, Admit)
    assert first.conference is second.conference == "1000:Conference 1000"


def test_unknown_id_without_ad_hoc_is_not_found_and_static_ones_work():
    d = directory(ad_hoc=False, static=[StaticConference(numeric_id="42", name="Main")])
    refused = d.route("1000")
    assert isinstance(refused, Refuse) and refused.cause == RefuseCause.NOT_FOUND
    admitted = d.route("42")
    assert isinstance(admitted, Admit) and admitted.conference == "42:Main"


def test_non_numeric_user_is_not_found():
    refused = directory().route("alice")
    assert isinstance(refused, Refuse) and refused.cause == RefuseCause.NOT_FOUND


def test_per_conference_limit_is_busy_and_global_limit_is_full_with_retry_after():
    d = directory(max_participants=2, max_total_participants=3)
    assert isinstance(d.route("1"), Admit) and isinstance(d.route("1"), Admit)
    busy = d.route("1")
    assert isinstance(busy, Refuse) and busy.cause == RefuseCause.BUSY
    assert isinstance(d.route("2"), Admit)
    full = d.route("3")
    assert isinstance(full, Refuse) and full.cause == RefuseCause.FULL and full.retry_after == 30


def test_release_frees_seats_and_closes_empty_ad_hoc_conferences():
    d = directory(max_total_participants=1)
    assert isinstance(d.route("7"), Admit)
    assert d.release("7") == "7:Conference 7"
    assert d.total_seats == 0 and d.conferences() == []
    assert isinstance(d.route("7"), Admit)
