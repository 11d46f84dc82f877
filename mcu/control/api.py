"""The JSON API under /api/v1: one router per resource, over plain operations.

- `api_auth`: tokens; `api_conferences` over `conferences` (list, create, read, change,
  delete); `api_participants` over `participants` (who is in a running conference, dial
  out, messages, end); `api_cameras` over `cameras` (IP cameras: add, list, remove);
  `api_recordings` over `recordings` (start, stop, list, download, delete);
  `api_roles` (seed 000's moderators and speakers); `api_users`,
  `api_records` (accounts, call records and the audit log).
- `schemas`: the bodies and answers; `configuration`: a conference's field groups, PIN
  and schedule rules; `rooms`: configured and live-only (ad hoc) conferences.

Each route runs in the same order: authenticate (401), find the conference (404),
`authorize` (403 naming the rule), read the body (422 naming the field), act
(404/409/422/503 from the live MCU or the store). Bodies are read after `authorize`, so
a forbidden request never learns what a valid body looks like.

A configuration write asks `authorize` once per field group it touches (schedule,
repetition, streaming, preconfigured participants, PINs, layout, owner, the rest) and
saves everything in one store transaction. PINs are shown in clear only by
``GET /conferences/{id}`` and only to who has full control (``view_pin``); writes and
lists say only whether a PIN is set.
"""

from __future__ import annotations

from fastapi import APIRouter

from mcu.control import (
    api_auth,
    api_cameras,
    api_conferences,
    api_participants,
    api_recordings,
    api_roles,
)
from mcu.control.conferences import conference_detail_json, conference_json
from mcu.control.schemas import ERRORS


def build_router() -> APIRouter:
    """The auth, conference, participant and role routes (`app` adds users and records)."""
    router = APIRouter()
    for module in (api_auth, api_conferences, api_participants, api_cameras, api_roles,
                   api_recordings):
        router.include_router(module.build_router())
    return router


__all__ = ["ERRORS", "build_router", "conference_detail_json", "conference_json"]
