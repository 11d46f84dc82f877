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
import re

HEADER = "X-MCU-Cascade"
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
