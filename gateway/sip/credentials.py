"""Digest authentication as a UAC (RFC 3261 22.2/22.3, RFC 8760), the pure part: which
challenge to answer, and the challenged request sent again with credentials.

A 401 carries WWW-Authenticate and is answered with Authorization; a 407 (a proxy)
carries Proxy-Authenticate and is answered with Proxy-Authorization. Each challenge is
answered once per nonce: a second challenge with a nonce we already answered means the
credentials are wrong, unless it says ``stale=true``. The digest itself is
``gateway.auth`` (shared with RTSP). Passwords never reach a repr or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth import AuthError, digest_authorization, parse_challenges

from .dialog import request_again
from .message import SipRequest, SipResponse


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    realm: str | None = None  # None: answer any realm

    def __repr__(self) -> str:
        return f"Credentials({self.username!r}, password hidden)"


@dataclass(slots=True)
class AuthState:
    """One dialog's (or registration's) answered nonces and nonce counts."""

    answered: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    cnonce: str = ""


class Refused(Exception):
    """The challenge cannot be answered: why, for the call's failure reason."""


def answer_challenge(request: SipRequest, response: SipResponse, credentials: Credentials,
                     state: AuthState, cseq: int, cnonce: str) -> SipRequest:
    """``request`` again, with a new branch and ``cseq`` and the credentials answering
    ``response``'s challenge; raises ``Refused`` saying why it cannot be."""
    proxy = response.status == 407
    header = "proxy-authenticate" if proxy else "www-authenticate"
    try:
        challenges = parse_challenges(response.get_all(header))
    except AuthError as error:
        raise Refused(f"unreadable {header}: {error}") from None
    digests = [c for c in challenges if c.scheme == "digest"]
    if not digests:
        raise Refused("challenged with no Digest scheme")
    usable = [c for c in digests if c.supported
              and (credentials.realm is None or c.realm == credentials.realm)]
    if not usable:
        algorithms = ", ".join(sorted({c.algorithm for c in digests}))
        raise Refused(f"challenge we cannot answer (algorithm {algorithms}, or realm)")
    challenge = usable[0]
    if challenge.nonce in state.answered and not challenge.stale:
        raise Refused("credentials refused")
    state.answered.add(challenge.nonce)
    count = state.counts[challenge.nonce] = state.counts.get(challenge.nonce, 0) + 1
    value = digest_authorization(challenge, credentials.username, credentials.password,
                                 request.method, request.uri, nc=count, cnonce=cnonce)
    # a new challenge replaces the answer to the last one
    return request_again(request, cseq,
                         [("Proxy-Authorization" if proxy else "Authorization", value)])
