"""``TcpGuard``: the sans-IO policy for incoming SIP TCP connections (issue 19).

Three rules, all from ``SipLimits``:

* at most ``tcp_connections`` open connections per source address (trusted networks
  exempt); ``opened`` says False for one beyond it and the shell closes it unread;
* a message still incomplete ``tcp_message_timeout_s`` after its first byte closes the
  connection (a slowloris trickling a byte a second cannot hold it open);
* a connection no call is bound to, with no input for ``tcp_idle_timeout_s``, is
  closed (one that carries a call's dialog never is).

Connections the MCU dials out are not policed. The shell (``SipTransport``) reports
connections and input with the loop's ``now`` and asks ``expired(now, ...)`` on its
heartbeat (a scan of the open connections every ``HEARTBEAT_S``); the guard reads no
clock. Operators
hear of each address once per episode: a ``Notice`` when the first refusal or close of
a kind happens, and an ended one after ``quiet_s`` without another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.gateway import Notice
from gateway.sip.settings import SipLimits
from gateway.sip.trusted import TrustedNetworks

EPISODE_QUIET_S = 60.0  # an address is "served again" after this long without a close

REFUSED = "tcp-connections"
SLOW = "tcp-slow-message"
IDLE = "tcp-idle"


@dataclass(slots=True)
class _Conn:
    address: str
    last_input: float  # the connection's open or its latest bytes
    partial_since: float | None = None  # first byte of the incomplete message buffered


class TcpGuard:
    def __init__(self, limits: SipLimits, *, protocol: str = "sip",
                 quiet_s: float = EPISODE_QUIET_S) -> None:
        self.max_per_address = limits.tcp_connections
        self.message_timeout_s = limits.tcp_message_timeout_s
        self.idle_timeout_s = limits.tcp_idle_timeout_s
        self.trusted = TrustedNetworks(limits.trusted_networks)
        self.protocol = protocol
        self.quiet_s = quiet_s
        self._conns: dict[int, _Conn] = {}
        self._per_address: Counter[str] = Counter()
        self._episodes: dict[tuple[str, str], float] = {}  # (what, address) -> last event
        self._notices: list[Notice] = []
        self.counts: Counter[str] = Counter({REFUSED: 0, SLOW: 0, IDLE: 0})

    # ------------------------------------------------------------------ input
    def opened(self, conn_id: int, address: str, now: float) -> bool:
        """A connection was accepted: True to keep it, False to close it unread."""
        if address not in self.trusted and self._per_address[address] >= self.max_per_address:
            self._event(REFUSED, address, now,
                        f"more than {self.max_per_address} TCP connections at once; "
                        "further ones closed unread")
            return False
        self._conns[conn_id] = _Conn(address, now)
        self._per_address[address] += 1
        return True

    def received(self, conn_id: int, now: float, partial_since: float | None) -> None:
        """Bytes arrived; ``partial_since``: when the incomplete message now buffered
        began (the framer's ``partial_since``), None when only whole messages came."""
        conn = self._conns.get(conn_id)
        if conn is not None:
            conn.last_input = now
            conn.partial_since = partial_since

    def closed(self, conn_id: int) -> None:
        """The connection is gone (either side closed it)."""
        conn = self._conns.pop(conn_id, None)
        if conn is not None:
            self._forget(conn.address)

    # ------------------------------------------------------------------ decisions
    def expired(self, now: float, in_use: Callable[[], set[int]]) -> list[int]:
        """The connections to close now (forgotten here already); ``in_use`` gives the
        connections calls are bound to (asked only when some connection looks idle)."""
        close: list[int] = []
        busy: set[int] | None = None
        for conn_id, conn in self._conns.items():
            if (conn.partial_since is not None
                    and now - conn.partial_since >= self.message_timeout_s):
                self._event(SLOW, conn.address, now,
                            f"a message not completed within {self.message_timeout_s:g} s; "
                            "connection closed")
                close.append(conn_id)
            elif now - conn.last_input >= self.idle_timeout_s:
                if busy is None:
                    busy = in_use()
                if conn_id in busy:
                    conn.last_input = now  # a call's flow: idle counts from its end
                    continue
                self._event(IDLE, conn.address, now,
                            f"no message and no call for {self.idle_timeout_s:g} s; "
                            "connection closed")
                close.append(conn_id)
        for conn_id in close:
            self.closed(conn_id)
        for key, last in list(self._episodes.items()):
            if now - last >= self.quiet_s:
                del self._episodes[key]
                self._notices.append(Notice(self.protocol, key[0], key[1],
                                            f"no such close for {self.quiet_s:g} s",
                                            ended=True))
        return close

    def notices(self) -> list[Notice]:
        """What operators must hear of since the last call (once per episode)."""
        out, self._notices = self._notices, []
        return out

    def statistics(self) -> dict[str, int]:
        return {"tcp_refused_connections": self.counts[REFUSED],
                "tcp_closed_slow": self.counts[SLOW],
                "tcp_closed_idle": self.counts[IDLE]}

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    # ------------------------------------------------------------------ helpers
    def _event(self, what: str, address: str, now: float, detail: str) -> None:
        self.counts[what] += 1
        if (what, address) not in self._episodes:
            self._notices.append(Notice(self.protocol, what, address, detail))
        self._episodes[(what, address)] = now

    def _forget(self, address: str) -> None:
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]
