"""RFC 3261 §17 transactions (with the RFC 6026 "Accepted" state), sans-IO.

Transactions never read a clock: every timer runs on the ``TimerQueue`` that the
endpoint drives with the ``now`` it is given. Over reliable transports (TCP) the
retransmission timers (A, E, G) are not started and the wait timers (D, I, J, K)
are zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .message import SipRequest, SipResponse, parse_via
from .timers import T1, T2, T4, Timer, TimerQueue

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True, slots=True)
class Dest:
    """Where a transaction's messages go: transport, address, and (TCP) connection."""

    transport: str  # "udp" | "tcp" | "tls"
    addr: tuple[str, int]
    conn_id: int | None = None

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


def server_key(req: SipRequest, method: str | None = None) -> tuple:
    """The key a server transaction is found by (§17.2.3). ACK maps to INVITE;
    pass ``method="INVITE"`` to find the INVITE a CANCEL targets."""
    top = req.vias[0]
    via = parse_via(top)
    m = method or req.method
    if m == "ACK":
        m = "INVITE"
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        return ("3261", branch, via.sent_by.lower(), m)
    # RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via.
    # The To tag is left out so that the ACK (which carries our tag) still matches.
    return ("2543", req.uri, req.from_tag, req.call_id, req.cseq[0], " ".join(top.split()), m)


def client_key(branch: str, method: str) -> tuple:
    return (branch, method)


class TransactionLayer:
    """Holds every live transaction and the shared timer queue."""

    def __init__(self, send: Callable[[Dest, bytes], None], timers: TimerQueue,
                 t1: float = T1, t2: float = T2, t4: float = T4) -> None:
        self.send = send
        self.timers = timers
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.server: dict[tuple, ServerTransaction] = {}
        self.client: dict[tuple, ClientTransaction] = {}

    def __len__(self) -> int:
        return len(self.server) + len(self.client)

    def find_server(self, key: tuple) -> ServerTransaction | None:
        return self.server.get(key)

    def find_client(self, resp: SipResponse) -> ClientTransaction | None:
        try:
            branch = parse_via(resp.vias[0]).branch
            method = resp.cseq[1]
        except (ValueError, IndexError):
            return None
        if not branch:
            return None
        return self.client.get((branch, method))


