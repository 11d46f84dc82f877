"""Dial options ``header:X-...`` become INVITE headers (the cluster's cascade legs,
issue 18); no option may forge one of the request's own headers or split a line."""

from __future__ import annotations

import pytest

from gateway.gateway import UnsupportedUri
from gateway.sip.service import _extension_headers


def test_extension_headers_from_options() -> None:
    options = {"header:X-MCU-Cascade": "node=b;mac=00", "name": "camera", "audio": "true"}
    assert _extension_headers(options) == [("X-MCU-Cascade", "node=b;mac=00")]
    assert _extension_headers({}) == []


@pytest.mark.parametrize("options", [
    {"header:Via": "SIP/2.0/UDP 192.0.2.1"},
    {"header:X-Ok": "one\r\nVia: two"},
    {"header:X Bad": "v"},
])
def test_anything_else_is_refused(options: dict[str, str]) -> None:
    with pytest.raises(UnsupportedUri):
        _extension_headers(options)
