"""The shared base of the sans-IO SIP user agent: configuration, the call record,
input framing and parsing, output queues, time, and the bookkeeping every role uses.

The roles live beside it (``uas``, ``uac``, ``registrar``) as mixins over ``SipCore``;
``endpoint.SipEndpoint`` puts them together. Time rule: the core never reads a clock.
Every input carries ``now``; an action called without one uses the last time the core
was given (the shell feeds time on every receive and timer), never a clock.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .admission import Verdict
from .credentials import AuthState, Credentials
from .dialog import Dialog, new_tag
from .events import CallEnded, Event, Transmit
from .message import (
    DEFAULT_MAX_SIZE,
    SipParseError,
    SipRequest,
    SipResponse,
    StreamFramer,
    parse_message,
    parse_via,
)
from .session_timer import SessionTimer
from .timers import T1, T2, T4, Timer, TimerQueue
from .transaction import (
    ClientInviteTransaction,
    Dest,
    ServerTransaction,
    Transaction,
    TransactionLayer,
)

log = logging.getLogger("gateway.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, REGISTER, UPDATE, PRACK"
SDP = "application/sdp"

InfoCheck = Callable[[str, bytes], "tuple[int, str] | None"]
"""Decides an INFO's answer from its body: (status, reason) to refuse, None for 200."""
InviteScreen = Callable[[str, float], Verdict]
"""Decides a new dialog-creating INVITE from its source address and ``now``, before it
gets a transaction or any answer (``admission.AdmissionGuard.check`` behind the shell)."""
_RPORT_RE = re.compile(r";\s*rport(?=\s*(?:;|$))", re.I)


@dataclass(slots=True)
class SipCoreConfig:
    user_agent: str = "mcu/0.1"
    max_message_bytes: int = DEFAULT_MAX_SIZE
    local_host: str = "127.0.0.1"  # used for Via/Contact when an action names no local
    local_port: int = 5060
    t1: float = T1
    t2: float = T2
    t4: float = T4
    register_expires: int = 3600
    max_register_expires: int = 86400
    # RFC 4028 session timers; RFC 3262 100rel (we PRACK reliable provisionals and
    # never send one of our own: we answer with 100 Trying, then a final response)
    supported: tuple[str, ...] = ("timer", "100rel")
    session_expires: int = 1800  # the interval we ask and offer (RFC 4028)
    min_se: int = 90  # shorter asked intervals get 422 (RFC 4028 says never below 90)

    @classmethod
    def from_settings(cls, sip: object) -> SipCoreConfig:
        """Build from ``mcu.settings.SipSettings`` (duck-typed)."""
        return cls(
            user_agent=getattr(sip, "user_agent", "mcu/0.1"),
            max_message_bytes=getattr(sip, "max_message_bytes", DEFAULT_MAX_SIZE),
            local_host=getattr(sip, "host", "127.0.0.1"),
            local_port=getattr(sip, "port", 5060),
            t1=getattr(sip, "t1", T1),
            session_expires=getattr(sip, "session_expires_s", 1800),
            min_se=getattr(sip, "min_se_s", 90),
        )


class SipStateError(RuntimeError):
    """An action that the call's current state does not allow."""


