"""Long calls, the core's part: RFC 4028 session timers (refresh, or BYE when the
refresh never comes), in-dialog UPDATE (RFC 3311), PRACK both ways (RFC 3262).

A mixin over ``SipCore`` that the UAS and UAC roles build on. The refresher sends an
UPDATE without a body when the peer allows UPDATE, else a re-INVITE repeating the
SDP we sent last (an unchanged session, RFC 4028 section 7.4); the other side's
refresh (re-INVITE or UPDATE) restarts the interval when we answer it 2xx. As UAC we
PRACK every new reliable provisional response; as UAS we send none (100 Trying, then
a final answer), so a PRACK reaching us matches nothing and gets 481.
"""

from __future__ import annotations

import logging

from .core import ALLOW, Call, SipCore
from .dialog import contact_uri, new_branch
from .message import SipRequest, SipResponse, decimal_value
from .session_timer import SessionTimer, from_response, min_se_of, request_headers
from .transaction import ClientInviteTransaction, ClientNonInviteTransaction, ClientTransaction

log = logging.getLogger("gateway.sip")

RETRY_BUSY_S = 1.0  # a refresh that meets another transaction in the dialog waits this


def allowed_methods(msg: SipRequest | SipResponse) -> frozenset[str]:
    return frozenset(m.strip().upper() for value in msg.values("allow")
                     for m in value.split(",") if m.strip())


class RefreshRole(SipCore):
    # ---- session timers ---------------------------------------------------------------
    def _session_headers(self, c: Call) -> list[tuple[str, str]]:
        """What a 2xx to an INVITE or UPDATE says of the session timer."""
        if c.session is None:
            return []
        headers = [("Session-Expires", c.session.header())]
        if c.session.peer_supports:
            headers.append(("Require", "timer"))
        return headers

    def _arm_session(self, c: Call, now: float) -> None:
        """The session was (re)established or refreshed at ``now``: time the next."""
        self._stop_call_timer(c, "session")
        timer = c.session
        if timer is None or c.ended:
            return
        if timer.we_refresh(c.role):
            self._start_call_timer(c, "session", timer.refresh_at(now), self._refresh_session)
        else:
            self._start_call_timer(c, "session", timer.expires_at(now), self._session_expired)

    def _session_expired(self, c: Call, now: float) -> None:
        log.info("sip: session timer of call %s expired with no refresh from %s:%s",
                 c.id, *c.dest.addr)
        self._bye(c, "session timer expired", now)

    def _refresh_session(self, c: Call, now: float) -> None:
        if c.ended:
            return
        if (c.state != "confirmed" or c.reinvite_out is not None or c.reinvite_in is not None
                or c.ok_data is not None or c.refresh_out is not None):
            self._start_call_timer(c, "session", now + RETRY_BUSY_S, self._refresh_session)
            return
        assert c.session is not None
        headers = [*request_headers(c.session.interval, self.config.min_se,
                                    c.session.refresher),
                   ("Supported", ", ".join(self.config.supported))]
        if "UPDATE" in c.peer_methods:
            tx = self._in_dialog_request(c, "UPDATE", headers, now)
        else:
            tx = self._refresh_invite(c, headers, now)
        c.refresh_out = tx

    def _in_dialog_request(self, c: Call, method: str, headers: list[tuple[str, str]],
                           now: float) -> ClientNonInviteTransaction:
        d = c.dialog
        branch = new_branch()
        req = d.request(method, cseq=d.next_cseq(),
                        via=self._via(c.local, c.dest.transport, branch),
                        contact=contact_uri(c.user, c.local, c.dest.transport),
                        user_agent=self.config.user_agent, extra=headers)
        tx = ClientNonInviteTransaction(self.layer, req, c.dest, branch)
        tx.owner = c
        tx.on_response = self._refresh_answered
        tx.on_timeout = lambda t: self._refresh_failed(c, 408, t.now)
        tx.start(now)
        return tx

    def _refresh_invite(self, c: Call, headers: list[tuple[str, str]],
                        now: float) -> ClientInviteTransaction:
        d = c.dialog
        branch = new_branch()
        req = d.request("INVITE", cseq=d.next_cseq(),
                        via=self._via(c.local, c.dest.transport, branch),
                        contact=contact_uri(c.user, c.local, c.dest.transport),
                        user_agent=self.config.user_agent, body=c.local_sdp or b"",
                        extra=[("Allow", ALLOW), *headers])
        tx = ClientInviteTransaction(self.layer, req, c.dest, branch)
        tx.owner = c
        tx.on_response = self._refresh_answered
        tx.on_timeout = lambda t: self._refresh_failed(c, 408, t.now)
        tx.start(now)
        return tx

    def _refresh_answered(self, tx: ClientTransaction, resp: SipResponse) -> None:
        c = tx.owner
        if not isinstance(c, Call) or resp.status < 200:
            return
        if isinstance(tx, ClientInviteTransaction) and resp.status < 300:
            self._send_ack(c, resp.cseq[0], b"")
        if tx is not c.refresh_out:
            return
        c.refresh_out = None
        if resp.status < 300:
            c.session = from_response(resp) or c.session
            self._arm_session(c, tx.now)
            return
        self._refresh_failed(c, resp.status, tx.now, resp)

    def _refresh_failed(self, c: Call, status: int, now: float,
                        resp: SipResponse | None = None) -> None:
        c.refresh_out = None
        if c.ended:
            return
        if status == 422 and resp is not None and c.session is not None:
            asked = min_se_of(resp)
            if asked and asked > c.session.interval:  # RFC 4028 7.4: ask again, longer
                c.session = SessionTimer(asked, c.session.refresher, c.session.peer_supports)
                self._refresh_session(c, now)
                return
        if status in (405, 501) and "UPDATE" in c.peer_methods:
            c.peer_methods = c.peer_methods - {"UPDATE"}  # re-INVITE from now on
            self._refresh_session(c, now)
            return
        # 408, 481 and the rest: the session is gone (RFC 4028 10, RFC 5057)
        self._bye(c, f"session refresh failed ({status})", now)

    # ---- PRACK (RFC 3262), as UAC ------------------------------------------------------
    def _prack(self, c: Call, resp: SipResponse, now: float) -> None:
        """PRACK a reliable provisional response, once per RSeq, in order."""
        requires = [v.lower() for v in resp.values("require")]
        if "100rel" not in requires:
            return
        rseq = decimal_value((resp.get("rseq") or "").strip())
        if rseq is None or rseq <= c.rseq:
            return  # a retransmission, or out of order: not acknowledged again
        c.rseq = rseq
        cseq, method = resp.cseq
        self._in_dialog_request(c, "PRACK", [("RAck", f"{rseq} {cseq} {method}")], now) \
            .on_response = None
