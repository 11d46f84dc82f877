"""RFC 4475 torture messages over real UDP at a running MCU: every answer comes back to
the socket that sent the request (RFC 3261 18.2.2, RFC 3581), whatever host a Via
names, with the status the corpus README expects.

One MCU serves every message; each message goes out from its own fresh socket on
127.0.0.1, so whatever arrives there answers that message and nothing else. The
expected outcomes are those of the core test (tests/sip/test_torture.py), whose loader
this reuses.

The corpus reuses some branches (cparam01/cparam02, escnull/regescrt, novelsc/unkscm:
same branch, sent-by and method), which RFC 3261 17.2.3 matches to one server
transaction: sent within its lifetime, the second is a retransmission of the first. So
those go in a later round, once the MCU's transactions have run out.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from gateway.sip.message import SipParseError, SipRequest, parse_message
from gateway.sip.transaction import server_key
from tests.e2e.conftest import RunningMcu
from tests.sip.test_torture import EXPECTED, INCOMING_CALLS, load

ANSWER_WAIT_S = 2.0  # an expected answer comes in milliseconds; this is only a ceiling
SILENCE_WAIT_S = 0.3  # how long a message that deserves no answer is watched


def exchange(port: int, data: bytes, wait: float, until_final: bool) -> list[int]:
    """Send ``data`` from a fresh socket; the statuses of what comes back to it."""
    statuses: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(data, ("127.0.0.1", port))
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply, _ = sock.recvfrom(65535)
            except TimeoutError:
                break
            line = reply.split(b"\r\n", 1)[0]
            assert line.startswith(b"SIP/2.0 "), line
            statuses.append(int(line.split()[1]))
            if until_final and statuses[-1] >= 200:
                break
    return statuses


def outcome_problem(name: str, statuses: list[int]) -> str | None:
    """Why ``statuses`` is not what the README expects for ``name`` (None: it is)."""
    finals = [s for s in statuses if s >= 200]
    expected = EXPECTED[name]
    if name in INCOMING_CALLS:  # a valid INVITE, processed: any non-400 answer, or none yet
        return f"got {statuses}" if 400 in finals else None
    if expected is None:  # a response, or broadcast: dropped
        return f"expected no answer, got {statuses}" if statuses else None
    if finals[:1] != [expected]:
        return f"expected {expected} at the sending socket, got {statuses or 'nothing'}"
    return None


def transaction_key(name: str) -> tuple | None:
    """The server transaction ``name`` opens at the core (None: answered statelessly)."""
    try:
        msg = parse_message(load(name))
        return server_key(msg) if isinstance(msg, SipRequest) else None
    except (SipParseError, ValueError, IndexError):
        return None


def rounds(names: list[str]) -> list[list[str]]:
    """``names`` in rounds in which no two share a server transaction key."""
    batches: list[tuple[list[str], set[tuple]]] = []
    for name in names:
        key = transaction_key(name)
        batch = next((b for b in batches if key is None or key not in b[1]), None)
        if batch is None:
            batch = ([], set())
            batches.append(batch)
        batch[0].append(name)
        if key is not None:
            batch[1].add(key)
    return [members for members, _ in batches]


def check(port: int, name: str) -> str | None:
    """Send ``name`` and say what is wrong with what came back (None: nothing)."""
    silent = EXPECTED[name] is None and name not in INCOMING_CALLS
    statuses = exchange(port, load(name), SILENCE_WAIT_S if silent else ANSWER_WAIT_S,
                        until_final=not silent)
    return outcome_problem(name, statuses)


def test_every_torture_message_is_answered_at_the_sending_socket(
        start_mcu: Callable[..., RunningMcu]) -> None:
    mcu = start_mcu()
    port = mcu.settings.sip.port
    problems: dict[str, str] = {}
    batches = rounds(sorted(EXPECTED))
    assert sum(len(b) for b in batches) == 49
    for number, batch in enumerate(batches):
        if number:  # the previous round's transactions run out in 64*T1 (3.2 s here)
            mcu.wait_until(lambda m: m.gateway("sip").endpoint.transaction_count == 0)
        for name in batch:
            problem = check(port, name)
            if problem is not None:
                problems[name] = problem
    assert not problems, "\n".join(f"{n}: {p}" for n, p in sorted(problems.items()))
    mcu.wait_idle()  # nothing half-applied: every call and transaction is given back
