"""The UAS role: requests that reach us (INVITE, ACK, CANCEL, BYE, INFO, MESSAGE, OPTIONS,
and in-dialog requests), and our answers to an incoming INVITE or re-INVITE.

MESSAGE (RFC 3428) is taken from a party we are in a call with: in the call's dialog, or
out of it (pager mode, as phones send it: baresip's ``/message``) when its From URI and
source address are those of a confirmed call. Anyone else's is 404.

Every request is checked before it changes anything: a bad one gets its 4xx/5xx and
leaves no call, dialog or binding behind. Answers go back where the request came
from (``src``), never to a host named in a Via.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from .admission import Drop, Refuse503
from .core import ALLOW, SDP, Call, SipStateError, initial_cseq
from .dialog import Dialog, contact_uri, new_tag
from .events import (
    CallCancelled,
    CallConfirmed,
    IncomingCall,
    InfoReceived,
    MessageReceived,
    ReInvite,
    ReInviteConfirmed,
)
from .message import (
    SipParseError,
    SipRequest,
    SipResponse,
    decimal_value,
    parse_name_addr,
    parse_uri,
    validate_request,
)
from .refresh import RefreshRole, allowed_methods
from .registrar import RegistrarRole
from .session_timer import SessionTimer, TooSmall, negotiate_request
from .text import check_text, decode_text
from .transaction import (
    Dest,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    server_key,
)

log = logging.getLogger("gateway.sip")

SUPPORTED_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "MESSAGE", "REGISTER", "UPDATE",
     "PRACK"})
KNOWN_UNSUPPORTED = frozenset({"SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH"})
_ACCEPTS_SDP = frozenset({"application/sdp", "application/*", "*/*"})


class UasRole(RegistrarRole, RefreshRole):
    def _on_request(self, req: SipRequest, src: Dest, local: tuple[str, int],
                    now: float) -> None:
        try:
            validate_request(req)
            key = server_key(req)
            self._stamp_via(req, src)
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
            self._on_cancel(req, key, src, now)
            return
        if method == "INVITE":
            if req.to_tag is None and not self._screened(req, src, now):
                return
            tx = ServerInviteTransaction(layer, key, req, src)
            tx.respond(self._response(req, 100), now)
        else:
            tx = ServerNonInviteTransaction(layer, key, req, src)
        self._process(req, tx, src, local, now)

    def _screened(self, req: SipRequest, src: Dest, now: float) -> bool:
        """A new dialog-creating INVITE goes on only when admission lets it (issue 19).
        A refusal is a stateless 503 with Retry-After (no transaction, no 100 Trying,
        no retransmissions for a source that may be spoofed); a drop gets no answer.
        Neither is logged here: the screen tells operators once per episode."""
        if self._screen_invite is None:
            return True
        verdict = self._screen_invite(src.addr[0], now)
        if isinstance(verdict, Drop):
            return False
        if isinstance(verdict, Refuse503):
            resp = self._response(req, 503, f"Service Unavailable ({verdict.what})",
                                  [("Retry-After", str(verdict.retry_after))])
            self._send(src, resp.to_bytes())
            return False
        return True

    def _process(self, req: SipRequest, tx: ServerTransaction, src: Dest,
                 local: tuple[str, int], now: float) -> None:
        method = req.method
        mf = req.get("max-forwards")
        if mf is not None and decimal_value(mf.strip()) == 0:
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
        elif method == "MESSAGE":
            self._pager_message(req, tx, src, now)
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
        timer = self._session_timer_of(req, tx, src, now)
        if timer is None:
            return
        try:
            ruri = parse_uri(req.uri)
            frm = parse_name_addr(req.get("from") or "")
            to = parse_name_addr(req.get("to") or "")
        except SipParseError as exc:
            self._reject(req, tx, 400, now, reason=exc.reason, src=src)
            return
        call_id = f"c{next(self._ids)}"
        dialog = Dialog.as_uas(req, new_tag(), initial_cseq())
        call = Call(call_id, "uas", Dest(src.transport, src.addr, src.conn_id), local,
                     unquote(ruri.user or ""), dialog, state="incoming", invite_tx=tx)
        tx.owner = call
        call.session = timer
        call.peer_methods = allowed_methods(req)
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

    def _session_timer_of(self, req: SipRequest, tx: ServerTransaction, src: Dest,
                          now: float) -> SessionTimer | None:
        """The session timer an INVITE or UPDATE asks; None after answering it 422."""
        timer = negotiate_request(req, self.config.session_expires, self.config.min_se)
        if isinstance(timer, TooSmall):
            self._reject(req, tx, 422, now, headers=[("Min-SE", str(timer.min_se))], src=src)
            return None
        return timer

    def _drop_merged(self, key: tuple, call: Call) -> None:
        if self._merged.get(key) is call:
            del self._merged[key]

    def _on_cancel(self, req: SipRequest, key: tuple, src: Dest, now: float) -> None:
        tx = ServerNonInviteTransaction(self.layer, key, req, src)
        inv = self.layer.find_server(server_key(req, "INVITE"))
        if not isinstance(inv, ServerInviteTransaction):
            self._reject(req, tx, 481, now)
            return
        call = inv.owner if isinstance(inv.owner, Call) else None
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
        self._arm_session(call, now)
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
        elif method == "MESSAGE":
            self._message(req, tx, src, now, call)
        elif method == "INVITE":
            assert isinstance(tx, ServerInviteTransaction)
            if (call.state != "confirmed" or call.reinvite_out is not None
                    or call.reinvite_in is not None or call.ok_data is not None):
                self._reject(req, tx, 491, now, src=src)
                return
            if not self._content_check(req, tx, src, now):
                return
            timer = self._session_timer_of(req, tx, src, now)
            if timer is None:
                return
            d.refresh_target(req)
            call.session = timer
            call.reinvite_in = tx
            tx.owner = call
            self._emit(ReInvite(call.id, req.body or None))
        elif method == "UPDATE":
            self._on_update(req, call, tx, src, now)
        elif method == "PRACK":  # we send no reliable provisional: nothing to match
            self._reject(req, tx, 481, now, src=src)
        else:
            self._reject(req, tx, 405, now, headers=[("Allow", ALLOW)], src=src)

    def _on_update(self, req: SipRequest, call: Call, tx: ServerTransaction, src: Dest,
                   now: float) -> None:
        """RFC 3311: a refresh (no body: answered here) or a new offer (the application
        answers it as a re-INVITE's, in the UPDATE's 2xx)."""
        if req.body and (call.reinvite_in is not None or call.reinvite_out is not None):
            self._reject(req, tx, 491, now, src=src)  # an offer crossing another
            return
        if req.body and not self._content_check(req, tx, src, now):
            return
        timer = self._session_timer_of(req, tx, src, now)
        if timer is None:
            return
        call.session = timer
        call.dialog.refresh_target(req)
        if req.body:
            call.reinvite_in = tx
            tx.owner = call
            self._emit(ReInvite(call.id, req.body))
            return
        tx.respond(self._response(req, 200, headers=self._session_headers(call)), now)
        self._arm_session(call, now)

    def _message(self, req: SipRequest, tx: ServerTransaction, src: Dest, now: float,
                 call: Call) -> None:
        """RFC 3428: text/plain only (415 with Accept otherwise), then 200 and the text."""
        status, reason, headers = check_text(req.content_type, req.body)
        if status != 200:
            self._reject(req, tx, status, now, reason=reason, headers=headers, src=src)
            return
        tx.respond(self._response(req, 200), now)
        text = decode_text(req.body)
        if text:
            self._emit(MessageReceived(call.id, text))

    def _pager_message(self, req: SipRequest, tx: ServerTransaction, src: Dest,
                       now: float) -> None:
        """A MESSAGE outside any dialog: taken when a confirmed call has its sender."""
        call = self._call_of_sender(req, src)
        if call is None:
            self._reject(req, tx, 404, now, src=src)
            return
        self._message(req, tx, src, now, call)

    def _call_of_sender(self, req: SipRequest, src: Dest) -> Call | None:
        try:
            sender = parse_uri(parse_name_addr(req.get("from") or "").uri)
        except SipParseError:
            return None
        for call in self._dialogs.values():
            if call.state != "confirmed" or call.dest.addr[0] != src.addr[0]:
                continue
            try:
                party = parse_uri(parse_name_addr(call.dialog.remote_header).uri)
            except SipParseError:
                continue
            if (party.user, party.host.lower(), party.port) == (
                    sender.user, sender.host.lower(), sender.port):
                return call
        return None

    def _fail_pending(self, call: Call, now: float) -> None:
        """BYE arrived: answer whatever INVITE is still open with 487."""
        for tx in (call.reinvite_in, call.invite_tx):
            if isinstance(tx, ServerInviteTransaction) and tx.state == "proceeding":
                tx.respond(self._response(tx.request, 487, to_tag=call.dialog.local_tag), now)
        call.reinvite_in = None

    def _options_response(self, req: SipRequest) -> SipResponse:
        return self._response(req, 200, headers=[
            ("Allow", ALLOW), ("Accept", SDP), ("Supported", ", ".join(self.config.supported)),
        ])

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
        req = tx.request
        extra = list(headers or ())
        if 100 < status < 300:
            extra.append(("Contact", f"<{contact_uri(c.user, c.local, c.dest.transport)}>"))
            if status >= 200:
                extra.append(("Allow", ALLOW))
                extra.append(("Supported", ", ".join(self.config.supported)))
                extra += self._session_headers(c)
                c.local_sdp = body or c.local_sdp
        resp = self._response(req, status, reason, extra, body or b"", content_type,
                              to_tag=c.dialog.local_tag)
        data = tx.respond(resp, now)
        if not isinstance(tx, ServerInviteTransaction):  # an UPDATE's offer, answered
            c.reinvite_in = None
            if 200 <= status < 300:
                self._arm_session(c, now)
            return
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
                self._arm_session(c, now)  # the re-INVITE refreshed the session
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

    def _retransmit_2xx(self, call: Call, now: float) -> None:
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
