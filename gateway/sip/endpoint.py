"""The sans-IO SIP user agent: bytes and time in, bytes and events out.

Feed it with ``receive_datagram`` / ``receive_stream`` / ``handle_timer``; drain
``transmissions()`` and ``events()`` after every call. Act on calls with
``respond_invite``, ``invite``, ``reinvite``, ``send_info``, ``hangup`` (and ``ack``
for an offerless outgoing INVITE). No sockets and no clock live in here: actions
take an optional ``now`` and otherwise use the injected ``clock`` or the last time
the endpoint was given.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from .dialog import Dialog, contact_uri, hostport, new_branch, new_call_id, new_tag
from .message import (
    DEFAULT_MAX_SIZE,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    StreamFramer,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    validate_request,
    validate_response,
)
from .timers import T1, T2, T4, Timer, TimerQueue
from .transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Dest,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    Transaction,
    TransactionLayer,
    server_key,
)

log = logging.getLogger("gateway.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER"
SUPPORTED_METHODS = frozenset({"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "REGISTER"})
KNOWN_UNSUPPORTED = frozenset(
    {"PRACK", "SUBSCRIBE", "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PUBLISH"}
)
SDP = "application/sdp"

InfoCheck = Callable[[str, bytes], "tuple[int, str] | None"]
"""Decides an INFO's answer from its body: (status, reason) to refuse, None for 200."""
_ACCEPTS_SDP = frozenset({"application/sdp", "application/*", "*/*"})
_RPORT_RE = re.compile(r";\s*rport(?=\s*(?:;|$))", re.I)


# --------------------------------------------------------------------------- config & io


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
    supported: tuple[str, ...] = ()  # option tags we support (none yet)

    @classmethod
    def from_settings(cls, sip: object) -> SipCoreConfig:
        """Build from ``mcu.settings.SipSettings`` (duck-typed)."""
        return cls(
            user_agent=getattr(sip, "user_agent", "mcu/0.1"),
            max_message_bytes=getattr(sip, "max_message_bytes", DEFAULT_MAX_SIZE),
            local_host=getattr(sip, "host", "127.0.0.1"),
            local_port=getattr(sip, "port", 5060),
            t1=getattr(sip, "t1", T1),
        )


@dataclass(frozen=True, slots=True)
class Transmit:
    transport: str  # "udp" | "tcp"
    remote: tuple[str, int]
    data: bytes
    conn_id: int | None = None  # tcp: None = find or open a connection to remote


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class IncomingCall:
    call: str
    request_uri: str
    user: str  # Request-URI user part, percent-decoded; "" for the bare host
    from_uri: str
    display_name: str | None
    to_uri: str
    remote: tuple[str, int]
    local: tuple[str, int]
    transport: str
    sdp: bytes | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CallConfirmed:
    call: str
    sdp: bytes | None  # the ACK's body: the answer to an offerless INVITE


@dataclass(frozen=True, slots=True)
class CallCancelled:
    call: str


@dataclass(frozen=True, slots=True)
class ReInvite:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class ReInviteConfirmed:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class InfoReceived:
    call: str
    content_type: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class InfoAnswered:
    """The final answer to an INFO we sent (a 415/501 says the peer does not take
    that content type, so it should not get another)."""

    call: str
    status: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class CallProgress:
    call: str
    status: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call: str
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallFailed:
    call: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReInviteAnswered:
    call: str
    status: int
    sdp: bytes | None


@dataclass(frozen=True, slots=True)
class CallEnded:
    call: str
    reason: str
    by_remote: bool


Event = (
    IncomingCall | CallConfirmed | CallCancelled | ReInvite | ReInviteConfirmed
    | InfoReceived | InfoAnswered | CallProgress | CallAnswered | CallFailed | ReInviteAnswered
    | CallEnded
)


class SipStateError(RuntimeError):
    """An action that the call's current state does not allow."""


# --------------------------------------------------------------------------- calls


@dataclass(eq=False)
class _Call:
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
    reinvite_in: ServerInviteTransaction | None = None
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


# --------------------------------------------------------------------------- endpoint


