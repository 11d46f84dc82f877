"""The registrant (RFC 3261 section 10.2): the MCU registers addresses of record (its
conference numbers, or a prefix a PBX routes to it) with registrars, so that callers
behind a PBX reach it by those names. A role of the sans-IO core: REGISTER
transactions, digest answers, and the refresh and retry timers run in the core's
timer queue with the ``now`` it is given.

Per binding: one Call-ID and a rising CSeq across refreshes (10.2.4); a 401/407 is
answered once per nonce (``credentials``); 423 raises the asked expiry to the
registrar's Min-Expires; 2xx gives the granted expiry (our Contact's ``expires`` or
the Expires header) and the refresh comes at half of it (at most a minute before the
end); a failure (403, a challenge we cannot answer, no answer at all) retries with
capped exponential backoff plus jitter, never in a hot loop. Every change of state
is a ``RegistrationChanged`` event; ``unregister`` sends Expires: 0.
"""

from __future__ import annotations

import itertools
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

from .core import SipCore
from .credentials import AuthState, Credentials, Refused, answer_challenge
from .dialog import hostport, new_branch, new_call_id, new_tag
from .events import RegistrationChanged
from .message import SipRequest, SipResponse, decimal_value
from .timers import Timer
from .transaction import ClientNonInviteTransaction, ClientTransaction, Dest

RETRY_MIN_S = 2.0
RETRY_MAX_S = 300.0
_handles = itertools.count(1)


@dataclass(eq=False)
class Binding:
    handle: str
    registrar: str  # the REGISTER Request-URI: sip:registrar-domain
    dest: Dest
    aor: str  # sip:user@domain: From and To
    contact_user: str
    local: tuple[str, int]
    expires: int  # what we ask
    credentials: Credentials | None
    call_id: str = field(default_factory=lambda: new_call_id("mcu"))
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 0
    auth: AuthState = field(default_factory=AuthState)
    state: str = "registering"  # registering | registered | failed | unregistered
    reason: str = ""
    failures: int = 0
    granted: int = 0
    tx: ClientTransaction | None = None
    removing: bool = False
    timer: Timer | None = None

    def describe(self) -> dict[str, object]:
        return {"aor": self.aor, "registrar": self.registrar, "state": self.state,
                "reason": self.reason, "expires": self.granted}


