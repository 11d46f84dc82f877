"""HTTP-style authentication for our clients: WWW-Authenticate / Proxy-Authenticate
parsing and Authorization building (RFC 2617, RFC 7616's SHA-256, RFC 8760 for SIP).

Shared by the RTSP camera client and the SIP UAC (registrant, INVITE, BYE). Written by
hand because both cores are sans-IO: the cnonce and nonce count are passed in, so a
Digest answer is a pure function and tests can check it byte for byte. Basic and
Digest with MD5, MD5-sess or SHA-256 and qop=auth are answered (what IP cameras,
GStreamer's server, Kamailio and PBXes speak); other schemes and algorithms are
parsed and reported, never answered. SIP never answers Basic (RFC 3261 22.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field


class AuthError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "basic", "digest", ...
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def nonce(self) -> str:
        return self.params.get("nonce", "")

    @property
    def opaque(self) -> str | None:
        return self.params.get("opaque")

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm", "MD5")

    @property
    def qop(self) -> list[str]:
        raw = self.params.get("qop")
        return [q.strip().lower() for q in raw.split(",") if q.strip()] if raw else []

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"

    @property
    def supported(self) -> bool:
        if self.scheme == "basic":
            return True
        if self.scheme != "digest" or not self.nonce:
            return False
        if self.algorithm.upper() not in _DIGESTS:
            return False
        return not self.qop or "auth" in self.qop


def _tokens(value: str) -> list[tuple[str, str | None]]:
    """Split an auth header into (token, None) scheme names and (name, value) params."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        start = i
        while i < n and value[i] not in " \t,=":
            i += 1
        name = value[start:i]
        if not name:
            if i < n:
                raise AuthError(f"unexpected {value[i]!r} in authentication header")
            break
        j = i
        while j < n and value[j] in " \t":
            j += 1
        if j < n and value[j] == "=" and not name.endswith("="):
            j += 1
            while j < n and value[j] in " \t":
                j += 1
            if j < n and value[j] == '"':
                j += 1
                chars: list[str] = []
                while j < n and value[j] != '"':
                    if value[j] == "\\" and j + 1 < n:
                        j += 1
                    chars.append(value[j])
                    j += 1
                if j >= n:
                    raise AuthError("unterminated quoted string in authentication header")
                out.append((name.lower(), "".join(chars)))
                i = j + 1
            else:
                vstart = j
                while j < n and value[j] not in " \t,":
                    j += 1
                out.append((name.lower(), value[vstart:j]))
                i = j
        else:
            out.append((name, None))  # a scheme name (or a token68 credential)
    return out


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the WWW-Authenticate header values; raises ``AuthError``."""
    result: list[Challenge] = []
    for value in values:
        scheme: str | None = None
        params: dict[str, str] = {}
        for name, val in _tokens(value):
            if val is None:
                if scheme is not None and params:
                    result.append(Challenge(scheme, params))
                    params = {}
                if scheme is None or not params:
                    scheme = name.lower()
                continue
            if scheme is None:
                raise AuthError("authentication parameter before any scheme")
            params[name] = val
        if scheme is not None:
            result.append(Challenge(scheme, params))
    return result


def choose_challenge(challenges: list[Challenge]) -> Challenge | None:
    """The challenge we answer: Digest (stronger) before Basic; None if none is supported."""
    for scheme in ("digest", "basic"):
        for ch in challenges:
            if ch.scheme == scheme and ch.supported:
                return ch
    return None


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


_DIGESTS = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(_DIGESTS[algorithm.upper()], text.encode("utf-8")).hexdigest()


def digest_response(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str = "",
) -> str:
    """The RFC 2617/7616 ``response`` value (the hex digest) for one request."""
    algorithm = challenge.algorithm

    def h(text: str) -> str:
        return _hash(algorithm, text)

    ha1 = h(f"{username}:{challenge.realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    if "auth" in challenge.qop:
        return h(f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return h(f"{ha1}:{challenge.nonce}:{ha2}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_authorization(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str = "",
) -> str:
    """The Authorization header value answering a Digest ``challenge``."""
    response = digest_response(challenge, username, password, method, uri, nc=nc, cnonce=cnonce)
    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
    ]
    if "algorithm" in challenge.params:
        parts.append(f"algorithm={challenge.algorithm}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    if "auth" in challenge.qop:
        parts += ["qop=auth", f"nc={nc:08x}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def authorization(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str = "",
) -> str:
    if challenge.scheme == "basic":
        return basic_authorization(username, password)
    return digest_authorization(challenge, username, password, method, uri, nc=nc, cnonce=cnonce)


# ---- the server side: what a client presented (RTSP out, issue 15)


def parse_authorization(value: str) -> tuple[str, str | None, dict[str, str]] | None:
    """``Authorization`` as (scheme, Basic's decoded ``user:password`` or None, Digest
    params); None when it does not parse."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            return "basic", base64.b64decode(rest.strip(), validate=True).decode("utf-8"), {}
        except (ValueError, UnicodeDecodeError):
            return None
    if scheme.lower() != "digest":
        return None
    try:
        params = {name: val for name, val in _tokens(rest) if val is not None}
    except AuthError:
        return None
    return "digest", None, params


def digest_matches(params: dict[str, str], ha1: str, method: str) -> bool:
    """Whether a Digest ``response`` (MD5, with or without qop=auth) was made from the
    account's ``ha1`` = MD5(username:realm:password) for this request."""
    if params.get("algorithm", "MD5").upper() != "MD5" or "response" not in params:
        return False
    ha2 = _hash("MD5", f"{method}:{params.get('uri', '')}")
    nonce = params.get("nonce", "")
    if params.get("qop", "").lower() == "auth":
        expected = _hash("MD5", f"{ha1}:{nonce}:{params.get('nc', '')}:"
                                f"{params.get('cnonce', '')}:auth:{ha2}")
    else:
        expected = _hash("MD5", f"{ha1}:{nonce}:{ha2}")
    return hmac.compare_digest(expected, params["response"].lower())


def digest_ha1(username: str, realm: str, password: str) -> str:
    return _hash("MD5", f"{username}:{realm}:{password}")
