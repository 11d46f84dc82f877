"""Call records (`GET /api/v1/cdr`) and the audit log (`GET /api/v1/audit`): read only.

Who may read them is `authorize`'s (`VIEW_CALL_RECORDS`, `VIEW_AUDIT_LOG`): the
administrator and seed 000's security administrator. Both lists are newest first;
`?limit=` (1..1000, default 100) is read after `authorize`, so a 403 beats a 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mcu.control.access import Control, ControlError, Principal, control_of, principal_of, require
from mcu.control.schemas import ERRORS
from mcu.permissions import Actor, Operation
from mcu.store import AuditRecord, CallRecordEntry

Op = Operation
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ControlError(422, f"must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(raw)


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def call_json(record: CallRecordEntry) -> dict[str, Any]:
    return {
        "id": record.id,
        "conference_numeric_id": record.conference_numeric_id,
        "remote": record.remote,
        "display_name": record.display_name,
        "started_at": _time(record.started_at),
        "ended_at": _time(record.ended_at),
        "reason": record.reason,
    }


def audit_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": _time(record.at),
        "actor": record.actor,
        "operation": record.operation,
        "target": record.target,
        "outcome": record.outcome,
    }


async def call_records(
    ctl: Control, actor: Actor, limit: str | None, conference: str | None = None
) -> list[CallRecordEntry]:
    await require(ctl, actor, Op.VIEW_CALL_RECORDS, None)
    return await ctl.store.list_calls(conference or None, limit=parse_limit(limit))


async def audit_entries(
    ctl: Control, actor: Actor, limit: str | None, who: str | None = None
) -> list[AuditRecord]:
    await require(ctl, actor, Op.VIEW_AUDIT_LOG, None)
    return await ctl.store.list_audit(who or None, limit=parse_limit(limit))


Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["records"])

    @router.get("/cdr")
    async def list_cdr(request: Request, principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Call records, newest first; `?limit=`, `?conference=` (a numeric ID)."""
        q = request.query_params
        records = await call_records(ctl, principal.actor, q.get("limit"), q.get("conference"))
        return [call_json(r) for r in records]

    @router.get("/audit")
    async def list_audit(request: Request, principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Audit log entries, newest first; `?limit=`, `?actor=` (a username)."""
        q = request.query_params
        entries = await audit_entries(ctl, principal.actor, q.get("limit"), q.get("actor"))
        return [audit_json(e) for e in entries]

    return router


__all__ = ["audit_entries", "audit_json", "build_router", "call_json", "call_records"]