class SipEndpoint:
    def __init__(self, config: SipCoreConfig | None = None,
                 clock: Callable[[], float] | None = None,
                 check_info: InfoCheck | None = None) -> None:
        self.config = config or SipCoreConfig()
        self.clock = clock
        self._check_info = check_info
        self._now = 0.0
        self._out: list[Transmit] = []
        self._events: list[Event] = []
        self.timers = TimerQueue()
        c = self.config
        self.layer = TransactionLayer(self._send, self.timers, c.t1, c.t2, c.t4)
        self._calls: dict[str, _Call] = {}
        self._dialogs: dict[tuple, _Call] = {}
        self._merged: dict[tuple, _Call] = {}
        self._framers: dict[int, StreamFramer] = {}
        self._ids = itertools.count(1)
        self.registrations: dict[str, dict[str, tuple[float, str]]] = {}

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
    def next_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self._now = max(self._now, now)
        self.timers.run(now)

    def _time(self, now: float | None) -> float:
        if now is None:
            now = self.clock() if self.clock is not None else self._now
        self._now = max(self._now, now)
        return now

    # ------------------------------------------------------------------ input
    def receive_datagram(self, data: bytes, remote: tuple[str, int], local: tuple[str, int],
                         now: float) -> None:
        self._now = max(self._now, now)
        if not data.strip(b"\r\n"):
            return  # keep-alive
        self._receive(data, Dest("udp", tuple(remote[:2]), None), tuple(local[:2]), now, False)

    def receive_stream(self, conn_id: int, data: bytes, remote: tuple[str, int],
                       local: tuple[str, int], now: float) -> None:
        self._now = max(self._now, now)
        framer = self._framers.get(conn_id)
        if framer is None:
            framer = self._framers[conn_id] = StreamFramer(self.config.max_message_bytes)
        try:
            messages = framer.feed(data)
        except SipParseError as exc:
            log.warning("sip: unframeable stream from %s:%s: %s; discarding buffer",
                        remote[0], remote[1], exc.reason)
            self._framers.pop(conn_id, None)
            return
        src = Dest("tcp", tuple(remote[:2]), conn_id)
        for message in messages:
            self._receive(message, src, tuple(local[:2]), now, True)

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

    # ------------------------------------------------------------------ responses in
    def _on_response(self, resp: SipResponse, src: Dest, now: float) -> None:
        try:
            validate_response(resp)
        except SipParseError as exc:
            log.info("sip: dropped malformed response from %s:%s: %s",
                     src.addr[0], src.addr[1], exc.reason)
            return
        tx = self.layer.find_client(resp)
        if tx is not None:
            tx.receive_response(resp, now)
            return
        # A 2xx retransmission after the client transaction is gone: re-ACK.
        if 200 <= resp.status < 300 and resp.cseq[1] == "INVITE":
            call = self._dialogs.get((resp.call_id, resp.from_tag, resp.to_tag))
            if call is not None:
                ack = call.acks.get(resp.cseq[0])
                if ack is not None:
                    self._send(call.dest, ack)
                return
        log.debug("sip: stray response %d from %s:%s", resp.status, *src.addr)

    # ------------------------------------------------------------------ requests in
    def _reject_stateless(self, exc: SipParseError, src: Dest) -> None:
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
        dest = src
        if src.transport == "udp":
            try:
                dest = self._response_dest(req, src)
            except (SipParseError, ValueError, IndexError):
                dest = src
        self._send(dest, resp.to_bytes())

    def _stamp_via(self, req: SipRequest, src: Dest) -> None:
        """RFC 3581 / §18.2.1: received (and rport when asked) on the top Via."""
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

    def _response_dest(self, req: SipRequest, src: Dest) -> Dest:
        if src.transport != "udp":
            return src
        via = parse_via(req.vias[0])
        host = via.params.get("received") or via.host.strip("[]")
        rport = via.params.get("rport")
        if rport and rport.isdigit():
            port = int(rport)
        elif via.port is not None:
            port = via.port
        else:
            port = 5060
        return Dest("udp", (host, port), None)

    def _on_request(self, req: SipRequest, src: Dest, local: tuple[str, int],
                    now: float) -> None:
        try:
            validate_request(req)
            key = server_key(req)
            self._stamp_via(req, src)
            dest = self._response_dest(req, src)
        except SipParseError as exc:
            exc.message = req
            self._reject_stateless(exc, src)
            return
        method = req.method
        layer = self.layer
        if method == "ACK":
            tx = layer.find_server(key)
            if isinstance(tx, ServerInviteTransaction) and tx.state in ("completed", "confirmed"):
                tx.receive_request(req, now)
                return
            self._on_ack(req, now)
            return
        tx = layer.find_server(key)
        if tx is not None:
            tx.receive_request(req, now)  # retransmission: absorbed / last response re-sent
            return
        if method == "CANCEL":
            self._on_cancel(req, key, dest, now)
            return
        if method == "INVITE":
            tx = ServerInviteTransaction(layer, key, req, dest)
            tx.respond(self._response(req, 100), now)
        else:
            tx = ServerNonInviteTransaction(layer, key, req, dest)
        self._process(req, tx, src, local, now)

    def _reject(self, req: SipRequest, tx: ServerTransaction, status: int, now: float,
                reason: str | None = None, headers: list[tuple[str, str]] | None = None,
                src: Dest | None = None) -> None:
        resp = self._response(req, status, reason, headers)
        peer = src.addr if src is not None else tx.dest.addr
        log.info("sip: rejected %s from %s:%s: %d %s", req.method, peer[0], peer[1],
                 status, resp.reason)
        tx.respond(resp, now)

    def _process(self, req: SipRequest, tx: ServerTransaction, src: Dest,
                 local: tuple[str, int], now: float) -> None:
        method = req.method
        mf = req.get("max-forwards")
        if mf is not None and int(mf) == 0:
            self._reject(req, tx, 483, now, src=src)
            return
        if not req.uri.lower().startswith(("sip:", "sips:")):
            self._reject(req, tx, 416, now, src=src)
            return
        if method not in SUPPORTED_METHODS:
            if method in KNOWN_UNSUPPORTED:
                self._reject(req, tx, 405, now, headers=[("Allow", ALLOW)], src=src)
            else:
                self._reject(req, tx, 501, now, headers=[("Allow", ALLOW)], src=src)
            return
        supported = {o.lower() for o in self.config.supported}
        unsupported = [o for o in req.values("require") if o and o.lower() not in supported]
        if unsupported:
            self._reject(req, tx, 420, now, headers=[("Unsupported", ", ".join(unsupported))],
                         src=src)
            return
        if req.to_tag is not None:
            self._in_dialog(req, tx, src, now)
            return
        if method == "INVITE":
            assert isinstance(tx, ServerInviteTransaction)
            self._new_invite(req, tx, src, local, now)
        elif method == "OPTIONS":
            tx.respond(self._options_response(req), now)
        elif method == "REGISTER":
            self._register(req, tx, src, now)
        else:
            self._reject(req, tx, 481, now, src=src)

    def _content_check(self, req: SipRequest, tx: ServerTransaction, src: Dest,
                       now: float) -> bool:
        """415/406 for an INVITE whose body or Accept we cannot deal with."""
        if req.body:
            ctype = req.content_type
            if ctype != SDP:
                self._reject(req, tx, 415, now, headers=[("Accept", SDP)], src=src)
                return False
            enc = req.values("content-encoding")
            if any(e.lower() != "identity" for e in enc if e):
                self._reject(req, tx, 415, now, headers=[("Accept-Encoding", "identity")],
                             src=src)
                return False
        accept = req.values("accept")
        if req.count("accept") and not any(
            a.split(";", 1)[0].strip().lower() in _ACCEPTS_SDP for a in accept
        ):
            self._reject(req, tx, 406, now, headers=[("Accept", SDP)], src=src)
            return False
        return True

    def _new_invite(self, req: SipRequest, tx: ServerInviteTransaction, src: Dest,
                    local: tuple[str, int], now: float) -> None:
        cseq = req.cseq[0]
        mkey = (req.call_id, req.from_tag, cseq)
        if mkey in self._merged:
            self._reject(req, tx, 482, now, src=src)  # §8.2.2.2 merged request
            return
        if not self._content_check(req, tx, src, now):
            return
        try:
            ruri = parse_uri(req.uri)
            frm = parse_name_addr(req.get("from") or "")
            to = parse_name_addr(req.get("to") or "")
        except SipParseError as exc:
            self._reject(req, tx, 400, now, reason=exc.reason, src=src)
            return
        call_id = f"c{next(self._ids)}"
        dialog = Dialog.as_uas(req, new_tag(), _initial_cseq())
        call = _Call(call_id, "uas", Dest(src.transport, src.addr, src.conn_id), local,
                     unquote(ruri.user or ""), dialog, state="incoming", invite_tx=tx)
        tx.owner = call
        call.merged_key = mkey
        self._merged[mkey] = call
        tx.on_terminated = lambda t, k=mkey, c=call: self._drop_merged(k, c)
        self._calls[call_id] = call
        self._emit(IncomingCall(
            call=call_id,
            request_uri=req.uri,
            user=unquote(ruri.user or ""),
            from_uri=frm.uri,
            display_name=frm.display_name,
            to_uri=to.uri,
            remote=src.addr,
            local=local,
            transport=src.transport,
            sdp=req.body or None,
            headers=tuple(req.headers),
        ))

    def _drop_merged(self, key: tuple, call: _Call) -> None:
        if self._merged.get(key) is call:
            del self._merged[key]

    def _on_cancel(self, req: SipRequest, key: tuple, dest: Dest, now: float) -> None:
        tx = ServerNonInviteTransaction(self.layer, key, req, dest)
        inv = self.layer.find_server(server_key(req, "INVITE"))
        if not isinstance(inv, ServerInviteTransaction):
            self._reject(req, tx, 481, now)
            return
        call = inv.owner if isinstance(inv.owner, _Call) else None
        tag = call.dialog.local_tag if call is not None else None
        tx.respond(self._response(req, 200, to_tag=tag), now)
        if inv.state != "proceeding" or call is None or call.ended:
            return  # final response already sent: the CANCEL has no effect (race)
        inv.respond(self._response(inv.request, 487, to_tag=tag), now)
        if inv is call.invite_tx:
            self._emit(CallCancelled(call.id))
            self._end_call(call, "cancelled", True)
        elif inv is call.reinvite_in:
            call.reinvite_in = None

    def _on_ack(self, req: SipRequest, now: float) -> None:
        call = self._dialogs.get((req.call_id, req.to_tag, req.from_tag))
        if call is None or call.ok_data is None or req.cseq[0] != call.ok_cseq:
            return
        self._stop_call_timer(call, "2xx")
        call.ok_data = None
        sdp = req.body or None
        if call.ok_reinvite:
            self._emit(ReInviteConfirmed(call.id, sdp))
            return
        call.state = "confirmed"
        call.dialog.state = "confirmed"
        self._emit(CallConfirmed(call.id, sdp))
        if call.hangup_after_ack is not None:
            self._bye(call, call.hangup_after_ack, now)

    def _in_dialog(self, req: SipRequest, tx: ServerTransaction, src: Dest, now: float) -> None:
        call = self._dialogs.get((req.call_id, req.to_tag, req.from_tag))
        if call is None:
            self._reject(req, tx, 481, now, src=src)
            return
        d = call.dialog
        cseq = req.cseq[0]
        if d.remote_cseq is not None and cseq < d.remote_cseq:
            self._reject(req, tx, 500, now, reason="Server Internal Error (CSeq out of order)",
                         src=src)
            return
        d.remote_cseq = cseq
        method = req.method
        if method == "BYE":
            tx.respond(self._response(req, 200), now)
            self._fail_pending(call, now)
            self._end_call(call, "bye", True)
        elif method == "INFO":
            refusal = self._check_info(req.content_type, req.body) if self._check_info else None
            if refusal is not None:
                self._reject(req, tx, refusal[0], now, reason=refusal[1], src=src)
                return
            tx.respond(self._response(req, 200), now)
            self._emit(InfoReceived(call.id, req.content_type, req.body))
        elif method == "OPTIONS":
            tx.respond(self._options_response(req), now)
        elif method == "INVITE":
            assert isinstance(tx, ServerInviteTransaction)
            if (call.state != "confirmed" or call.reinvite_out is not None
                    or call.reinvite_in is not None or call.ok_data is not None):
                self._reject(req, tx, 491, now, src=src)
                return
            if not self._content_check(req, tx, src, now):
                return
            d.refresh_target(req)
            call.reinvite_in = tx
            tx.owner = call
            self._emit(ReInvite(call.id, req.body or None))
        else:
            self._reject(req, tx, 405, now, headers=[("Allow", ALLOW)], src=src)

    def _fail_pending(self, call: _Call, now: float) -> None:
        """BYE arrived: answer whatever INVITE is still open with 487."""
        for tx in (call.reinvite_in, call.invite_tx):
            if isinstance(tx, ServerInviteTransaction) and tx.state == "proceeding":
                tx.respond(self._response(tx.request, 487, to_tag=call.dialog.local_tag), now)
        call.reinvite_in = None

    # ------------------------------------------------------------------ core answers
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
        if self.config.user_agent:
            resp.add("Server", self.config.user_agent)
        for name, value in headers or ():
            resp.add(name, value)
        if body:
            resp.add("Content-Type", content_type or SDP)
            resp.body = body
        return resp

    def _options_response(self, req: SipRequest) -> SipResponse:
        return self._response(req, 200, headers=[
            ("Allow", ALLOW), ("Accept", SDP), ("Supported", ", ".join(self.config.supported)),
        ])

    def _register(self, req: SipRequest, tx: ServerTransaction, src: Dest, now: float) -> None:
        if "authorization" in req:
            self._reject(req, tx, 403, now, reason="Forbidden (credentials not accepted)",
                         src=src)
            return
        try:
            aor = parse_name_addr(req.get("to") or "").uri
        except SipParseError:
            self._reject(req, tx, 400, now, reason="Bad Request (malformed To)", src=src)
            return
        cfg = self.config
        default = cfg.register_expires
        if req.get("expires") is not None:
            default = int(req.get("expires") or "0")
        bindings = self.registrations.setdefault(aor, {})
        contacts = req.values("contact")
        if contacts and contacts[0].strip() == "*":
            if default != 0 or len(contacts) != 1:
                self._reject(req, tx, 400, now, reason="Bad Request (bad wildcard Contact)",
                             src=src)
                return
            bindings.clear()
        else:
            for value in contacts:
                try:
                    na = parse_name_addr(value)
                except SipParseError:
                    self._reject(req, tx, 400, now, reason="Bad Request (malformed Contact)",
                                 src=src)
                    return
                exp = na.params.get("expires")
                seconds = int(exp) if exp and exp.isdigit() else default
                seconds = min(seconds, cfg.max_register_expires)
                if seconds == 0:
                    bindings.pop(na.uri, None)
                else:
                    bindings[na.uri] = (now + seconds, na.uri)
        for uri in [u for u, (exp, _) in bindings.items() if exp <= now]:
            del bindings[uri]
        headers = [("Contact", f"<{uri}>;expires={max(0, int(exp - now))}")
                   for uri, (exp, _) in bindings.items()]
        if not bindings:
            self.registrations.pop(aor, None)
        tx.respond(self._response(req, 200, headers=headers), now)

    # ------------------------------------------------------------------ UAS actions
    def _get(self, call: str) -> _Call | None:
        c = self._calls.get(call)
        if c is None:
            log.debug("sip: action on unknown or ended call %s ignored", call)
        return c

    def respond_invite(self, call: str, status: int, reason: str | None = None,
                       body: bytes | None = None, content_type: str = SDP,
                       headers: list[tuple[str, str]] | None = None, *,
                       now: float | None = None) -> None:
        """Answer the incoming INVITE (1xx, 2xx or a failure) or a pending re-INVITE."""
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        reinvite = False
        if c.role == "uas" and c.state in ("incoming", "early"):
            tx = c.invite_tx
        elif c.reinvite_in is not None:
            tx, reinvite = c.reinvite_in, True
        else:
            raise SipStateError(f"call {call} has no INVITE awaiting a response")
        assert isinstance(tx, ServerInviteTransaction)
        req = tx.request
        extra = list(headers or ())
        if 100 < status < 300:
            extra.append(("Contact", f"<{contact_uri(c.user, c.local, c.dest.transport)}>"))
            if status >= 200:
                extra.append(("Allow", ALLOW))
                extra.append(("Supported", ", ".join(self.config.supported)))
        resp = self._response(req, status, reason, extra, body or b"", content_type,
                              to_tag=c.dialog.local_tag)
        data = tx.respond(resp, now)
        if status < 200:
            if status > 100 and not reinvite:
                c.state = "early"
                self._register_dialog(c)
            return
        if status < 300:
            if not reinvite:
                c.state = "answered"
                self._register_dialog(c)
            else:
                c.reinvite_in = None
            c.ok_data, c.ok_dest, c.ok_cseq = data, tx.dest, req.cseq[0]
            c.ok_reinvite = reinvite
            c.ok_started = now
            c.ok_interval = self.config.t1
            self._start_call_timer(c, "2xx", now + c.ok_interval, self._retransmit_2xx)
            return
        if reinvite:
            c.reinvite_in = None
        else:
            self._end_call(c, f"rejected {status}", False)

    def _retransmit_2xx(self, call: _Call, now: float) -> None:
        if call.ended or call.ok_data is None:
            return
        if now - call.ok_started >= 64 * self.config.t1 - 1e-9:
            log.info("sip: no ACK for 2xx on call %s from %s:%s; ending it", call.id,
                     *call.dest.addr)
            call.ok_data = None
            call.state = "confirmed"
            self._bye(call, "no ACK", now)
            return
        assert call.ok_dest is not None
        if not call.ok_dest.reliable:
            self._send(call.ok_dest, call.ok_data)
        call.ok_interval = min(2 * call.ok_interval, self.config.t2)
        when = min(now + call.ok_interval, call.ok_started + 64 * self.config.t1)
        if call.ok_dest.reliable:
            when = call.ok_started + 64 * self.config.t1
        self._start_call_timer(call, "2xx", when, self._retransmit_2xx)

    # ------------------------------------------------------------------ UAC actions
    def _via(self, local: tuple[str, int], transport: str, branch: str) -> str:
        return f"SIP/2.0/{transport.upper()} {hostport(local)};rport;branch={branch}"

    def invite(self, target_uri: str, remote: tuple[str, int], transport: str = "udp",
               from_user: str = "mcu", display_name: str | None = None,
               sdp: bytes | None = None, local: tuple[str, int] | None = None, *,
               now: float | None = None) -> str:
        """Start an outgoing call; returns its handle."""
        now = self._time(now)
        transport = transport.lower()
        local = tuple(local) if local else (self.config.local_host, self.config.local_port)
        tag = new_tag()
        from_na = NameAddr(display_name, f"sip:{from_user}@{hostport(local)}", {"tag": tag})
        dialog = Dialog(new_call_id(local[0]), tag, None, str(from_na), f"<{target_uri}>",
                        _initial_cseq(), None, target_uri, [])
        call = _Call(f"c{next(self._ids)}", "uac", Dest(transport, tuple(remote), None),
                     local, from_user, dialog, state="calling")
        call.offerless = sdp is None
        branch = new_branch()
        req = dialog.request(
            "INVITE", cseq=dialog.local_cseq, via=self._via(local, transport, branch),
            contact=contact_uri(from_user, local, transport),
            user_agent=self.config.user_agent, body=sdp or b"",
            extra=[("Allow", ALLOW), ("Supported", ", ".join(self.config.supported))],
        )
        tx = ClientInviteTransaction(self.layer, req, call.dest, branch)
        tx.owner = call
        tx.on_response = self._uac_response
        tx.on_timeout = self._uac_timeout
        call.invite_tx = tx
        self._calls[call.id] = call
        tx.start(now)
        return call.id

    def ack(self, call: str, sdp: bytes | None = None, *, now: float | None = None) -> None:
        """Send the ACK for an answered offerless INVITE, carrying our answer."""
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if c.state != "awaiting_ack":
            raise SipStateError(f"call {call} is not waiting for an ACK")
        c.state = "confirmed"
        self._send_ack(c, c.invite_cseq, sdp or b"")

    def reinvite(self, call: str, sdp: bytes | None, *, now: float | None = None) -> None:
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if (c.state != "confirmed" or c.reinvite_out is not None or c.reinvite_in is not None
                or c.ok_data is not None):
            raise SipStateError(f"call {call} cannot re-INVITE now (state {c.state})")
        d = c.dialog
        branch = new_branch()
        req = d.request("INVITE", cseq=d.next_cseq(),
                        via=self._via(c.local, c.dest.transport, branch),
                        contact=contact_uri(c.user, c.local, c.dest.transport),
                        user_agent=self.config.user_agent, body=sdp or b"",
                        extra=[("Allow", ALLOW)])
        tx = ClientInviteTransaction(self.layer, req, c.dest, branch)
        tx.owner = c
        tx.on_response = self._uac_response
        tx.on_timeout = self._uac_timeout
        c.reinvite_out = tx
        tx.start(now)

    def send_info(self, call: str, content_type: str, body: bytes, *,
                  now: float | None = None) -> None:
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if c.state not in ("confirmed", "answered", "early"):
            raise SipStateError(f"call {call} has no dialog for INFO (state {c.state})")
        tx = self._request_in_dialog(c, "INFO", body, content_type, now)
        tx.on_response = self._info_response
        tx.on_timeout = lambda t: self._end_if_live(t.owner, "timeout", False, now)

    def hangup(self, call: str, reason: str = "normal", *, now: float | None = None) -> None:
        """BYE when confirmed, CANCEL when our INVITE is early, 480 when theirs is
        unanswered. CallEnded follows (at once, or when the CANCEL resolves)."""
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if c.role == "uas":
            if c.state in ("incoming", "early"):
                tx = c.invite_tx
                assert isinstance(tx, ServerInviteTransaction)
                tx.respond(self._response(tx.request, 480, to_tag=c.dialog.local_tag), now)
                self._end_call(c, reason, False)
            elif c.state == "answered":
                c.hangup_after_ack = reason  # §15: wait for the ACK (or its timeout)
            else:
                self._bye(c, reason, now)
            return
        if c.state in ("calling", "early"):
            if c.cancelling:
                return
            c.cancelling = True
            c.hangup_after_ack = reason
            tx = c.invite_tx
            if isinstance(tx, ClientInviteTransaction) and tx.got_provisional:
                self._send_cancel(c, now)
            else:
                c.pending_cancel = True  # §9.1: CANCEL waits for a provisional
            self._start_call_timer(c, "cancel", now + 64 * self.config.t1,
                                   lambda cc, t: self._end_call(cc, reason, False))
        elif c.state == "awaiting_ack":
            c.state = "confirmed"
            self._send_ack(c, c.invite_cseq, b"")
            self._bye(c, reason, now)
        else:
            self._bye(c, reason, now)

    # ------------------------------------------------------------------ UAC internals
    def _request_in_dialog(self, c: _Call, method: str, body: bytes, content_type: str | None,
                           now: float) -> ClientNonInviteTransaction:
        d = c.dialog
        branch = new_branch()
        req = d.request(method, cseq=d.next_cseq(),
                        via=self._via(c.local, c.dest.transport, branch), contact=None,
                        user_agent=self.config.user_agent, body=body, content_type=content_type)
        tx = ClientNonInviteTransaction(self.layer, req, c.dest, branch)
        tx.owner = c
        tx.start(now)
        return tx

    def _bye(self, c: _Call, reason: str, now: float) -> None:
        if c.ended:
            return
        self._request_in_dialog(c, "BYE", b"", None, now)
        self._end_call(c, reason, False)

    def _send_cancel(self, c: _Call, now: float) -> None:
        tx = c.invite_tx
        assert isinstance(tx, ClientInviteTransaction)
        inv = tx.request
        req = SipRequest("CANCEL", inv.uri)
        req.add("Via", inv.vias[0])
        for route in inv.get_all("route"):
            req.add("Route", route)
        req.add("Max-Forwards", "70")
        req.add("From", inv.get("from") or "")
        req.add("To", inv.get("to") or "")
        req.add("Call-ID", inv.call_id)
        req.add("CSeq", f"{inv.cseq[0]} CANCEL")
        if self.config.user_agent:
            req.add("User-Agent", self.config.user_agent)
        ctx = ClientNonInviteTransaction(self.layer, req, tx.dest, tx.branch)
        ctx.start(now)
        c.pending_cancel = False

    def _send_ack(self, c: _Call, cseq: int, body: bytes) -> None:
        """ACK for a 2xx, built by the UAC core (§13.2.2.4): its own branch."""
        d = c.dialog
        req = d.request("ACK", cseq=cseq, via=self._via(c.local, c.dest.transport, new_branch()),
                        contact=None, user_agent=self.config.user_agent, body=body)
        data = req.to_bytes()
        c.acks[cseq] = data
        self._send(c.dest, data)

    def _uac_response(self, tx: ClientTransaction, resp: SipResponse) -> None:
        c = tx.owner
        now = self._now
        if not isinstance(c, _Call):
            return
        status = resp.status
        cseq = resp.cseq[0]
        if c.ended:
            if 200 <= status < 300 and isinstance(tx, ClientInviteTransaction):
                # A 2xx after we gave up: acknowledge it and hang up that dialog.
                ack = c.acks.get(cseq)
                if ack is not None:
                    self._send(c.dest, ack)
            return
        if tx is c.invite_tx:
            self._uac_initial_response(c, tx, resp, now)
        elif tx is c.reinvite_out:
            if status < 200:
                return
            c.reinvite_out = None
            if status < 300:
                c.dialog.refresh_target(resp)
                self._send_ack(c, cseq, b"")
                self._emit(ReInviteAnswered(c.id, status, resp.body or None))
            else:
                self._emit(ReInviteAnswered(c.id, status, None))
                if status == 481:
                    self._end_call(c, "481 on re-INVITE", True)
                elif status == 408:
                    self._bye(c, "timeout", now)
        elif 200 <= status < 300 and cseq in c.acks:
            self._send(c.dest, c.acks[cseq])  # 2xx retransmission of a re-INVITE

    def _uac_initial_response(self, c: _Call, tx: ClientTransaction, resp: SipResponse,
                              now: float) -> None:
        status = resp.status
        d = c.dialog
        if status < 200:
            if status > 100 and resp.to_tag:
                if d.remote_tag != resp.to_tag:
                    d.update_from_response(resp)
                    self._register_dialog(c)
                if c.state == "calling":
                    c.state = "early"
            if c.pending_cancel:
                self._send_cancel(c, now)
            if status > 100:  # 100 Trying is hop-by-hop, not progress
                self._emit(CallProgress(c.id, status))
            return
        if status < 300:
            cseq = resp.cseq[0]
            if c.state in ("confirmed", "awaiting_ack"):
                ack = c.acks.get(cseq)
                if ack is not None:
                    self._send(c.dest, ack)
                return
            d.update_from_response(resp)
            d.state = "confirmed"
            self._register_dialog(c)
            c.invite_cseq = cseq
            self._stop_call_timer(c, "cancel")
            if c.cancelling:
                c.state = "confirmed"
                self._send_ack(c, cseq, b"")
                self._bye(c, c.hangup_after_ack or "cancelled", now)
                return
            if c.offerless:
                c.state = "awaiting_ack"
            else:
                c.state = "confirmed"
                self._send_ack(c, cseq, b"")
            self._emit(CallAnswered(c.id, resp.body or None))
            return
        if c.cancelling:
            self._end_call(c, c.hangup_after_ack or "cancelled", False)
            return
        self._emit(CallFailed(c.id, status, resp.reason))
        self._end_call(c, f"{status} {resp.reason}", True)

    def _uac_timeout(self, tx: ClientTransaction) -> None:
        c = tx.owner
        if not isinstance(c, _Call) or c.ended:
            return
        if tx is c.invite_tx:
            if c.cancelling:
                self._end_call(c, c.hangup_after_ack or "cancelled", False)
                return
            self._emit(CallFailed(c.id, 408, "Request Timeout"))
            self._end_call(c, "408 Request Timeout", True)
        elif tx is c.reinvite_out:
            c.reinvite_out = None
            self._emit(ReInviteAnswered(c.id, 408, None))
            self._bye(c, "timeout", self._now)

    def _info_response(self, tx: ClientTransaction, resp: SipResponse) -> None:
        if resp.status >= 200 and isinstance(tx.owner, _Call):
            self._emit(InfoAnswered(tx.owner.id, resp.status, tx.request.get("Content-Type")))
        if resp.status in (408, 481):
            self._end_if_live(tx.owner, f"{resp.status} on INFO", resp.status == 481, self._now)

    def _end_if_live(self, c: object, reason: str, by_remote: bool, now: float) -> None:
        if isinstance(c, _Call) and not c.ended:
            if by_remote:
                self._end_call(c, reason, True)
            else:
                self._bye(c, reason, now)

    # ------------------------------------------------------------------ bookkeeping
    def _register_dialog(self, c: _Call) -> None:
        key = c.dialog.key
        if c.registered_key == key:
            return
        if c.registered_key is not None:
            self._dialogs.pop(c.registered_key, None)
        self._dialogs[key] = c
        c.registered_key = key

    def _start_call_timer(self, c: _Call, name: str, when: float,
                          cb: Callable[[_Call, float], None]) -> None:
        self._stop_call_timer(c, name)
        c.timers[name] = self.timers.call_at(when, lambda now: cb(c, now))

    def _stop_call_timer(self, c: _Call, name: str) -> None:
        t = c.timers.pop(name, None)
        if t is not None:
            t.cancel()

    def _end_call(self, c: _Call, reason: str, by_remote: bool) -> None:
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


def _initial_cseq() -> int:
    return 1


__all__ = [
    "CallAnswered", "CallCancelled", "CallConfirmed", "CallEnded", "CallFailed",
    "CallProgress", "Event", "IncomingCall", "InfoReceived", "ReInvite", "ReInviteAnswered",
    "ReInviteConfirmed", "SipCoreConfig", "SipEndpoint", "SipStateError", "Transmit",
]
