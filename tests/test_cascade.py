"""The cascade header (issue 18): only a node holding the cluster's secret, naming
itself and the conference it joins, is let in."""

from __future__ import annotations

from mcu import cascade

SECRET = b"s" * 32


def test_a_node_s_header_verifies_for_its_conference_only() -> None:
    value = cascade.header_value(SECRET, "7001", "b")
    assert cascade.verified_node(SECRET, "7001", value) == "b"
    assert cascade.verified_node(SECRET, "7002", value) is None
    assert cascade.verified_node(b"t" * 32, "7001", value) is None
    assert cascade.verified_node(SECRET, "7001", value.replace("node=b", "node=c")) is None


def test_malformed_values_are_refused() -> None:
    for value in ("", "node=b", "node=b;mac=zz", "node=b c;mac=" + "0" * 64, "x" * 500):
        assert cascade.verified_node(SECRET, "7001", value) is None


def test_the_header_is_found_whatever_its_case() -> None:
    headers = (("Via", "x"), ("x-mcu-cascade", "node=b;mac=00"))
    assert cascade.header_of(headers) == "node=b;mac=00"
    assert cascade.header_of((("Via", "x"),)) is None


def test_far_side_participants_are_node_tilde_id() -> None:
    assert cascade.remote_id("b", "sip-c3") == "b~sip-c3"
    assert cascade.split_remote("b~sip-c3") == ("b", "sip-c3")
    for ours in ("sip-c3", "~sip-c3", "b~", ""):
        assert cascade.split_remote(ours) is None


def test_commands_round_trip_and_anything_else_is_refused() -> None:
    command = cascade.Command("7001", "sip-c3", "set_muted", True)
    assert cascade.decode(cascade.encode(command)) == command
    for payload in ("", "{", "[]", '{"action": "set_muted"}',
                    '{"conference": "7001", "participant": "p", "action": "reboot"}',
                    '{"conference": 7001, "participant": "p", "action": "drop"}'):
        assert cascade.decode(payload) is None
    assert cascade.channel("node-b") == "mcu_node_node-b"
