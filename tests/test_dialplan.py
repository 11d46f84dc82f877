"""The gateway dial plan's rules (issue 13): matching, filling in, and bad settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcu import dialplan
from mcu.settings import DialRule, Settings

RULES = [DialRule(prefix="8", uri="h323:{number}@192.0.2.10"),
         DialRule(prefix="70", uri="sip:{number}@pbx.example", name="PBX")]


@pytest.mark.parametrize(("dialled", "uri"), [
    ("8123", "h323:123@192.0.2.10"),
    ("70200", "sip:200@pbx.example"),
    ("8", None),  # nothing after the prefix
    ("4321", None),
    ("7", None),
])
def test_the_first_rule_whose_prefix_starts_the_number_fills_in_the_rest(
        dialled: str, uri: str | None) -> None:
    found = dialplan.route(RULES, dialled)
    assert (found.uri if found else None) == uri


def test_private_conference_numbers_are_numeric_and_unlikely_to_be_dialled() -> None:
    numbers = {dialplan.private_id() for _ in range(100)}
    assert len(numbers) == 100
    assert all(n.isdigit() and len(n) == 32 and n.startswith("99") for n in numbers)


@pytest.mark.parametrize("rule", [
    {"prefix": "8", "uri": "no scheme here"},
    {"prefix": "8", "uri": "h323:{number}@{host}"},
    {"prefix": "8a", "uri": "h323:{number}@192.0.2.10"},
    {"prefix": "", "uri": "h323:{number}@192.0.2.10"},
])
def test_a_bad_rule_stops_start_up_naming_the_setting(rule: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(dial_plan={"rules": [rule]})
    assert "dial_plan" in str(error.value)
