"""Smoke tests of benchmarks/srtp.py, so the script cannot rot.

Tiny runs; asserts on the JSON's shape and on work being done (SRTP answered over
TLS, no call failed, no packet lost), never on timing.
"""

from __future__ import annotations

import json

from benchmarks import srtp

SUITES = set(srtp.SUITES_MEASURED)
KINDS = set(srtp.KINDS)


def test_media_figures_per_suite_and_packet_kind() -> None:
    result = srtp.media(200, 1)
    json.dumps(result)
    crypto = result["crypto"]
    assert isinstance(crypto, dict) and set(crypto) == SUITES
    for suite in SUITES:
        assert set(crypto[suite]) == KINDS
        for figures in crypto[suite].values():
            assert set(figures) == {"protect_us", "unprotect_us"}
    path = result["path"]
    assert isinstance(path, dict) and set(path) == KINDS | {"packets_lost"}
    assert path["packets_lost"] == 0
    for kind in KINDS:
        assert set(path[kind]) == SUITES | {"plain"}
        for suite in SUITES:
            assert {"us_per_packet", "ratio_to_plain", "srtp_us_added"} <= set(path[kind][suite])


def test_sip_calls_over_udp_and_tls() -> None:
    result = srtp.sip(0.5, 4, 8.0)
    json.dumps(result)
    assert srtp.sip_ok(result), result
    for mode in ("udp", "tls", "tls_new_connection"):
        row = result[mode]
        assert isinstance(row, dict) and row["completed_calls"] > 0
    for mode in ("tls", "tls_new_connection"):
        assert "cps_ratio_to_udp" in result[mode]  # type: ignore[operator]
