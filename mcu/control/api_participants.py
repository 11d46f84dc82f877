"""Who is in a running conference, under /api/v1/conferences/{id}/participants, and the
conference-wide live actions (messages to all, end).

A thin router over `participants`: authenticate (401), find the conference (404: a
store id, or ``live-<numeric_id>`` for one running without configuration), then the
operation asks `authorize` (403 naming the rule) before it reads the body (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mcu.control import participants as ops
from mcu.control.access import Control, Principal, control_of, parse_body, principal_of
from mcu.control.rooms import load_room
from mcu.control.schemas import (
    ERRORS,
    DialOutOut,
    DialOutRequest,
    ErrorOut,
    ImportantRequest,
    LayoutRequest,
    MessageRequest,
    MuteRequest,
    PanesRequest,
    ParticipantOut,
    VideoFormatRequest,
    body_doc,
)

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
CONFERENCE = "/conferences/{conference_id}"
PARTICIPANT = CONFERENCE + "/participants/{participant_id}"
NO_CONTENT = 204


def reader(request: Request, model: type[Any]) -> ops.Reader:
    async def read() -> Any:
        return await parse_body(request, model)

    return read


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["participants"])

    @router.get(CONFERENCE + "/participants", response_model=list[ParticipantOut])
    async def list_participants(
        conference_id: str, principal: Auth, ctl: Ctl
    ) -> list[dict[str, object]]:
        """Everyone in the running conference, PIN-lobby callers included."""
        room = await load_room(ctl, conference_id)
        return [p.as_json() for p in await ops.list_participants(ctl, principal.actor, room)]

    @router.get(PARTICIPANT + "/statistics")
    async def participant_statistics(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> dict[str, object]:
        """The media streams sent to and received from a participant: codecs, packets,
        loss, jitter, key-frame requests (seed 003's statistics and diagnostics)."""
        room = await load_room(ctl, conference_id)
        return await ops.statistics(ctl, principal.actor, room, participant_id)

    @router.post(
        CONFERENCE + "/participants",
        status_code=201,
        response_model=DialOutOut,
        openapi_extra=body_doc(DialOutRequest),
        responses={503: {"model": ErrorOut}},
    )
    async def dial_out(
        conference_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, str]:
        """Call `address` into the conference (seed 003, full control: "connect new
        participants") through the gateway serving its URI scheme: any scheme a running
        gateway dials (422 naming `address`, with the schemes served, otherwise); 409
        when the conference cannot take them, 503 without ports."""
        room = await load_room(ctl, conference_id)
        read = reader(request, DialOutRequest)
        return {"id": await ops.dial_out(ctl, principal.actor, room, read)}

    @router.post(PARTICIPANT + "/admit", status_code=NO_CONTENT)
    async def admit_participant(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Let a caller waiting in the PIN lobby in."""
        await ops.admit(ctl, principal.actor, await load_room(ctl, conference_id), participant_id)
        return Response(status_code=NO_CONTENT)

    @router.delete(PARTICIPANT, status_code=NO_CONTENT)
    async def drop_participant(
        conference_id: str, participant_id: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Hang up a participant or lobby caller."""
        await ops.drop(ctl, principal.actor, await load_room(ctl, conference_id), participant_id)
        return Response(status_code=NO_CONTENT)

    def body_route(
        path: str, operation: Any, model: type[Any], methods: list[str], doc: str,
        tags: list[str] | None = None,
    ) -> None:
        """A POST (or PUT) whose JSON body `model` the operation reads once authorized."""

        async def on_participant(
            conference_id: str, participant_id: str, request: Request, principal: Auth, ctl: Ctl
        ) -> Response:
            room = await load_room(ctl, conference_id)
            await operation(ctl, principal.actor, room, participant_id, reader(request, model))
            return Response(status_code=NO_CONTENT)

        async def on_conference(
            conference_id: str, request: Request, principal: Auth, ctl: Ctl
        ) -> Response:
            room = await load_room(ctl, conference_id)
            await operation(ctl, principal.actor, room, reader(request, model))
            return Response(status_code=NO_CONTENT)

        route = on_participant if "{participant_id}" in path else on_conference
        route.__doc__ = doc
        route.__name__ = operation.__name__
        for method in methods:
            router.add_api_route(
                path, route, methods=[method], status_code=NO_CONTENT,
                openapi_extra=body_doc(model), tags=tags or ["participants"],
            )

    body_route(PARTICIPANT + "/mute", ops.set_muted, MuteRequest, ["POST"],
               'Mute (`{"muted": true}`) or unmute a participant\'s audio into the conference.')
    for method in ("PUT", "POST"):
        body_route(PARTICIPANT + "/important", ops.set_important, ImportantRequest, [method],
                   'Make (`{"important": true}`) or unmake the conference\'s important '
                   "participant.")
        body_route(PARTICIPANT + "/layout", ops.set_layout, LayoutRequest, [method],
                   'The participant\'s own layout (`{"layout": name}`), or the conference\'s '
                   "(null).")
    body_route(PARTICIPANT + "/panes", ops.set_panes, PanesRequest, ["POST"],
               'The participant\'s custom layout: who it sees in which cell (`{"panes": [id, '
               "null, ...]}`; an empty list restores the usual order).")
    body_route(PARTICIPANT + "/video_format", ops.set_video_format, VideoFormatRequest,
               ["POST"], "Send the participant widescreen (16:9) or standard (4:3) video.")
    body_route(PARTICIPANT + "/message", ops.message, MessageRequest, ["POST"],
               'Show `text` over one participant\'s picture ("" clears it).')
    body_route(CONFERENCE + "/messages", ops.message_all, MessageRequest, ["POST"],
               "Seed 003, full control: a text message to every connected participant's "
               'display ("" clears it); 409 when the conference is not running.',
               tags=["conferences"])

    @router.post(CONFERENCE + "/end", status_code=NO_CONTENT, tags=["conferences"])
    async def end_conference(conference_id: str, principal: Auth, ctl: Ctl) -> Response:
        """Seed 003, full control: end the conference (everyone is hung up); 409 when it
        is not running."""
        await ops.end(ctl, principal.actor, await load_room(ctl, conference_id))
        return Response(status_code=NO_CONTENT)

    return router
