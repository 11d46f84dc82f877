"""Session timers (RFC 4028), the pure part: what a request or response asks, what we
answer, and when to refresh or give up. The core arms and fires the timers.

A dialog's session interval is refreshed by one side (the ``refresher``) with a
re-INVITE or UPDATE every half interval; the other side ends the session with BYE
when no refresh came ``interval - min(32, interval / 3)`` after the last (section 10).
We take the caller's Session-Expires (and refresher) when it gives one at or above our
Min-SE (else 422 with our Min-SE), offer our default when it only says
``Supported: timer``, and refresh ourselves when it does not support timers at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .message import SipRequest, SipResponse, decimal_value


@dataclass(frozen=True, slots=True)
class SessionTimer:
    interval: int  # seconds
    refresher: str  # "uac" | "uas": who refreshes, named by the dialog's roles
    peer_supports: bool  # the peer said Supported/Require: timer (then Require it back)

    def we_refresh(self, our_role: str) -> bool:
        return self.refresher == our_role

    def header(self) -> str:
        return f"{self.interval};refresher={self.refresher}"

    def refresh_at(self, since: float) -> float:
        """When the refresher sends its refresh (section 7.2: half the interval)."""
        return since + self.interval / 2

    def expires_at(self, since: float) -> float:
        """When the other side gives up on a refresh that never came (section 10)."""
        return since + self.interval - min(32, self.interval / 3)


@dataclass(frozen=True, slots=True)
class TooSmall:
    """Answer 422 Session Interval Too Small with this Min-SE."""

    min_se: int


def supports_timer(msg: SipRequest | SipResponse) -> bool:
    tags = [v.lower() for v in (*msg.values("supported"), *msg.values("require"))]
    return "timer" in tags


def parse_session_expires(value: str | None) -> tuple[int, str | None] | None:
    """``1800;refresher=uac`` -> (1800, "uac"); None when absent or malformed."""
    if value is None:
        return None
    delta, *params = (part.strip() for part in value.split(";"))
    seconds = decimal_value(delta)
    if seconds is None or seconds <= 0:
        return None
    refresher = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return seconds, refresher


def negotiate_request(req: SipRequest, default_interval: int, min_se: int
                      ) -> SessionTimer | TooSmall:
    """The UAS's session timer for an INVITE or UPDATE (sections 9 and 8.1)."""
    peer = supports_timer(req)
    asked = parse_session_expires(req.get("session-expires"))
    if asked is None:
        # No interval asked: ours; the caller refreshes if it can, else we do.
        return SessionTimer(default_interval, "uac" if peer else "uas", peer)
    interval, refresher = asked
    if interval < min_se:
        return TooSmall(min_se)
    if refresher is None:
        refresher = "uac" if peer else "uas"
    return SessionTimer(interval, refresher, peer)


def from_response(resp: SipResponse) -> SessionTimer | None:
    """What the UAS answered our INVITE or refresh with (section 7.2); None: no timer."""
    answered = parse_session_expires(resp.get("session-expires"))
    if answered is None:
        return None
    interval, refresher = answered
    return SessionTimer(interval, refresher or "uac", supports_timer(resp))


def min_se_of(resp: SipResponse) -> int | None:
    """The Min-SE of a 422 (section 7.4), None when absent or malformed."""
    value = decimal_value((resp.get("min-se") or "").split(";")[0].strip())
    return value if value and value > 0 else None


def request_headers(interval: int, min_se: int, refresher: str | None = None
                    ) -> list[tuple[str, str]]:
    """Session-Expires and Min-SE for an INVITE or refresh we send."""
    value = f"{interval};refresher={refresher}" if refresher else str(interval)
    return [("Session-Expires", value), ("Min-SE", str(min_se))]
