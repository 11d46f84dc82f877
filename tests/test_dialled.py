"""What a dialled request-URI user reaches: attendant, direct entry, plain ID."""

from __future__ import annotations

import pytest

from mcu.app import Mcu
from mcu.settings import Settings


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", ("0", "")),  # the bare host: sip:mcu.example.com
        ("0", ("0", "")),
        ("1234", ("1234", "")),
        ("1234*5678", ("1234", "5678")),
        ("1234**5678", ("1234", "5678")),
        ("1234*", ("1234", "")),
    ],
)
def test_dialled_user_maps_to_conference_and_keyed_pin(user, expected):
    assert Mcu(Settings())._dialled(user) == expected


def test_direct_entry_can_be_switched_off():
    mcu = Mcu(Settings(entry={"direct_entry": False}))
    assert mcu._dialled("1234*5678") == ("1234*5678", "")  # then 404: not a number