@dataclass(eq=False)
class Call:
    """One call (either role): its dialog, open transactions and call-level timers."""

    id: str
    role: str  # "uas" | "uac"
    dest: Dest  # the flow in-dialog requests go to
    local: tuple[str, int]
    user: str  # our user part for Contact
    dialog: Dialog
    state: str = "incoming"
    # incoming: INVITE received, no final | early | answered (2xx sent, no ACK)
    # calling | early(uac) | awaiting_ack (offerless, app must ack) | confirmed
    invite_tx: Transaction | None = None
    registered_key: tuple | None = None
    merged_key: tuple | None = None
    reinvite_in: ServerTransaction | None = None  # re-INVITE, or UPDATE with an offer
    reinvite_out: ClientInviteTransaction | None = None
    # UAS 2xx retransmission (§13.3.1.4)
    ok_data: bytes | None = None
    ok_dest: Dest | None = None
    ok_cseq: int = 0
    ok_interval: float = 0.0
    ok_started: float = 0.0
    ok_reinvite: bool = False
    # UAC: ACK per INVITE CSeq, re-sent on 2xx retransmission
    acks: dict[int, bytes] = field(default_factory=dict)
    offerless: bool = False
    invite_cseq: int = 0
    pending_cancel: bool = False
    cancelling: bool = False
    hangup_after_ack: str | None = None
    timers: dict[str, Timer] = field(default_factory=dict)
    ended: bool = False
    # RFC 4028 session timer, what the peer allows (refresh by UPDATE?), the SDP we
    # sent last (a refresh re-INVITE repeats it), our UPDATE refresh in flight, and
    # the highest RSeq we PRACKed (RFC 3262, as UAC)
    session: SessionTimer | None = None
    peer_methods: frozenset[str] = frozenset()
    local_sdp: bytes | None = None
    refresh_out: Transaction | None = None
    rseq: int = 0
    # digest credentials for our requests in this call (401/407 answered once a nonce)
    credentials: Credentials | None = None
    interval_raised: bool = False  # our INVITE was sent again after a 422 (RFC 4028)
    auth: AuthState = field(default_factory=AuthState)


def initial_cseq() -> int:
    return 1


