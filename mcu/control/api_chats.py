"""Chats under /api/v1/chats (issue 17), and a conference's chat id.

Thin routes over the operations in `chats` and `chat_messages` (shared with the pages):
each reads the body only as bytes, and the operation authorizes before it looks at it.

- ``POST /chats {"title", "type": "group"|"channel"}`` (the creator owns it), ``GET /chats``
  (one's chats, Favorites first), ``GET/PATCH/DELETE /chats/{id}`` (PATCH ``title``,
  ``icon``, ``owner``, ``first_visible_message``)
- ``GET/POST /chats/{id}/participants``, ``PATCH/DELETE .../participants/{username}``
  (PATCH ``role``, ``can_send``, ``blocked``; DELETE oneself: leave)
- ``GET/POST /chats/{id}/messages``, ``DELETE /chats/{id}/messages?for=me|everyone``
  (clear history), ``PATCH/DELETE .../messages/{message_id}`` (``?for=me|everyone``),
  ``POST .../messages/{message_id}/pin``, ``POST .../messages/{message_id}/vote``
- ``GET /chats/{id}/files/{file_id}``; ``GET /conferences/{id}/chat``
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response

from mcu.control import chat_messages as messages
from mcu.control import chats
from mcu.control.access import Control, Principal, control_of, parse_conference_id, principal_of
from mcu.control.api_users import json_object
from mcu.control.schemas import ERRORS

Auth = Annotated[Principal, Depends(principal_of)]
Ctl = Annotated[Control, Depends(control_of)]
For = Annotated[str | None, Query(alias="for", description="me | everyone")]


def _body_doc(model: type[Any]) -> dict[str, Any]:
    """The body's JSON schema for the OpenAPI document, nested models inlined (the
    routes read raw bodies, so FastAPI does not register them as components)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": _inline(schema, schema.pop("$defs", {}))}}}}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _chat_routes(router: APIRouter) -> None:
    @router.get("/chats")
    async def list_chats(principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """One's chats: Favorites first, then every group, channel and conference chat."""
        return await chats.list_chats(ctl, principal.actor)

    @router.post("/chats", status_code=201, openapi_extra=_body_doc(chats.ChatCreate))
    async def create_chat(request: Request, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """A group chat or a channel; the creator becomes its owner."""
        data, bad = json_object(await request.body())
        if bad is not None:
            raise bad
        return await chats.create_chat(ctl, principal.actor, data)

    @router.get("/chats/{chat_id}")
    async def get_chat(chat_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        return await chats.get_chat(ctl, principal.actor, chat_id)

    @router.patch("/chats/{chat_id}", openapi_extra=_body_doc(chats.ChatUpdate))
    async def update_chat(
        chat_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Change `title`, `icon`, `owner` or `first_visible_message` (each its right)."""
        data, bad = json_object(await request.body())
        return await chats.update_chat(ctl, principal.actor, chat_id, data, bad)

    @router.delete("/chats/{chat_id}", status_code=204)
    async def delete_chat(chat_id: str, principal: Auth, ctl: Ctl) -> Response:
        await chats.delete_chat(ctl, principal.actor, chat_id)
        return Response(status_code=204)

    @router.get("/conferences/{conference_id}/chat")
    async def conference_chat(conference_id: str, principal: Auth, ctl: Ctl) -> dict[str, Any]:
        """The conference's chat: its id (`chat_id`) and one's role there."""
        return await chats.conference_chat(
            ctl, principal.actor, parse_conference_id(conference_id))


def _participant_routes(router: APIRouter) -> None:
    @router.get("/chats/{chat_id}/participants")
    async def list_participants(chat_id: str, principal: Auth, ctl: Ctl) -> list[dict[str, Any]]:
        """Seed 004's getChatParticipants: each participant's username and role."""
        return await chats.list_participants(ctl, principal.actor, chat_id)

    @router.post("/chats/{chat_id}/participants", status_code=201,
                 openapi_extra=_body_doc(chats.ParticipantAdd))
    async def add_participant(
        chat_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        data, bad = json_object(await request.body())
        return await chats.add_participant(ctl, principal.actor, chat_id, data, bad)

    @router.patch("/chats/{chat_id}/participants/{username}",
                  openapi_extra=_body_doc(chats.ParticipantUpdate))
    async def update_participant(
        chat_id: str, username: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """`role` (change roles), `can_send` (grant / revoke), `blocked` (block)."""
        data, bad = json_object(await request.body())
        return await chats.update_participant(ctl, principal.actor, chat_id, username, data,
                                              bad)

    @router.delete("/chats/{chat_id}/participants/{username}", status_code=204)
    async def remove_participant(
        chat_id: str, username: str, principal: Auth, ctl: Ctl
    ) -> Response:
        """Remove a participant; one's own username: leave the chat."""
        await chats.remove_participant(ctl, principal.actor, chat_id, username)
        return Response(status_code=204)


def _message_routes(router: APIRouter) -> None:
    @router.get("/chats/{chat_id}/messages")
    async def list_messages(
        chat_id: str, principal: Auth, ctl: Ctl, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """What one sees, oldest first; `after`: only newer than this message id."""
        return await messages.list_messages(ctl, principal.actor, chat_id, after, limit)

    @router.post("/chats/{chat_id}/messages", status_code=201,
                 openapi_extra=_body_doc(messages.MessageIn))
    async def send_message(
        chat_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Send text, emoji, a sticker, location, contact, poll or file (base64); with
        `reply_to` a reply, with `forward_of` a forward of another message."""
        data, bad = json_object(await request.body())
        return await messages.send_message(ctl, principal.actor, chat_id, data, bad)

    @router.delete("/chats/{chat_id}/messages", status_code=204)
    async def clear_history(chat_id: str, principal: Auth, ctl: Ctl, audience: For = None
                            ) -> Response:
        """Clear the history for oneself (`for=me`, the default) or everyone."""
        await messages.clear_history(ctl, principal.actor, chat_id, audience)
        return Response(status_code=204)

    @router.patch("/chats/{chat_id}/messages/{message_id}",
                  openapi_extra=_body_doc(messages.MessageEdit))
    async def edit_message(
        chat_id: str, message_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        data, bad = json_object(await request.body())
        return await messages.edit_message(ctl, principal.actor, chat_id, message_id, data,
                                           bad)

    @router.delete("/chats/{chat_id}/messages/{message_id}", status_code=204)
    async def delete_message(
        chat_id: str, message_id: str, principal: Auth, ctl: Ctl, audience: For = None
    ) -> Response:
        """Delete for oneself (`for=me`, the default) or for everyone."""
        await messages.delete_message(ctl, principal.actor, chat_id, message_id, audience)
        return Response(status_code=204)

    @router.post("/chats/{chat_id}/messages/{message_id}/pin",
                 openapi_extra=_body_doc(messages.PinBody))
    async def pin_message(
        chat_id: str, message_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        """Pin (or, with `{"pinned": false}`, unpin); the body may be empty."""
        raw = await request.body()
        data, bad = json_object(raw) if raw.strip() else ({}, None)
        return await messages.pin_message(ctl, principal.actor, chat_id, message_id, data,
                                          bad)

    @router.post("/chats/{chat_id}/messages/{message_id}/vote",
                 openapi_extra=_body_doc(messages.VoteBody))
    async def vote(
        chat_id: str, message_id: str, request: Request, principal: Auth, ctl: Ctl
    ) -> dict[str, Any]:
        data, bad = json_object(await request.body())
        return await messages.vote(ctl, principal.actor, chat_id, message_id, data, bad)

    @router.get("/chats/{chat_id}/files/{file_id}")
    async def read_file(chat_id: str, file_id: str, principal: Auth, ctl: Ctl) -> Response:
        """A file sent to the chat, as an attachment (never rendered in place)."""
        record, data = await messages.read_file(ctl, principal.actor, chat_id, file_id)
        return Response(data, media_type=record.content_type, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(record.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        })


def _quoted(name: str) -> str:
    return quote(name, safe="")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["chats"])
    _chat_routes(router)
    _participant_routes(router)
    _message_routes(router)
    return router


__all__ = ["build_router"]
