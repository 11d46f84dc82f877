"""The gateway dial plan (issue 13): a dialled number that starts with a rule's prefix
is not a conference but a call to place, e.g. a SIP caller dialling ``8123`` reaches
``h323:123@192.0.2.10`` and an H.323 caller dialling ``7200`` reaches
``sip:200@pbx.example``. Pure: the number in, the URI to dial out.

The MCU joins the two as a two-party gateway call: a private conference of two seats,
each seeing the other full screen and hearing only the other (the mixer's N-1), which
ends when either side leaves.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from mcu.settings import DialRule

GATEWAY_ID_PREFIX = "99"  # the private conferences' numbers: 99 and 30 random digits


@dataclass(frozen=True, slots=True)
class Route:
    rule: DialRule
    uri: str  # what to dial


def route(rules: Sequence[DialRule], dialled: str) -> Route | None:
    """The first rule whose prefix starts ``dialled`` (with something after it)."""
    for rule in rules:
        if dialled.startswith(rule.prefix) and len(dialled) > len(rule.prefix):
            number = dialled[len(rule.prefix):]
            return Route(rule, rule.uri.replace("{number}", number))
    return None


def private_id() -> str:
    """A conference number nobody dials: 32 digits starting with 99."""
    return GATEWAY_ID_PREFIX + "".join(secrets.choice("0123456789") for _ in range(30))