class SipCore:
    """State, input, output and time shared by the UAS, UAC and registrar roles."""

    def __init__(self, config: SipCoreConfig | None = None, *,
                 check_info: InfoCheck | None = None,
                 screen_invite: InviteScreen | None = None) -> None:
        self.config = config or SipCoreConfig()
        self._check_info = check_info
        self._screen_invite = screen_invite
        self._now = 0.0  # the latest time the core was given
        self._out: list[Transmit] = []
        self._events: list[Event] = []
        self.timers = TimerQueue()
        c = self.config
        self.layer = TransactionLayer(self._send, self.timers, c.t1, c.t2, c.t4)
        self._calls: dict[str, Call] = {}
        self._dialogs: dict[tuple, Call] = {}
        self._merged: dict[tuple, Call] = {}
        self._framers: dict[int, StreamFramer] = {}
        self._ids = itertools.count(1)
        self.registrations: dict[str, dict[str, tuple[float, str]]] = {}

    # ------------------------------------------------------------------ role hooks
    def _on_request(self, req: SipRequest, src: Dest, local: tuple[str, int],
                    now: float) -> None:  # pragma: no cover - the UAS role provides it
        raise NotImplementedError

    def _on_response(self, resp: SipResponse, src: Dest,
                     now: float) -> None:  # pragma: no cover - the UAC role provides it
        raise NotImplementedError

    def _bye(self, c: Call, reason: str, now: float) -> None:  # pragma: no cover - UAC role
        raise NotImplementedError

    def _via(self, local: tuple[str, int], transport: str,
             branch: str) -> str:  # pragma: no cover - the UAC role provides it
        raise NotImplementedError

    def _send_ack(self, c: Call, cseq: int, body: bytes) -> None:  # pragma: no cover - UAC
        raise NotImplementedError

    # ------------------------------------------------------------------ counters
    @property
    def transaction_count(self) -> int:
        return len(self.layer)

    @property
    def dialog_count(self) -> int:
        return len(self._dialogs)

    @property
    def call_count(self) -> int:
        return len(self._calls)

    def stream_partial_since(self, conn_id: int) -> float | None:
        """When the incomplete message buffered for a TCP connection began (None: none)."""
        framer = self._framers.get(conn_id)
        return framer.partial_since if framer is not None else None

    def connections_in_use(self) -> set[int]:
        """The TCP connections some call (set up or being set up) is bound to."""
        return {c.dest.conn_id for c in self._calls.values() if c.dest.conn_id is not None}

    # ------------------------------------------------------------------ output
    def transmissions(self) -> list[Transmit]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def _send(self, dest: Dest, data: bytes) -> None:
        self._out.append(Transmit(dest.transport, dest.addr, data, dest.conn_id))

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> float:
        """The latest time the core was given (what an action without ``now`` uses)."""
        return self._now

    def next_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self._advance(now)
        self.timers.run(now)

    def _advance(self, now: float) -> None:
        if now > self._now:
            self._now = now

    def _time(self, now: float | None) -> float:
        """The time of an action: the caller's ``now``, else the last time given."""
        if now is None:
            return self._now
        self._advance(now)
        return now

    # ------------------------------------------------------------------ input
    def receive_datagram(self, data: bytes, remote: tuple[str, int], local: tuple[str, int],
                         now: float) -> None:
        self._advance(now)
        if not data.strip(b"\r\n"):
            return  # keep-alive
        self._receive(data, Dest("udp", (remote[0], remote[1]), None), (local[0], local[1]),
                      now, False)

    def receive_stream(self, conn_id: int, data: bytes, remote: tuple[str, int],
                       local: tuple[str, int], now: float, transport: str = "tcp") -> None:
        """Bytes of a stream connection: ``transport`` "tcp", or "tls" (the shell
        terminated TLS: answers and requests on it say TLS in Via and Contact)."""
        self._advance(now)
        framer = self._framers.get(conn_id)
        if framer is None:
            framer = self._framers[conn_id] = StreamFramer(self.config.max_message_bytes)
        try:
            messages = framer.feed(data, now)
        except SipParseError as exc:
            log.warning("sip: unframeable stream from %s:%s: %s; discarding buffer",
                        remote[0], remote[1], exc.reason)
            self._framers.pop(conn_id, None)
            return
        src = Dest(transport, (remote[0], remote[1]), conn_id)
        for _ in range(framer.take_pings()):
            self._send(src, b"\r\n")  # RFC 5626 4.4.1: the pong to a CRLFCRLF ping
        for message in messages:
            self._receive(message, src, (local[0], local[1]), now, True)

    def connection_lost(self, conn_id: int) -> None:
        self._framers.pop(conn_id, None)
        for call in self._calls.values():
            if call.dest.conn_id == conn_id:
                call.dest = Dest(call.dest.transport, call.dest.addr, None)

    def _receive(self, data: bytes, src: Dest, local: tuple[str, int], now: float,
                 stream: bool) -> None:
        try:
            msg = parse_message(data, self.config.max_message_bytes, stream)
        except SipParseError as exc:
            if exc.is_response:
                log.info("sip: dropped malformed response from %s:%s: %s",
                         src.addr[0], src.addr[1], exc.reason)
            else:
                self._reject_stateless(exc, src)
            return
        if isinstance(msg, SipResponse):
            self._on_response(msg, src, now)
        else:
            self._on_request(msg, src, local, now)

    # ------------------------------------------------------------------ answers
    def _reject_stateless(self, exc: SipParseError, src: Dest) -> None:
        """Answer a request we could not parse or validate, without a transaction.

        The answer goes back to ``src``, where the request came from (§18.2.2 with
        RFC 3581): a Via's sent-by may name a host we must never resolve or send to.
        """
        req = exc.message if isinstance(exc.message, SipRequest) else None
        method = req.method if req is not None and req.method else "?"
        log.info("sip: rejected %s from %s:%s: %d %s", method, src.addr[0], src.addr[1],
                 exc.status, exc.reason)
        if req is None or method == "ACK":
            return
        resp = SipResponse(exc.status, exc.reason)
        for via in req.get_all("via"):
            resp.add("Via", via)
        for name in ("from", "to", "call-id", "cseq"):
            value = req.get(name)
            if value is not None:
                if name == "to" and "tag=" not in value:
                    value = f"{value};tag={new_tag()}"
                resp.add(name, value)
        if self.config.user_agent:
            resp.add("Server", self.config.user_agent)
        self._send(src, resp.to_bytes())

    def _stamp_via(self, req: SipRequest, src: Dest) -> None:
        """RFC 3581 / §18.2.1: received (and rport when asked) on the top Via, so the
        answer says where it was sent; the answer itself always goes to ``src``."""
        top = req.vias[0]
        via = parse_via(top)
        ip, port = src.addr
        new = top
        rport_asked = "rport" in via.params and via.params["rport"] is None
        if rport_asked:
            new = _RPORT_RE.sub(f";rport={port}", new, count=1)
        host = via.host.strip("[]")
        if (host != ip or rport_asked) and "received" not in via.params:
            new = f"{new};received={ip}"
        if new != top:
            vias = list(req.vias)
            vias[0] = new
            req.set_vias(vias)

    def _reject(self, req: SipRequest, tx: ServerTransaction, status: int, now: float,
                reason: str | None = None, headers: list[tuple[str, str]] | None = None,
                src: Dest | None = None) -> None:
        resp = self._response(req, status, reason, headers)
        peer = src.addr if src is not None else tx.dest.addr
        log.info("sip: rejected %s from %s:%s: %d %s", req.method, peer[0], peer[1],
                 status, resp.reason)
        tx.respond(resp, now)

    def _response(self, req: SipRequest, status: int, reason: str | None = None,
                  headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                  content_type: str | None = None, to_tag: str | None = None) -> SipResponse:
        resp = SipResponse(status, reason)
        for via in req.vias:
            resp.add("Via", via)
        resp.add("From", req.get("from") or "")
        to = req.get("to") or ""
        if status > 100 and req.to_tag is None:
            to = f"{to};tag={to_tag or new_tag()}"
        resp.add("To", to)
        resp.add("Call-ID", req.call_id)
        resp.add("CSeq", req.get("cseq") or "")
        if status == 100:
            ts = req.get("timestamp")
            if ts is not None:
                resp.add("Timestamp", ts)
        if 100 < status < 300 and req.method == "INVITE" and req.to_tag is None:
            for route in req.get_all("record-route"):  # §12.1.1: proxies stay on the path
                resp.add("Record-Route", route)
        if self.config.user_agent:
            resp.add("Server", self.config.user_agent)
        for name, value in headers or ():
            resp.add(name, value)
        if body:
            resp.add("Content-Type", content_type or SDP)
            resp.body = body
        return resp

    def local_sdp(self, call: str) -> bytes | None:
        """The last description we sent in the call (offer or answer)."""
        c = self._calls.get(call)
        return c.local_sdp if c is not None else None

    # ------------------------------------------------------------------ bookkeeping
    def _get(self, call: str) -> Call | None:
        c = self._calls.get(call)
        if c is None:
            log.debug("sip: action on unknown or ended call %s ignored", call)
        return c

    def _register_dialog(self, c: Call) -> None:
        key = c.dialog.key
        if c.registered_key == key:
            return
        if c.registered_key is not None:
            self._dialogs.pop(c.registered_key, None)
        self._dialogs[key] = c
        c.registered_key = key

    def _start_call_timer(self, c: Call, name: str, when: float,
                          cb: Callable[[Call, float], None]) -> None:
        self._stop_call_timer(c, name)
        c.timers[name] = self.timers.call_at(when, lambda now: cb(c, now))

    def _stop_call_timer(self, c: Call, name: str) -> None:
        t = c.timers.pop(name, None)
        if t is not None:
            t.cancel()

    def _end_call(self, c: Call, reason: str, by_remote: bool) -> None:
        if c.ended:
            return
        c.ended = True
        for t in c.timers.values():
            t.cancel()
        c.timers.clear()
        c.ok_data = None
        if c.registered_key is not None and self._dialogs.get(c.registered_key) is c:
            del self._dialogs[c.registered_key]
        self._calls.pop(c.id, None)
        self._emit(CallEnded(c.id, reason, by_remote))
