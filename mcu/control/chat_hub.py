"""Which chats changed, for live pages (issue 17): a version number per chat, bumped on
every change. The conference page's event stream (`events`) and the chats page's compare
it at each poll and, when it moved, tell the page to fetch the new messages — so what a
page shows always comes through the API's permission checks, never from the hub."""

from __future__ import annotations


class ChatHub:
    """In-process versions (one MCU process serves the pages)."""

    def __init__(self) -> None:
        self._versions: dict[int, int] = {}

    def changed(self, chat_id: int) -> None:
        self._versions[chat_id] = self._versions.get(chat_id, 0) + 1

    def version(self, chat_id: int) -> int:
        return self._versions.get(chat_id, 0)


__all__ = ["ChatHub"]