class RegistrantRole(SipCore):
    _backoff_random: Callable[[], float] = _random.random

    @property
    def _bindings(self) -> dict[str, Binding]:
        return self.__dict__.setdefault("_registrant_bindings", {})

    def register(self, registrar: str, remote: tuple[str, int], aor: str, *,
                 transport: str = "udp", contact_user: str = "", expires: int = 600,
                 credentials: Credentials | None = None,
                 local: tuple[str, int] | None = None, now: float | None = None) -> str:
        """Start keeping ``aor`` registered with ``registrar`` (at ``remote``)."""
        now = self._time(now)
        user = contact_user or aor.partition(":")[2].partition("@")[0]
        binding = Binding(f"r{next(_handles)}", registrar, Dest(transport, tuple(remote), None),
                          aor, user, tuple(local) if local else (self.config.local_host,
                                                                   self.config.local_port),
                          expires, credentials)
        self._bindings[binding.handle] = binding
        self._send_register(binding, binding.expires, now)
        return binding.handle

    def unregister(self, handle: str, *, now: float | None = None) -> None:
        """Remove the binding at the registrar (Expires: 0)."""
        now = self._time(now)
        binding = self._bindings.get(handle)
        if binding is None or binding.removing:
            return
        binding.removing = True
        self._cancel(binding)
        self._send_register(binding, 0, now)

    def registrant_bindings(self) -> list[dict[str, object]]:
        return [b.describe() for b in self._bindings.values()]

    # ---- requests ---------------------------------------------------------------------

    def _send_register(self, b: Binding, expires: int, now: float,
                       request: SipRequest | None = None) -> None:
        b.cseq += 1
        req = request or self._register_request(b, expires)
        tx = ClientNonInviteTransaction(self.layer, req, b.dest, req.top_via.branch or "")
        tx.owner = b
        tx.on_response = self._register_answered
        tx.on_timeout = lambda t: self._register_failed(b, "no answer from the registrar",
                                                        t.now)
        b.tx = tx
        tx.start(now)

    def _register_request(self, b: Binding, expires: int) -> SipRequest:
        transport = b.dest.transport
        req = SipRequest("REGISTER", b.registrar)
        req.add("Via", f"SIP/2.0/{transport.upper()} {hostport(b.local)};rport;"
                       f"branch={new_branch()}")
        req.add("Max-Forwards", "70")
        req.add("From", f"<{b.aor}>;tag={b.from_tag}")
        req.add("To", f"<{b.aor}>")
        req.add("Call-ID", b.call_id)
        req.add("CSeq", f"{b.cseq} REGISTER")
        suffix = f";transport={transport}" if transport != "udp" else ""
        req.add("Contact", f"<sip:{b.contact_user}@{hostport(b.local)}{suffix}>")
        req.add("Expires", str(expires))
        if self.config.user_agent:
            req.add("User-Agent", self.config.user_agent)
        req.add("Content-Length", "0")
        return req

    # ---- answers ----------------------------------------------------------------------

    def _register_answered(self, tx: ClientTransaction, resp: SipResponse) -> None:
        b = tx.owner
        if not isinstance(b, Binding) or tx is not b.tx or resp.status < 200:
            return
        b.tx = None
        now = tx.now
        status = resp.status
        if b.removing:
            self._forget(b, "unregistered" if status < 300 else "failed",
                         "" if status < 300 else f"{status} {resp.reason}")
            return
        if 200 <= status < 300:
            self._registered(b, resp, now)
        elif status in (401, 407) and b.credentials is not None:
            try:
                again = answer_challenge(tx.request, resp, b.credentials, b.auth, b.cseq + 1,
                                         new_tag())
            except Refused as refused:
                self._register_failed(b, str(refused), now)
                return
            self._send_register(b, b.expires, now, again)
        elif status == 423:
            minimum = decimal_value((resp.get("min-expires") or "").strip())
            if minimum and minimum > b.expires:
                b.expires = minimum
                self._send_register(b, b.expires, now)
            else:
                self._register_failed(b, "423 without a usable Min-Expires", now)
        else:
            self._register_failed(b, f"{status} {resp.reason}", now)

    def _registered(self, b: Binding, resp: SipResponse, now: float) -> None:
        b.failures = 0
        b.auth = AuthState()
        b.granted = _granted(resp, b) or b.expires
        self._change(b, "registered", "")
        refresh = now + max(b.granted / 2, b.granted - 60)
        b.timer = self.timers.call_at(refresh, lambda t: self._refresh(b, t))

    def _refresh(self, b: Binding, now: float) -> None:
        b.timer = None
        if not b.removing:
            self._send_register(b, b.expires, now)

    def _register_failed(self, b: Binding, reason: str, now: float) -> None:
        b.tx = None
        if b.removing:
            self._forget(b, "failed", reason)
            return
        b.failures += 1
        self._change(b, "failed", reason)
        delay = min(RETRY_MAX_S, RETRY_MIN_S * 2 ** (b.failures - 1))
        delay *= 0.8 + 0.4 * self._backoff_random()
        b.timer = self.timers.call_at(now + delay, lambda t: self._retry(b, t))

    def _retry(self, b: Binding, now: float) -> None:
        b.timer = None
        if not b.removing:
            b.auth = AuthState()
            self._change(b, "registering", b.reason)
            self._send_register(b, b.expires, now)

    # ---- bookkeeping ------------------------------------------------------------------

    def _change(self, b: Binding, state: str, reason: str) -> None:
        if (state, reason) != (b.state, b.reason):
            b.state, b.reason = state, reason
            self._emit(RegistrationChanged(b.handle, b.aor, state, reason))

    def _cancel(self, b: Binding) -> None:
        if b.timer is not None:
            b.timer.cancel()
            b.timer = None

    def _forget(self, b: Binding, state: str, reason: str) -> None:
        self._cancel(b)
        self._change(b, state, reason)
        self._bindings.pop(b.handle, None)


def _granted(resp: SipResponse, b: Binding) -> int | None:
    """The expiry the registrar granted our Contact (10.2.4)."""
    ours = f"{b.contact_user}@{hostport(b.local)}"
    for value in resp.get_all("contact"):
        for contact in value.split(","):
            if ours in contact:
                for param in contact.split(";")[1:]:
                    name, _, val = param.partition("=")
                    if name.strip().lower() == "expires":
                        return decimal_value(val.strip())
    expires = resp.get("expires")
    return decimal_value(expires.strip()) if expires else None
