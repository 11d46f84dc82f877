"""REGISTER handling (RFC 3261 §10.3): a minimal registrar that keeps bindings per
address-of-record so that REGISTERing peers get a correct answer. It takes no
credentials (403 to any Authorization) and routes nothing by its bindings."""

from __future__ import annotations

from .core import SipCore
from .message import SipParseError, SipRequest, decimal_value, parse_name_addr
from .transaction import Dest, ServerTransaction


def parse_expires(value: str) -> int | None:
    """An ``Expires`` value (delta-seconds, §20.19, under 2**32), or None when it is not
    one. The registrar checks for itself rather than trusting an earlier validation."""
    seconds = decimal_value(value.strip())
    return seconds if seconds is not None and seconds < 2**32 else None


class RegistrarRole(SipCore):
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
        header = req.get("expires")
        if header is not None:
            expires = parse_expires(header)
            if expires is None:
                self._reject(req, tx, 400, now, reason="Bad Request (malformed Expires)",
                             src=src)
                return
            default = expires
        contacts = req.values("contact")
        wildcard = bool(contacts) and contacts[0].strip() == "*"
        if wildcard and (default != 0 or len(contacts) != 1):
            self._reject(req, tx, 400, now, reason="Bad Request (bad wildcard Contact)",
                         src=src)
            return
        changes: list[tuple[str, int]] = []  # parsed in full first: a bad one changes nothing
        for value in [] if wildcard else contacts:
            try:
                na = parse_name_addr(value)
            except SipParseError:
                self._reject(req, tx, 400, now, reason="Bad Request (malformed Contact)",
                             src=src)
                return
            exp = na.params.get("expires")
            seconds = parse_expires(exp) if exp else None
            if seconds is None:
                seconds = default
            changes.append((na.uri, min(seconds, cfg.max_register_expires)))
        bindings = self.registrations.setdefault(aor, {})
        if wildcard:
            bindings.clear()
        for uri, seconds in changes:
            if seconds == 0:
                bindings.pop(uri, None)
            else:
                bindings[uri] = (now + seconds, uri)
        for uri in [u for u, (exp, _) in bindings.items() if exp <= now]:
            del bindings[uri]
        headers = [("Contact", f"<{uri}>;expires={max(0, int(exp - now))}")
                   for uri, (exp, _) in bindings.items()]
        if not bindings:
            del self.registrations[aor]
        tx.respond(self._response(req, 200, headers=headers), now)
