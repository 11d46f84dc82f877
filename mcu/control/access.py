"""Who is asking, and what `authorize` says about it.

Authentication (bearer token or session cookie, CSRF for cookie writes), the
conference targets `authorize` decides on, the one error type every route raises,
and the audit trail. No permission rule lives here: `require` only asks
`mcu.permissions.authorize` and turns a refusal into a 403 naming its rule.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway.log import log_event
from mcu.control.chat_hub import ChatHub
from mcu.control.throttle import LoginThrottle, RateLimit
from mcu.live import LiveControl
from mcu.permissions import Actor, ConferenceTarget, Decision, Operation, Target, authorize
from mcu.settings import ChatSettings
from mcu.store import ConferenceRecord, EncryptionPolicy, RoleName, RoleRecord, Store
from mcu.store.files import FileStore

logger = logging.getLogger("mcu.control")

SESSION_COOKIE = "mcu_session"
LOGIN_CSRF_COOKIE = "mcu_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Conference ids are database integers; anything else names no conference (404, not 422).
_MAX_ID = 2**63 - 1
M = TypeVar("M", bound=BaseModel)


class ControlError(Exception):
    """An answer other than success: status, a human reason, and what to name.

    `rule` is the refusing `Decision.rule` on a 403 from `authorize`; `field` is the
    offending field on a 409/422; `retry_after` the seconds a 429 asks to wait.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        rule: str | None = None,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.rule = rule
        self.field = field
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.field is not None:
            out["field"] = self.field
        return out


def unauthenticated() -> ControlError:
    return ControlError(401, "not authenticated")


def not_found(what: str) -> ControlError:
    return ControlError(404, f"{what} not found")


@dataclass
class Control:
    """What every route needs; lives in `app.state.control`."""

    store: Store
    live: LiveControl
    session_ttl: timedelta
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Failed logins per source address, shared by the token route and the login form.
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # Chats (issue 17): their limits, files on disk, messages per user, live versions.
    chat: ChatSettings = field(default_factory=ChatSettings)
    chat_hub: ChatHub = field(default_factory=ChatHub)
    chat_files: FileStore = field(init=False)
    chat_rate: RateLimit = field(init=False)
    # Called with (standing, message) for each new message of a conference chat: the
    # MCU sets it to send the text to the conference's SIP endpoints.
    chat_out: Callable[..., Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.chat_files = FileStore(
            self.chat.files_dir, self.chat.max_file_bytes, self.chat.content_types
        )
        self.chat_rate = RateLimit(limit=self.chat.rate_messages, window=self.chat.rate_window_s)

    def csrf_for(self, token: str) -> str:
        """The CSRF token of a session: derived, so nothing more is stored."""
        return hmac.new(self.csrf_secret, token.encode(), hashlib.sha256).hexdigest()


def control_of(request: Request) -> Control:
    return request.app.state.control  # type: ignore[no-any-return]


THROTTLED = "too many failed logins; try again later"


def source_of(request: Request) -> str:
    """The peer address logins are throttled by (proxy headers are not trusted)."""
    return request.client.host if request.client else "unknown"


async def admit_login(ctl: Control, request: Request, username: str | None, via: str) -> int:
    """Ask the throttle whether a login from this source may be tried: 0 if so, else the
    seconds to put in Retry-After. The start of a lockout is audited, once."""
    source = source_of(request)
    admission = ctl.throttle.begin(source)
    if admission.allowed:
        return 0
    if admission.lockout_started:
        await audit(ctl, username, "login", via, f"throttled: {admission.retry_after}s lockout")
    else:
        log_event(logger, "control.login_throttled", source=source, via=via)
    return admission.retry_after


@dataclass(frozen=True)
class Principal:
    """An authenticated request: the actor and the token that proved it."""

    actor: Actor
    token: str
    via_cookie: bool
    csrf: str


async def principal_of(request: Request) -> Principal:
    """Bearer token, else session cookie (whose writes must carry the CSRF header)."""
    return await authenticate(request, csrf_header=True)


async def authenticate(request: Request, *, csrf_header: bool) -> Principal:
    """The request's principal, or 401; `csrf_header=False` leaves CSRF to the caller
    (a page form carries it as a field)."""
    ctl = control_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        token, via_cookie = value.strip(), False
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated()
    else:
        token, via_cookie = request.cookies.get(SESSION_COOKIE, ""), True
        if not token:
            raise unauthenticated()
    record = await ctl.store.lookup_token(token)
    user = None if record is None else await ctl.store.get_user(record.username)
    if user is None:
        raise unauthenticated()
    principal = Principal(
        Actor(user.username, user.privilege, user.is_operator),
        token,
        via_cookie,
        ctl.csrf_for(token),
    )
    if csrf_header and via_cookie and request.method not in SAFE_METHODS:
        check_csrf(principal.csrf, request.headers.get(CSRF_HEADER))
    return principal


def check_csrf(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected, given):
        raise ControlError(403, "CSRF token missing or wrong")


def parse_conference_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= _MAX_ID:
        raise not_found("conference")
    return int(raw)


def conference_target(record: ConferenceRecord, roles: Iterable[RoleRecord]) -> ConferenceTarget:
    """What `authorize` needs to know of a conference: owner, stored roles, encryption."""
    mine = [r for r in roles if r.conference_id == record.id]
    return ConferenceTarget(
        owner=record.owner,
        moderators=frozenset(r.username for r in mine if r.role is RoleName.MODERATOR),
        speakers=frozenset(r.username for r in mine if r.role is RoleName.SPEAKER),
        encryption_required=record.encryption is EncryptionPolicy.REQUIRED,
    )


async def load_conference(ctl: Control, raw_id: str) -> tuple[ConferenceRecord, ConferenceTarget]:
    record = await ctl.store.get_conference(parse_conference_id(raw_id))
    if record is None:
        raise not_found("conference")
    return record, conference_target(record, await ctl.store.list_roles(conference_id=record.id))


def allowed(actor: Actor, operation: Operation, target: Target) -> bool:
    return authorize(actor, operation, target).allowed


async def require(
    ctl: Control,
    actor: Actor,
    operation: Operation,
    target: Target,
    *,
    audit_target: str | None = None,
    audited: bool = False,
) -> Decision:
    """Ask `authorize`; a refusal is a 403 naming its rule (and, for writes, audited)."""
    decision = authorize(actor, operation, target)
    if not decision.allowed:
        if audited:
            await audit(ctl, actor.username, operation, audit_target, f"denied: {decision.rule}")
        else:
            log_event(
                logger,
                "control.denied",
                actor=actor.username,
                operation=operation,
                target=audit_target,
                rule=decision.rule,
            )
        raise ControlError(403, "forbidden", rule=decision.rule)
    return decision


async def audit(
    ctl: Control, actor: str | None, operation: str, target: str | None, outcome: str
) -> None:
    """One audit row and one structured log line per change or refused change."""
    await ctl.store.audit(actor, str(operation), target, outcome)
    log_event(
        logger,
        "control.audit",
        actor=actor,
        operation=operation,
        target=target,
        outcome=outcome,
    )


def validation_error(exc: ValidationError) -> ControlError:
    """A 422 naming the first offending field ("body" when the body itself is wrong)."""
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    return ControlError(422, str(first.get("msg", "invalid")), field=loc or "body")


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the JSON body; called after `authorize`, so a 403 beats a 422."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_error(exc) from None
