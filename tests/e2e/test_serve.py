"""`mcu serve` as a user runs it: a subprocess with only the documented settings.

The RFC 4475 torture messages go to it over UDP and it still answers OPTIONS; a
SIGTERM ends a live baresip call with BYE and the process exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MCU_RTP_PORTS, TONES
from tests.peers.baresip import free_sip_port

pytestmark = pytest.mark.peer
TORTURE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "sip-rfc4475"
MCU = Path(sys.executable).with_name("mcu")


def options(port: int, call_id: str) -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id};rport\r\n"
        "Max-Forwards: 70\r\nTo: <sip:mcu@127.0.0.1>\r\n"
        "From: <sip:probe@127.0.0.1>;tag=probe\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_sip_port()
    env = {
        "PATH": os.environ["PATH"],
        "MCU_SIP__PORT": str(port),
        "MCU_SIP__TLS_PORT": "0",  # SIP over TLS on any free port
        "MCU_TLS__DIRECTORY": str(tmp_path / "tls"),
        "MCU_HTTP__PORT": "18080",
        "MCU_RTSP__PORT": "0",  # any free port: tests run side by side
        "MCU_H323__PORT": "0",
        "MCU_RTP__PORT_MIN": str(MCU_RTP_PORTS[0] + 200),
        "MCU_RTP__PORT_MAX": str(MCU_RTP_PORTS[1] + 200),
        "MCU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/mcu.db",
    }
    log = (tmp_path / "mcu.log").open("wb")
    proc = subprocess.Popen([str(MCU), "serve"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        for attempt in range(50):
            probe.sendto(options(port, f"up{attempt}"), ("127.0.0.1", port))
            try:
                probe.recvfrom(65535)
                break
            except TimeoutError:
                continue
        else:
            proc.kill()
            pytest.fail("mcu serve never answered OPTIONS:\n" + (tmp_path / "mcu.log").read_text())
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_torture_messages_over_udp_then_options_still_answered(served):
    proc, port = served
    files = sorted(TORTURE.glob("*.dat"))
    assert len(files) == 49, f"expected the 49 RFC 4475 messages in {TORTURE}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        for path in files:
            sock.sendto(path.read_bytes(), ("127.0.0.1", port))
        time.sleep(0.5)
        sock.settimeout(2)
        sock.sendto(options(port, "after-torture"), ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            data, _ = sock.recvfrom(65535)
            if b"after-torture" in data:
                assert data.startswith(b"SIP/2.0 200")
                assert b"\r\nAllow:" in data
                break
        else:
            pytest.fail("no answer to OPTIONS after the torture messages")
    assert proc.poll() is None, "mcu serve died"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_calls_with_bye_and_exits_zero(served, peers, signum):
    proc, port = served
    caller = peers("caller", TONES[0], ["pcmu"])
    caller.dial(f"sip:1000@127.0.0.1:{port}")
    caller.wait_established()
    mark = caller.mark()
    proc.send_signal(signum)
    assert proc.wait(timeout=10) == 0
    # baresip reports a BYE it received as "session closed: Connection reset by peer"
    caller.wait_for("session closed", after=mark)
