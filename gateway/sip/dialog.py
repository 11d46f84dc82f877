"""Dialog state (RFC 3261 §12): identifiers, CSeq spaces, route set, remote target.

A ``Dialog`` builds the requests sent inside it (BYE, INFO, re-INVITE, ACK for 2xx,
CANCEL's sibling fields); the endpoint owns the call flow around it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .message import SipParseError, SipRequest, SipResponse, parse_name_addr, parse_name_addr_list


def new_tag() -> str:
    return secrets.token_hex(5)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def request_again(request: SipRequest, cseq: int,
                  replace: list[tuple[str, str]]) -> SipRequest:
    """``request`` sent again as a new transaction (a new branch, ``cseq``), with the
    headers of ``replace`` in place of any of the same names it had."""
    again = SipRequest(request.method, request.uri, list(request.headers), request.body)
    top = request.vias[0]
    base, _, after = top.partition(";branch=")
    rest = after.partition(";")[2]
    again.set_vias([f"{base};branch={new_branch()}" + (f";{rest}" if rest else ""),
                    *request.vias[1:]])
    again.set("CSeq", f"{cseq} {request.method}")
    for name in dict.fromkeys(name for name, _ in replace):
        again.remove(name)
    for name, value in replace:
        again.add(name, value)
    return again


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def hostport(addr: tuple[str, int]) -> str:
    host, port = addr
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def contact_uri(user: str, local: tuple[str, int], transport: str) -> str:
    user_part = f"{user}@" if user else ""
    suffix = f";transport={transport}" if transport in ("tcp", "tls") else ""
    return f"sip:{user_part}{hostport(local)}{suffix}"


def first_contact_uri(msg: SipRequest | SipResponse) -> str | None:
    for value in msg.get_all("contact"):
        try:
            items = parse_name_addr_list(value)
        except SipParseError:
            return None
        if items:
            return items[0].uri
    return None


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str | None
    local_header: str  # our From (UAC) / To (UAS) value, tag included
    remote_header: str  # the peer's party value, tag included when it has one
    local_cseq: int
    remote_cseq: int | None
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    state: str = "early"  # early | confirmed

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uas(cls, req: SipRequest, local_tag: str, local_cseq: int) -> Dialog:
        """§12.1.1: the route set is Record-Route in order; target is the Contact."""
        to_value = req.get("to") or ""
        if ";tag=" not in to_value.replace(" ", ""):
            to_value = f"{to_value};tag={local_tag}"
        routes: list[str] = []
        for value in req.get_all("record-route"):
            routes.extend(str(na) for na in _safe_list(value))
        from_value = req.get("from") or ""
        target = first_contact_uri(req) or _uri_of(from_value)
        return cls(req.call_id, local_tag, req.from_tag, to_value, from_value, local_cseq,
                   req.cseq[0], target, routes)

    def update_from_response(self, resp: SipResponse) -> None:
        """§12.1.2 (UAC): remote tag, route set (Record-Route reversed), target."""
        self.remote_tag = resp.to_tag
        self.remote_header = resp.get("to") or self.remote_header
        routes: list[str] = []
        for value in resp.get_all("record-route"):
            routes.extend(str(na) for na in _safe_list(value))
        routes.reverse()
        self.route_set = routes
        target = first_contact_uri(resp)
        if target:
            self.remote_target = target

    def refresh_target(self, msg: SipRequest | SipResponse) -> None:
        target = first_contact_uri(msg)
        if target:
            self.remote_target = target

    def next_cseq(self) -> int:
        self.local_cseq += 1
        return self.local_cseq

    def request(self, method: str, *, cseq: int, via: str, contact: str | None,
                user_agent: str | None, body: bytes = b"", content_type: str | None = None,
                extra: list[tuple[str, str]] | None = None) -> SipRequest:
        """A request inside the dialog (§12.2.1.1), loose routing assumed."""
        req = SipRequest(method, self.remote_target)
        req.add("Via", via)
        for route in self.route_set:
            req.add("Route", route)
        req.add("Max-Forwards", "70")
        req.add("From", self.local_header)
        req.add("To", self.remote_header)
        req.add("Call-ID", self.call_id)
        req.add("CSeq", f"{cseq} {method}")
        if contact:
            req.add("Contact", f"<{contact}>")
        if user_agent:
            req.add("User-Agent", user_agent)
        for name, value in extra or ():
            req.add(name, value)
        if body:
            req.add("Content-Type", content_type or "application/sdp")
        req.body = body
        return req


def _safe_list(value: str):
    try:
        return parse_name_addr_list(value)
    except SipParseError:
        return []


def _uri_of(value: str) -> str:
    try:
        return parse_name_addr(value).uri
    except SipParseError:
        return ""
