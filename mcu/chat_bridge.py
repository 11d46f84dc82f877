"""The conference chat and SIP endpoints (issue 17): text a participant sends by SIP
MESSAGE goes into the conference's chat under its display name; a chat message goes to
the conference's SIP endpoints (and, with ``chat.sip_captions``, over the picture as the
caption overlay).

The bridge sits between `Conference` (``on_text``, ``send_text``: leg events, no chat)
and the web control's chat operations (`mcu.control.chat_messages`), so neither knows
the other. Ad hoc conferences have no record and so no chat: their text is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.leg import Leg
from gateway.log import log_event
from mcu.conference import Conference
from mcu.control.access import Control
from mcu.control.chat_messages import post_from_endpoint
from mcu.control.chats import Standing
from mcu.settings import ChatSettings
from mcu.store import ConferenceRecord, MessageRecord

log = logging.getLogger("mcu.chat")
CAPTION_CHARS = 120


def endpoint_text(message: MessageRecord) -> str:
    """A chat message as one line of text for a phone: "name: text"."""
    body = message.text if message.kind in ("text", "emoji") else f"[{message.kind}]"
    if message.kind not in ("text", "emoji") and message.text:
        body += f" {message.text}"
    return f"{message.author_name}: {body}"


class ChatBridge:
    """Set `control` once the web control exists; until then text is dropped."""

    def __init__(
        self,
        settings: ChatSettings,
        conference_of: Callable[[str], Conference | None],
        record_of: Callable[[str], ConferenceRecord | None],
        background: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.settings = settings
        self._conference_of = conference_of
        self._record_of = record_of
        self._background = background
        self.control: Control | None = None

    def attach(self, control: Control) -> None:
        self.control = control
        control.chat_out = self.to_endpoints

    def from_endpoint(self, conference: Conference, leg: Leg, text: str) -> None:
        """`Conference.on_text`: a connected participant's SIP MESSAGE."""
        control, record = self.control, self._record_of(conference.numeric_id)
        if control is None or record is None or not self.settings.sip_message:
            return
        if control.chat_rate.hit(f"leg:{leg.id}"):
            log_event(log, "chat.endpoint_flood", conference=conference.numeric_id, leg=leg.id)
            return
        self._background(self._post(control, conference, record.id, leg, text))

    async def _post(
        self, control: Control, conference: Conference, conference_id: int, leg: Leg, text: str
    ) -> None:
        message = await post_from_endpoint(control, conference_id, leg.display_name, text)
        if message is None:
            return
        log_event(log, "chat.from_endpoint", conference=conference.numeric_id, leg=leg.id,
                  message=message.id)
        # The other phones see it too; the sender's own phone already shows what it sent.
        self._show(conference, endpoint_text(message), exclude=leg.id)

    async def to_endpoints(self, where: Standing, message: MessageRecord) -> None:
        """`Control.chat_out`: a new message of a conference chat, from a page or API."""
        if where.conference is None or not self.settings.sip_message:
            return
        conference = self._conference_of(where.conference.numeric_id)
        if conference is not None:
            self._show(conference, endpoint_text(message))

    def _show(self, conference: Conference, text: str, exclude: str | None = None) -> None:
        conference.send_text(text, exclude=exclude)
        if self.settings.sip_captions:
            caption = text if len(text) <= CAPTION_CHARS else text[: CAPTION_CHARS - 1] + "…"
            conference.send_message(None, caption)


__all__ = ["ChatBridge", "endpoint_text"]