class Transaction:
    kind = ""

    def __init__(self, layer: TransactionLayer, key: tuple, request: SipRequest,
                 dest: Dest) -> None:
        self.layer = layer
        self.key = key
        self.request = request
        self.dest = dest
        self.state = ""
        self._timers: dict[str, Timer] = {}
        self.owner: object | None = None  # the call/dialog this transaction belongs to
        # The time of the input being handled when a callback runs (a response, a timer):
        # callbacks read it, so what they send is stamped with that time and not another.
        self.now = 0.0
        self.on_terminated: Callable[[Transaction], None] | None = None

    @property
    def reliable(self) -> bool:
        return self.dest.reliable

    def _send(self, data: bytes) -> None:
        self.layer.send(self.dest, data)

    def _start(self, name: str, now: float, delay: float,
               cb: Callable[[float], None]) -> None:
        self._stop(name)
        self._timers[name] = self.layer.timers.call_at(now + delay, cb)

    def _stop(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def timer_active(self, name: str) -> bool:
        t = self._timers.get(name)
        return t is not None and not t.cancelled

    def terminate(self) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._unregister()
        if self.on_terminated is not None:
            self.on_terminated(self)

    def _unregister(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------- server


class ServerTransaction(Transaction):
    def __init__(self, layer: TransactionLayer, key: tuple, request: SipRequest,
                 dest: Dest) -> None:
        super().__init__(layer, key, request, dest)
        self.last_response: bytes | None = None
        self.final_status: int | None = None
        layer.server[key] = self

    def _unregister(self) -> None:
        if self.layer.server.get(self.key) is self:
            del self.layer.server[self.key]

    @property
    def has_final(self) -> bool:
        return self.final_status is not None


class ServerInviteTransaction(ServerTransaction):
    """States: proceeding → completed → confirmed, or proceeding → accepted (2xx)."""

    kind = "INVITE"

    def __init__(self, layer: TransactionLayer, key: tuple, request: SipRequest,
                 dest: Dest) -> None:
        super().__init__(layer, key, request, dest)
        self.state = "proceeding"
        self._g = layer.t1
        self.on_timeout: Callable[[ServerInviteTransaction], None] | None = None

    def receive_request(self, req: SipRequest, now: float) -> None:
        """A retransmitted INVITE or an ACK matched to this transaction."""
        if req.method == "ACK":
            if self.state == "completed":
                self.state = "confirmed"
                self._stop("G", "H")
                if self.reliable:
                    self.terminate()
                else:
                    self._start("I", now, self.layer.t4, lambda t: self.terminate())
            return
        if self.state in ("proceeding", "completed") and self.last_response is not None:
            self._send(self.last_response)
        # accepted/confirmed: absorbed (the TU retransmits 2xx on its own)

    def respond(self, resp: SipResponse, now: float) -> bytes:
        data = resp.to_bytes()
        status = resp.status
        if self.state == "proceeding":
            if status < 200:
                self.last_response = data
                self._send(data)
            elif status < 300:
                self.final_status = status
                self.last_response = data
                self._send(data)
                self.state = "accepted"
                self._start("L", now, 64 * self.layer.t1, lambda t: self.terminate())
            else:
                self.final_status = status
                self.last_response = data
                self._send(data)
                self.state = "completed"
                if not self.reliable:
                    self._g = self.layer.t1
                    self._start("G", now, self._g, self._fire_g)
                self._start("H", now, 64 * self.layer.t1, self._fire_h)
        elif self.state == "accepted" and 200 <= status < 300:
            self._send(data)
        return data

    def _fire_g(self, now: float) -> None:
        if self.state != "completed" or self.last_response is None:
            return
        self._send(self.last_response)
        self._g = min(2 * self._g, self.layer.t2)
        self._start("G", now, self._g, self._fire_g)

    def _fire_h(self, now: float) -> None:
        self.now = now
        if self.on_timeout is not None:
            self.on_timeout(self)
        self.terminate()


class ServerNonInviteTransaction(ServerTransaction):
    """States: trying → proceeding → completed."""

    kind = "non-INVITE"

    def __init__(self, layer: TransactionLayer, key: tuple, request: SipRequest,
                 dest: Dest) -> None:
        super().__init__(layer, key, request, dest)
        self.state = "trying"

    def receive_request(self, req: SipRequest, now: float) -> None:
        if self.state in ("proceeding", "completed") and self.last_response is not None:
            self._send(self.last_response)

    def respond(self, resp: SipResponse, now: float) -> bytes:
        data = resp.to_bytes()
        if self.state in ("trying", "proceeding"):
            self.last_response = data
            self._send(data)
            if resp.status < 200:
                self.state = "proceeding"
            else:
                self.final_status = resp.status
                self.state = "completed"
                if self.reliable:
                    self.terminate()
                else:
                    self._start("J", now, 64 * self.layer.t1, lambda t: self.terminate())
        return data


# --------------------------------------------------------------------------- client


class ClientTransaction(Transaction):
    def __init__(self, layer: TransactionLayer, request: SipRequest, dest: Dest,
                 branch: str) -> None:
        super().__init__(layer, client_key(branch, request.method), request, dest)
        self.branch = branch
        self.data = request.to_bytes()
        self.on_response: Callable[[ClientTransaction, SipResponse], None] | None = None
        self.on_timeout: Callable[[ClientTransaction], None] | None = None
        layer.client[self.key] = self

    def _unregister(self) -> None:
        if self.layer.client.get(self.key) is self:
            del self.layer.client[self.key]

    def _deliver(self, resp: SipResponse, now: float) -> None:
        self.now = now
        if self.on_response is not None:
            self.on_response(self, resp)

    def _timeout(self, now: float) -> None:
        self.now = now
        cb = self.on_timeout
        self.terminate()
        if cb is not None:
            cb(self)

    def transport_error(self, now: float) -> None:
        """The request could not be sent (RFC 3261 17.1.4): ends as on a timeout."""
        self._timeout(now)


class ClientInviteTransaction(ClientTransaction):
    """States: calling → proceeding → completed (non-2xx, ACK sent) or accepted (2xx)."""

    kind = "INVITE"

    def __init__(self, layer: TransactionLayer, request: SipRequest, dest: Dest,
                 branch: str) -> None:
        super().__init__(layer, request, dest, branch)
        self.state = "calling"
        self._a = layer.t1
        self.ack: bytes | None = None
        self.got_provisional = False

    def start(self, now: float) -> None:
        self.now = now
        self._send(self.data)
        if not self.reliable:
            self._a = self.layer.t1
            self._start("A", now, self._a, self._fire_a)
        self._start("B", now, 64 * self.layer.t1, self._timeout)

    def _fire_a(self, now: float) -> None:
        if self.state != "calling":
            return
        self._send(self.data)
        self._a *= 2  # §17.1.1.2: doubles each time, until Timer B
        self._start("A", now, self._a, self._fire_a)

    def receive_response(self, resp: SipResponse, now: float) -> None:
        status = resp.status
        if self.state in ("calling", "proceeding"):
            if status < 200:
                self.state = "proceeding"
                self.got_provisional = True
                self._stop("A", "B")
                self._deliver(resp, now)
            elif status < 300:
                self.state = "accepted"
                self._stop("A", "B")
                self._start("M", now, 64 * self.layer.t1, lambda t: self.terminate())
                self._deliver(resp, now)
            else:
                self.state = "completed"
                self._stop("A", "B")
                self.ack = self._build_ack(resp)
                self._send(self.ack)
                if self.reliable:
                    self._deliver(resp, now)
                    self.terminate()
                    return
                self._start("D", now, 32.0, lambda t: self.terminate())
                self._deliver(resp, now)
        elif self.state == "accepted":
            if 200 <= status < 300:
                self._deliver(resp, now)
        elif self.state == "completed":
            if status >= 300 and self.ack is not None:
                self._send(self.ack)

    def _build_ack(self, resp: SipResponse) -> bytes:
        """ACK for a non-2xx final response (§17.1.1.3)."""
        req = self.request
        ack = SipRequest("ACK", req.uri)
        ack.add("Via", req.vias[0])
        for route in req.get_all("route"):
            ack.add("Route", route)
        ack.add("Max-Forwards", "70")
        ack.add("From", req.get("from") or "")
        ack.add("To", resp.get("to") or req.get("to") or "")
        ack.add("Call-ID", req.call_id)
        ack.add("CSeq", f"{req.cseq[0]} ACK")
        return ack.to_bytes()


class ClientNonInviteTransaction(ClientTransaction):
    """States: trying → proceeding → completed."""

    kind = "non-INVITE"

    def __init__(self, layer: TransactionLayer, request: SipRequest, dest: Dest,
                 branch: str) -> None:
        super().__init__(layer, request, dest, branch)
        self.state = "trying"
        self._e = layer.t1

    def start(self, now: float) -> None:
        self.now = now
        self._send(self.data)
        if not self.reliable:
            self._e = self.layer.t1
            self._start("E", now, self._e, self._fire_e)
        self._start("F", now, 64 * self.layer.t1, self._timeout)

    def _fire_e(self, now: float) -> None:
        if self.state not in ("trying", "proceeding"):
            return
        self._send(self.data)
        if self.state == "trying":
            self._e = min(2 * self._e, self.layer.t2)
        else:
            self._e = self.layer.t2
        self._start("E", now, self._e, self._fire_e)

    def receive_response(self, resp: SipResponse, now: float) -> None:
        if self.state not in ("trying", "proceeding"):
            return  # completed: retransmitted finals absorbed
        if resp.status < 200:
            self.state = "proceeding"
            self._deliver(resp, now)
            return
        self.state = "completed"
        self._stop("E", "F")
        if self.reliable:
            self._deliver(resp, now)
            self.terminate()
            return
        self._start("K", now, self.layer.t4, lambda t: self.terminate())
        self._deliver(resp, now)
