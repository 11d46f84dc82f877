"""Cascade legs between cluster nodes (issue 18): pure functions, no I/O.

A node that runs a conference whose lease another node holds (Kamailio placed the
caller there because the holder was full, or two first calls raced) joins it on the
holder by one SIP call of its own, the cascade leg. The holder admits that call without
PIN or lobby because it carries ``X-MCU-Cascade: node=ID;mac=HEX``, an HMAC of the
conference number and the calling node's id under a secret only the cluster's nodes
share (kept in the store). Each side's mixer gives the cascade leg everyone but itself,
so the two halves hear and see each other and nothing echoes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

HEADER = "X-MCU-Cascade"
# A participant on another node, as the conference's holder lists it: ``NODE~ID``.
SEPARATOR = "~"
# What the holder's web control may ask of a participant on another node.
ACTIONS = frozenset({"admit", "drop", "set_muted", "set_important", "set_layout",
                     "send_message"})
_VALUE = re.compile(r"^node=([A-Za-z0-9._-]{1,64});mac=([0-9a-f]{64})$")


def header_value(secret: bytes, numeric_id: str, node_id: str) -> str:
    return f"node={node_id};mac={_mac(secret, numeric_id, node_id)}"


def verified_node(secret: bytes, numeric_id: str, value: str) -> str | None:
    """The calling node's id when ``value`` proves it is one of ours; else None."""
    match = _VALUE.match(value.strip())
    if match is None:
        return None
    node_id, mac = match.groups()
    return node_id if hmac.compare_digest(mac, _mac(secret, numeric_id, node_id)) else None


def header_of(headers: tuple[tuple[str, str], ...]) -> str | None:
    return next((value for name, value in headers if name.lower() == HEADER.lower()), None)


def _mac(secret: bytes, numeric_id: str, node_id: str) -> str:
    return hmac.new(secret, f"{numeric_id}|{node_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Command:
    """An operation on a participant running on another node (the holder's web
    control decided and authorized it; the participant's node carries it out)."""

    conference: str
    participant: str
    action: str
    value: object = None


def remote_id(node_id: str, participant_id: str) -> str:
    return f"{node_id}{SEPARATOR}{participant_id}"


def split_remote(participant_id: str) -> tuple[str, str] | None:
    """(node, participant on it) for a ``NODE~ID`` id, else None (one of ours)."""
    node, sep, local = participant_id.partition(SEPARATOR)
    return (node, local) if sep and node and local else None


def channel(node_id: str) -> str:
    """The PostgreSQL NOTIFY channel a node listens on for such commands."""
    return f"mcu_node_{node_id}"


def encode(command: Command) -> str:
    return json.dumps({"conference": command.conference, "participant": command.participant,
                       "action": command.action, "value": command.value})


def decode(payload: str) -> Command | None:
    """The command in a notification, or None for anything malformed or unknown."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("action") not in ACTIONS:
        return None
    conference, participant = data.get("conference"), data.get("participant")
    if not isinstance(conference, str) or not isinstance(participant, str):
        return None
    return Command(conference, participant, data["action"], data.get("value"))
