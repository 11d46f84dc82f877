"""Seed 004's two chat tables, copied here from the seed text (not imported from
`mcu.permissions`), with a parser of their own: the expectations of the chat matrix tests.

The seed (``/work/shared/seeds/004_*.txt``), "Role permissions in a regular chat" and
"Role permissions in the channel", ✅ may, ❌ may not. The row labels are the seed's; each
maps to the API identifier of the action (`ACTION_BY_LABEL`).
"""

from __future__ import annotations

REGULAR = """\
owner | admin | user | conf_owner | conf_moderator | favorites_owner | |
---|---|---|---|---|---|---|
Reading messages | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending messages | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Adding participants to chat | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ |
Removing participants from chat | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ |
Editing own messages | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Deleting own messages for oneself | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Deleting own messages for all | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Deleting others' messages for oneself | ✅ | ✅ | ✅ | ✅ | ✅ | ❌ |
Deleting others' messages for all | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ |
Clearing chat history for oneself | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Clearing chat history for all | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ |
Replying to messages | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Forwarding messages to/from chat | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending files | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending geolocation | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending contacts | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending emoji | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending stickers | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ |
Pinning messages | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ |
Changing chat name | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ |
Changing chat icon | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ |
Changing chat participant roles | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ |
Granting rights to chat participants | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ |
Revoking chat participant rights | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ |
Blocking participants | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ |
Changing chat owner | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Setting the first visible message | ✅ | ✅ | ❌ | ❌ | ❌ | ✅ |
Sending polls | ✅ | ✅ | ✅ | ❌ | ❌ | ❌ |
"""

CHANNEL = """\
owner | admin | user | conf_owner | conf_moderator | favorites_owner | writer | |
---|---|---|---|---|---|---|---|
Reading messages | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending messages | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Adding participants to chat | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Removing participants from chat | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Editing own messages | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Deleting own messages for oneself | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ❌ |
Deleting own messages for everyone | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Deleting others' messages for oneself | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ | ❌ |
Deleting others' messages for everyone | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ | ❌ |
Clearing chat history for oneself | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ❌ |
Clearing chat history for everyone | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ | ❌ |
Replying to messages | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Forwarding messages in/out of chat | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ | ✅ |
Sending files | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Sending location | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Sending contacts | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Sending emojis | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Sending stickers | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Pinning messages | ✅ | ✅ | ❌ | ✅ | ✅ | ✅ | ✅ |
Changing chat title | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Changing chat icon | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Changing chat participants' roles | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Granting rights to chat participants | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ | ❌ |
Revoking chat participant rights | ✅ | ✅ | ❌ | ✅ | ✅ | ❌ | ❌ |
Blocking participants | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ |
Changing chat owner | ✅ | ❌ | ❌ | ❌ | ❌ | ❌ | ❌ |
Setting the first visible message | ✅ | ✅ | ❌ | ❌ | ❌ | ✅ | ❌ |
Sending polls | ✅ | ✅ | ❌ | ❌ | ❌ | ❌ | ✅ |
"""

# The seed's row labels (both tables' wordings) -> the action's API identifier.
ACTION_BY_LABEL = {
    "Reading messages": "read_messages",
    "Sending messages": "send_messages",
    "Adding participants to chat": "add_participants",
    "Removing participants from chat": "remove_participants",
    "Editing own messages": "edit_own_messages",
    "Deleting own messages for oneself": "delete_own_messages_for_me",
    "Deleting own messages for all": "delete_own_messages_for_everyone",
    "Deleting own messages for everyone": "delete_own_messages_for_everyone",
    "Deleting others' messages for oneself": "delete_others_messages_for_me",
    "Deleting others' messages for all": "delete_others_messages_for_everyone",
    "Deleting others' messages for everyone": "delete_others_messages_for_everyone",
    "Clearing chat history for oneself": "clear_history_for_me",
    "Clearing chat history for all": "clear_history_for_everyone",
    "Clearing chat history for everyone": "clear_history_for_everyone",
    "Replying to messages": "reply_to_messages",
    "Forwarding messages to/from chat": "forward_messages",
    "Forwarding messages in/out of chat": "forward_messages",
    "Sending files": "send_files",
    "Sending geolocation": "send_location",
    "Sending location": "send_location",
    "Sending contacts": "send_contacts",
    "Sending emoji": "send_emoji",
    "Sending emojis": "send_emoji",
    "Sending stickers": "send_stickers",
    "Pinning messages": "pin_messages",
    "Changing chat name": "change_title",
    "Changing chat title": "change_title",
    "Changing chat icon": "change_icon",
    "Changing chat participant roles": "change_participant_roles",
    "Changing chat participants' roles": "change_participant_roles",
    "Granting rights to chat participants": "grant_rights",
    "Revoking chat participant rights": "revoke_rights",
    "Blocking participants": "block_participants",
    "Changing chat owner": "change_chat_owner",
    "Setting the first visible message": "set_first_visible_message",
    "Sending polls": "send_polls",
}


def parse(table: str) -> dict[tuple[str, str], bool]:
    """(role, action) -> allowed, every cell of one table."""
    lines = table.strip().splitlines()
    roles = [cell.strip() for cell in lines[0].split("|") if cell.strip()]
    cells: dict[tuple[str, str], bool] = {}
    for line in lines[2:]:
        parts = [part.strip() for part in line.split("|")]
        label, marks = parts[0], [m for m in parts[1:] if m]
        assert len(marks) == len(roles), line
        for role, mark in zip(roles, marks, strict=True):
            cells[(role, ACTION_BY_LABEL[label])] = mark == "✅"
    return cells


EXPECTED = {"regular": parse(REGULAR), "channel": parse(CHANNEL)}
ACTIONS = list(dict.fromkeys(ACTION_BY_LABEL.values()))
