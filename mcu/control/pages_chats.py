"""Chat pages (issue 17): ``/chats`` (one's chats and a form to start a group chat or
channel), ``/chats/{id}`` (one chat), and ``/chats/{id}/events`` (Server-Sent Events:
``event: chat`` whenever the chat changed, then the page fetches the messages through
the JSON API). The conference page embeds the same chat panel for its conference chat.

Messages are never rendered by the server into HTML here: `static/chat.js` puts them in
the page as text (``textContent``), so HTML and script in a message stay text.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from mcu.control import chats
from mcu.control.access import Control, ControlError, control_of
from mcu.control.events import SSE_HEADERS, participant_events
from mcu.control.pages import render, session_principal, to_login
from mcu.permissions import Actor, ChatAction


async def _chat_ended(ctl: Control, actor: Actor, chat_id: int) -> str | None:
    """Asked at each heartbeat: the stream ends when the actor may no longer read."""
    token_user = await ctl.store.get_user(actor.username)
    if token_user is None:
        return "expired"
    try:
        await chats.enter(ctl, actor, chat_id, ChatAction.READ)
    except ControlError:
        return "expired"
    return None


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/chats")
    async def chats_page(request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        mine = await chats.list_chats(ctl, principal.actor)
        return render(request, "chats.html", principal=principal, chats=mine)

    @router.get("/chats/{chat_id}")
    async def chat_page(chat_id: str, request: Request) -> Response:
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return to_login(request)
        chat = await chats.get_chat(ctl, principal.actor, chat_id)
        return render(request, "chat.html", principal=principal,
                      chat=chats.chat_panel(ctl, principal, chat))

    @router.get("/chats/{chat_id}/events")
    async def chat_events(chat_id: str, request: Request) -> Response:
        """``event: chat`` with the chat's version each time it changes."""
        ctl = control_of(request)
        principal = await session_principal(request)
        if principal is None:
            return Response("not authenticated", status_code=401, media_type="text/plain")
        where = await chats.enter(ctl, principal.actor, chat_id, ChatAction.READ)
        number = where.chat.id

        def snapshot() -> str:
            return json.dumps({"version": ctl.chat_hub.version(number)})

        async def ended() -> str | None:
            return await _chat_ended(ctl, principal.actor, number)

        return StreamingResponse(
            participant_events(request, {"chat": snapshot}, ended),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    return router


__all__ = ["build_router"]
