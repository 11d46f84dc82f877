"""The UAC role: the requests we send (INVITE, ACK, re-INVITE, INFO, BYE, CANCEL),
the answers to them, and ``hangup``, which picks BYE, CANCEL or a 480 by the call's
state. Callbacks from client transactions take their time from ``tx.now``, the time
of the response or timer that triggered them.
"""

from __future__ import annotations

import logging

from .core import ALLOW, Call, SipStateError, initial_cseq
from .credentials import Credentials, Refused, answer_challenge
from .dialog import (
    Dialog,
    contact_uri,
    hostport,
    new_branch,
    new_call_id,
    new_tag,
    request_again,
)
from .events import CallAnswered, CallFailed, CallProgress, InfoAnswered, ReInviteAnswered
from .message import NameAddr, SipParseError, SipRequest, SipResponse, validate_response
from .refresh import RefreshRole, allowed_methods
from .session_timer import from_response, min_se_of, request_headers
from .text import SEND_TYPE
from .transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Dest,
    ServerInviteTransaction,
)

log = logging.getLogger("gateway.sip")


class UacRole(RefreshRole):
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

    def _via(self, local: tuple[str, int], transport: str, branch: str) -> str:
        return f"SIP/2.0/{transport.upper()} {hostport(local)};rport;branch={branch}"

    def invite(self, target_uri: str, remote: tuple[str, int], transport: str = "udp",
               from_user: str = "mcu", display_name: str | None = None,
               sdp: bytes | None = None, local: tuple[str, int] | None = None, *,
               now: float | None = None, credentials: Credentials | None = None,
               route: list[str] | None = None,
               headers: list[tuple[str, str]] | None = None) -> str:
        """Start an outgoing call; returns its handle. ``credentials`` answer a 401/407
        (from the callee or a proxy); ``route``: a preloaded Route set (an outbound
        proxy, loose routing), the request still going to ``remote``; ``headers``:
        extension headers the INVITE carries as well."""
        now = self._time(now)
        transport = transport.lower()
        local = tuple(local) if local else (self.config.local_host, self.config.local_port)
        tag = new_tag()
        from_na = NameAddr(display_name, f"sip:{from_user}@{hostport(local)}", {"tag": tag})
        dialog = Dialog(new_call_id(local[0]), tag, None, str(from_na), f"<{target_uri}>",
                        initial_cseq(), None, target_uri, [])
        call = Call(f"c{next(self._ids)}", "uac", Dest(transport, tuple(remote), None),
                     local, from_user, dialog, state="calling")
        call.offerless = sdp is None
        call.local_sdp = sdp
        call.credentials = credentials
        dialog.route_set = list(route or [])
        branch = new_branch()
        req = dialog.request(
            "INVITE", cseq=dialog.local_cseq, via=self._via(local, transport, branch),
            contact=contact_uri(from_user, local, transport),
            user_agent=self.config.user_agent, body=sdp or b"",
            extra=[("Allow", ALLOW), ("Supported", ", ".join(self.config.supported)),
                   *request_headers(self.config.session_expires, self.config.min_se),
                   *(headers or [])],
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
        c.local_sdp = sdp or c.local_sdp
        self._send_ack(c, c.invite_cseq, sdp or b"")
        self._arm_session(c, now)

    def reinvite(self, call: str, sdp: bytes | None, *, now: float | None = None) -> None:
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if (c.state != "confirmed" or c.reinvite_out is not None or c.reinvite_in is not None
                or c.ok_data is not None or isinstance(c.refresh_out, ClientInviteTransaction)):
            raise SipStateError(f"call {call} cannot re-INVITE now (state {c.state})")
        d = c.dialog
        branch = new_branch()
        c.local_sdp = sdp or c.local_sdp
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
        tx.on_timeout = lambda t: self._end_if_live(t.owner, "timeout", False, t.now)

    def send_text(self, call: str, text: str, *, now: float | None = None) -> None:
        """A SIP MESSAGE (RFC 3428) in the call's dialog. Its answer changes nothing: a
        peer that takes no text (405/415/501) or does not answer keeps its call."""
        now = self._time(now)
        c = self._get(call)
        if c is None:
            return
        if c.state != "confirmed":
            raise SipStateError(f"call {call} has no confirmed dialog for MESSAGE")
        tx = self._request_in_dialog(c, "MESSAGE", text.encode("utf-8"), SEND_TYPE, now)
        tx.on_response = None
        tx.on_timeout = None

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

    def _request_in_dialog(self, c: Call, method: str, body: bytes, content_type: str | None,
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

    def _bye(self, c: Call, reason: str, now: float) -> None:
        if c.ended:
            return
        tx = self._request_in_dialog(c, "BYE", b"", None, now)
        tx.on_response = self._challenged  # a proxy may want our credentials for it
        self._end_call(c, reason, False)

    def _send_cancel(self, c: Call, now: float) -> None:
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

    def _send_ack(self, c: Call, cseq: int, body: bytes) -> None:
        """ACK for a 2xx, built by the UAC core (§13.2.2.4): its own branch."""
        d = c.dialog
        req = d.request("ACK", cseq=cseq, via=self._via(c.local, c.dest.transport, new_branch()),
                        contact=None, user_agent=self.config.user_agent, body=body)
        data = req.to_bytes()
        c.acks[cseq] = data
        self._send(c.dest, data)

    def _uac_response(self, tx: ClientTransaction, resp: SipResponse) -> None:
        c = tx.owner
        now = tx.now
        if not isinstance(c, Call):
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
                c.session = from_response(resp) or c.session  # a re-INVITE refreshes too
                self._arm_session(c, now)
                self._emit(ReInviteAnswered(c.id, status, resp.body or None))
            else:
                self._emit(ReInviteAnswered(c.id, status, None))
                if status == 481:
                    self._end_call(c, "481 on re-INVITE", True)
                elif status == 408:
                    self._bye(c, "timeout", now)
        elif 200 <= status < 300 and cseq in c.acks:
            self._send(c.dest, c.acks[cseq])  # 2xx retransmission of a re-INVITE

    def _uac_initial_response(self, c: Call, tx: ClientTransaction, resp: SipResponse,
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
                self._prack(c, resp, now)
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
            c.session = from_response(resp)
            c.peer_methods = allowed_methods(resp)
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
                self._arm_session(c, now)
            self._emit(CallAnswered(c.id, resp.body or None))
            return
        if c.cancelling:
            self._end_call(c, c.hangup_after_ack or "cancelled", False)
            return
        asked = min_se_of(resp) if status == 422 else None
        if asked is not None and asked > self.config.session_expires and not c.interval_raised:
            # RFC 4028 7.4: the callee wants a longer interval; ask once with its Min-SE
            c.interval_raised = True
            c.dialog.local_cseq += 1
            self._invite_with(c, request_again(tx.request, c.dialog.local_cseq,
                                               request_headers(asked, asked)), now)
            return
        if status in (401, 407) and c.credentials is not None:
            try:
                self._invite_again(c, tx, resp, now)
                return
            except Refused as refused:
                reason = str(refused)
                self._emit(CallFailed(c.id, status, reason))
                self._end_call(c, f"{status} {reason}", True)
                return
        self._emit(CallFailed(c.id, status, resp.reason))
        self._end_call(c, f"{status} {resp.reason}", True)

    def _invite_again(self, c: Call, tx: ClientTransaction, resp: SipResponse,
                      now: float) -> None:
        """The challenged INVITE again with credentials (same dialog, next CSeq)."""
        assert c.credentials is not None
        c.dialog.local_cseq += 1
        self._invite_with(c, answer_challenge(tx.request, resp, c.credentials, c.auth,
                                              c.dialog.local_cseq, new_tag()), now)

    def _invite_with(self, c: Call, req: SipRequest, now: float) -> None:
        """The initial INVITE sent again as ``req`` (same dialog, its own CSeq)."""
        again = ClientInviteTransaction(self.layer, req, c.dest, req.top_via.branch or "")
        again.owner = c
        again.on_response = self._uac_response
        again.on_timeout = self._uac_timeout
        c.invite_tx = again
        again.start(now)

    def _challenged(self, tx: ClientTransaction, resp: SipResponse) -> None:
        """An in-dialog request (BYE, INFO, ...) challenged by a proxy or the peer:
        sent again once with credentials; otherwise nothing more to do."""
        c = tx.owner
        if resp.status not in (401, 407) or not isinstance(c, Call) or c.credentials is None:
            return
        try:
            req = answer_challenge(tx.request, resp, c.credentials, c.auth,
                                   c.dialog.next_cseq(), new_tag())
        except Refused as refused:
            log.info("sip: %s of call %s not sent again: %s", tx.request.method, c.id, refused)
            return
        again = ClientNonInviteTransaction(self.layer, req, tx.dest, req.top_via.branch or "")
        again.owner = c
        again.on_response = tx.on_response
        again.on_timeout = tx.on_timeout
        again.start(tx.now)

    def _uac_timeout(self, tx: ClientTransaction) -> None:
        c = tx.owner
        if not isinstance(c, Call) or c.ended:
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
            self._bye(c, "timeout", tx.now)

    def _info_response(self, tx: ClientTransaction, resp: SipResponse) -> None:
        if resp.status >= 200 and isinstance(tx.owner, Call):
            self._emit(InfoAnswered(tx.owner.id, resp.status, tx.request.get("Content-Type")))
        if resp.status in (408, 481):
            self._end_if_live(tx.owner, f"{resp.status} on INFO", resp.status == 481, tx.now)

    def _end_if_live(self, c: object, reason: str, by_remote: bool, now: float) -> None:
        if isinstance(c, Call) and not c.ended:
            if by_remote:
                self._end_call(c, reason, True)
            else:
                self._bye(c, reason, now)
