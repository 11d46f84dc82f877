"""The seeds' permission rules as data. `authorize` only reads these tables."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from mcu.permissions.model import (
    ChatAction,
    ChatKind,
    ChatRole,
    ConferenceRole,
    ControlLevel,
    Listing,
    Operation,
    Privilege,
)

P = Privilege
Op = Operation
FULL, LIMITED, NONE = ControlLevel.FULL, ControlLevel.LIMITED, ControlLevel.NONE

# Seed 003, "User privileges": privilege -> (control as owner, control as non-owner).
# Below conference_creation the seed says they "are not able to own conferences", so both
# columns are none; security_administrator (seed 000) gets no conference control at all.
CONTROL_BY_PRIVILEGE: Final = MappingProxyType(
    {
        P.ADMINISTRATOR: (FULL, FULL),
        P.CONFERENCE_CREATION_FULL_CONTROL: (FULL, FULL),
        P.CONFERENCE_CREATION_LIMITED_CONTROL: (FULL, LIMITED),
        P.CONFERENCE_CREATION: (FULL, NONE),
        P.CONFERENCE_DETAIL: (NONE, NONE),
        P.CONFERENCE_LIST_STREAMING: (NONE, NONE),
        P.CONFERENCE_LIST_ONLY: (NONE, NONE),
        P.SECURITY_ADMINISTRATOR: (NONE, NONE),
    }
)

# Seed 003: "able to create and own conferences".
CAN_OWN: Final = frozenset(
    {
        P.ADMINISTRATOR,
        P.CONFERENCE_CREATION_FULL_CONTROL,
        P.CONFERENCE_CREATION_LIMITED_CONTROL,
        P.CONFERENCE_CREATION,
    }
)

# Seed 003, "Changing the owner of a conference": only these may change an owner or
# choose another initial owner when scheduling.
CAN_CHANGE_OWNER: Final = frozenset({P.ADMINISTRATOR, P.CONFERENCE_CREATION_FULL_CONTROL})

# Seed 003, no control: names only, or no list at all "depending on the privilege level".
# The security administrator reads records, not conferences, so it gets no list.
LISTING_WITHOUT_CONTROL: Final = MappingProxyType(
    {
        P.ADMINISTRATOR: Listing.NAME_ONLY,
        P.CONFERENCE_CREATION_FULL_CONTROL: Listing.NAME_ONLY,
        P.CONFERENCE_CREATION_LIMITED_CONTROL: Listing.NAME_ONLY,
        P.CONFERENCE_CREATION: Listing.NAME_ONLY,
        P.CONFERENCE_DETAIL: Listing.NAME_ONLY,
        P.CONFERENCE_LIST_STREAMING: Listing.NAME_ONLY,
        P.CONFERENCE_LIST_ONLY: Listing.NAME_ONLY,
        P.SECURITY_ADMINISTRATOR: Listing.HIDDEN,
    }
)

# Seed 003, limited control: participant list (with thumbnails), mute, important
# participant, FECC/DTMF layout control, participant layout/family and custom layout,
# widescreen/standard, camera control, audio status and gain, messages, statistics.
LIMITED_OPERATIONS: Final = frozenset(
    {
        Op.VIEW_CONFERENCE,
        Op.VIEW_PARTICIPANTS,
        # Issue 12: a conference's IP cameras are participants, listed as they are.
        Op.VIEW_CAMERAS,
        Op.VIEW_THUMBNAILS,
        Op.MUTE_PARTICIPANT,
        Op.SET_IMPORTANT_PARTICIPANT,
        Op.PARTICIPANT_LAYOUT_CONTROL,
        Op.PARTICIPANT_LAYOUT,
        Op.PARTICIPANT_CUSTOM_LAYOUT,
        Op.PARTICIPANT_VIDEO_FORMAT,
        Op.CAMERA_CONTROL,
        Op.VIEW_AUDIO_STATUS,
        Op.SET_AUDIO_GAIN,
        Op.MESSAGE_PARTICIPANT,
        Op.VIEW_STATISTICS,
        # Issue 15: whoever controls a conference may watch it.
        Op.WATCH_STREAM,
    }
)

# Seed 003 names a level "conference list plus streaming" between "conference detail" and
# "conference list only": that level and every level above it may watch the streams of
# conferences it has no control over (issue 15: "`conference_list_streaming` or better");
# "list only" may not, nor the security administrator (seed 000: reports and recordings).
STREAM_WATCHERS: Final = frozenset(
    {
        P.ADMINISTRATOR,
        P.CONFERENCE_CREATION_FULL_CONTROL,
        P.CONFERENCE_CREATION_LIMITED_CONTROL,
        P.CONFERENCE_CREATION,
        P.CONFERENCE_DETAIL,
        P.CONFERENCE_LIST_STREAMING,
    }
)

# Seed 000: the owner's rights a moderator does not get.
OWNER_ONLY_OPERATIONS: Final = frozenset({Op.DOWNLOAD_RECORDINGS, Op.VIEW_ANALYTICS})

# Seed 003, "Configuration access": view and modify any aspect of the configuration.
# Deleting and PINs are configuration too (the PIN issue: never shown in clear without
# full control).
CONFIGURATION_OPERATIONS: Final = frozenset(
    {
        Op.VIEW_CONFIGURATION,
        Op.CONFIGURE_CONFERENCE,
        Op.CONFIGURE_SCHEDULE,
        Op.CONFIGURE_REPETITION,
        Op.CONFIGURE_STREAMING,
        Op.CONFIGURE_PRECONFIGURED_PARTICIPANTS,
        Op.CONFIGURE_PIN,
        Op.VIEW_PIN,
        Op.DELETE_CONFERENCE,
    }
)

# Seed 003, full control: participant control, configuration access, live parameters,
# "plus all of the operations covered by limited control"; seed 000 adds the owner's
# recordings, analytics and appointing moderators. Admitting a PIN-lobby caller decides
# who is in the conference, like disconnecting and dialling out, so it is full control.
FULL_OPERATIONS: Final = (
    LIMITED_OPERATIONS
    | CONFIGURATION_OPERATIONS
    | OWNER_ONLY_OPERATIONS
    | {
        Op.DISCONNECT_PARTICIPANT,
        Op.ADMIT_PARTICIPANT,
        Op.DIAL_OUT,
        # Seed 003, full control: "disconnect participants, connect new participants to
        # the conference" -- an IP camera (issue 12) is one.
        Op.ADD_CAMERA,
        Op.REMOVE_CAMERA,
        Op.END_CONFERENCE,
        Op.MESSAGE_ALL,
        Op.CONFERENCE_CUSTOM_LAYOUT,
        Op.APPOINT_MODERATOR,
        # Issue 15, where the seeds disagree: seed 002 gives a room's moderator "Recording
        # control: start/stop recordings", seed 000 denies moderators only "the right to
        # download video recordings". Starting and stopping is therefore control of the
        # meeting's flow: owner, moderators, operators and full control.
        Op.CONTROL_RECORDING,
    }
)

OPERATIONS_BY_CONTROL: Final = MappingProxyType(
    {FULL: FULL_OPERATIONS, LIMITED: LIMITED_OPERATIONS, NONE: frozenset()}
)

# Seed 000: moderators get "all the rights of the owner, except the right to download
# video recordings and view analytics"; operators get moderator rights everywhere;
# speakers are only who is seen and heard, which controls nothing.
OPERATIONS_BY_ROLE: Final = MappingProxyType(
    {
        ConferenceRole.OWNER: FULL_OPERATIONS,
        ConferenceRole.MODERATOR: FULL_OPERATIONS - OWNER_ONLY_OPERATIONS,
        ConferenceRole.OPERATOR: FULL_OPERATIONS - OWNER_ONLY_OPERATIONS,
        ConferenceRole.SPEAKER: frozenset(),
    }
)

# Seed 000: the security admin "has read-only access to the reports and recording" and
# "cannot change any settings"; the issue names call records, audit log and recordings.
SECURITY_ADMIN_OPERATIONS: Final = frozenset(
    {Op.VIEW_CALL_RECORDS, Op.VIEW_AUDIT_LOG, Op.DOWNLOAD_RECORDINGS}
)

# Issue 15: a recording's file -- seed 000's "right to download video recordings" is the
# owner's (moderators excepted), the administrator "has full access", the security
# administrator "read-only access to the reports and recording" (download, never delete).
# Seed 002's moderators "retrieve and delete recordings" is not taken: seed 000 is the
# stricter, and a recording outlives the meeting its moderators ran.
RECORDING_FILE_OPERATIONS: Final = frozenset({Op.DOWNLOAD_RECORDINGS, Op.DELETE_RECORDING})
RECORDING_KEEPERS: Final = frozenset({P.ADMINISTRATOR})

# Server-wide reading, for the two administrator kinds only.
RECORD_OPERATIONS: Final = frozenset({Op.VIEW_CALL_RECORDS, Op.VIEW_AUDIT_LOG})
RECORD_READERS: Final = frozenset({P.ADMINISTRATOR, P.SECURITY_ADMINISTRATOR})

USER_OPERATIONS: Final = frozenset(
    {Op.CREATE_USER, Op.UPDATE_USER, Op.DELETE_USER, Op.CHANGE_PASSWORD, Op.VIEW_USER}
)

# ----------------------------------------------------------------------------------------
# Seed 004: chat roles. The two tables below are the seed's text, verbatim (✅ may, ❌ may
# not), parsed at import into role -> actions; the odd cells stay as written (a channel
# writer may delete own messages for everyone but not for oneself; in a regular chat a
# conference moderator may change roles but not add participants, and may not send polls).
# ----------------------------------------------------------------------------------------

SEED_004_REGULAR_CHAT: Final = """\
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

SEED_004_CHANNEL: Final = """\
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

# Each table's row label (as that table spells it) -> the action; the tables differ in
# wording ("for all" / "for everyone", "name" / "title", "geolocation" / "location").
A = ChatAction
_ROWS: Final = (
    (A.READ, "Reading messages", "Reading messages"),
    (A.SEND, "Sending messages", "Sending messages"),
    (A.ADD_PARTICIPANTS, "Adding participants to chat", "Adding participants to chat"),
    (A.REMOVE_PARTICIPANTS, "Removing participants from chat",
     "Removing participants from chat"),
    (A.EDIT_OWN, "Editing own messages", "Editing own messages"),
    (A.DELETE_OWN_FOR_ME, "Deleting own messages for oneself",
     "Deleting own messages for oneself"),
    (A.DELETE_OWN_FOR_EVERYONE, "Deleting own messages for all",
     "Deleting own messages for everyone"),
    (A.DELETE_OTHERS_FOR_ME, "Deleting others' messages for oneself",
     "Deleting others' messages for oneself"),
    (A.DELETE_OTHERS_FOR_EVERYONE, "Deleting others' messages for all",
     "Deleting others' messages for everyone"),
    (A.CLEAR_HISTORY_FOR_ME, "Clearing chat history for oneself",
     "Clearing chat history for oneself"),
    (A.CLEAR_HISTORY_FOR_EVERYONE, "Clearing chat history for all",
     "Clearing chat history for everyone"),
    (A.REPLY, "Replying to messages", "Replying to messages"),
    (A.FORWARD, "Forwarding messages to/from chat", "Forwarding messages in/out of chat"),
    (A.SEND_FILES, "Sending files", "Sending files"),
    (A.SEND_LOCATION, "Sending geolocation", "Sending location"),
    (A.SEND_CONTACTS, "Sending contacts", "Sending contacts"),
    (A.SEND_EMOJI, "Sending emoji", "Sending emojis"),
    (A.SEND_STICKERS, "Sending stickers", "Sending stickers"),
    (A.PIN, "Pinning messages", "Pinning messages"),
    (A.CHANGE_TITLE, "Changing chat name", "Changing chat title"),
    (A.CHANGE_ICON, "Changing chat icon", "Changing chat icon"),
    (A.CHANGE_ROLES, "Changing chat participant roles", "Changing chat participants' roles"),
    (A.GRANT_RIGHTS, "Granting rights to chat participants",
     "Granting rights to chat participants"),
    (A.REVOKE_RIGHTS, "Revoking chat participant rights", "Revoking chat participant rights"),
    (A.BLOCK_PARTICIPANTS, "Blocking participants", "Blocking participants"),
    (A.CHANGE_OWNER, "Changing chat owner", "Changing chat owner"),
    (A.SET_FIRST_VISIBLE, "Setting the first visible message",
     "Setting the first visible message"),
    (A.SEND_POLLS, "Sending polls", "Sending polls"),
)


def _parse_seed_table(
    text: str, labels: dict[str, ChatAction]
) -> dict[ChatRole, frozenset[ChatAction]]:
    lines = [line for line in text.splitlines() if line.strip()]
    roles = [ChatRole(cell.strip()) for cell in lines[0].split("|") if cell.strip()]
    allowed: dict[ChatRole, set[ChatAction]] = {role: set() for role in roles}
    for line in lines[2:]:
        label, *cells = [cell.strip() for cell in line.split("|")]
        marks = [cell for cell in cells if cell]
        if len(marks) != len(roles) or set(marks) - {"✅", "❌"}:
            raise ValueError(f"seed 004 row {label!r}: {marks}")
        for role, mark in zip(roles, marks, strict=True):
            if mark == "✅":
                allowed[role].add(labels[label])
    if set(labels.values()) != {labels[line.split("|")[0].strip()] for line in lines[2:]}:
        raise ValueError("seed 004: a table row is missing")
    return {role: frozenset(actions) for role, actions in allowed.items()}


# Role -> the actions the seed marks ✅, for each table.
CHAT_REGULAR: Final = MappingProxyType(
    _parse_seed_table(SEED_004_REGULAR_CHAT, {regular: a for a, regular, _ in _ROWS})
)
CHAT_CHANNEL: Final = MappingProxyType(
    _parse_seed_table(SEED_004_CHANNEL, {channel: a for a, _, channel in _ROWS})
)
CHAT_TABLE_BY_KIND: Final = MappingProxyType(
    {
        ChatKind.GROUP: ("regular chat", CHAT_REGULAR),
        ChatKind.CONFERENCE: ("regular chat", CHAT_REGULAR),
        ChatKind.FAVORITES: ("regular chat", CHAT_REGULAR),
        ChatKind.CHANNEL: ("channel", CHAT_CHANNEL),
    }
)
# What a participant whose right to send was revoked may no longer do: everything that
# puts content into the chat (reading, deleting and clearing stay theirs).
CHAT_SENDING_ACTIONS: Final = frozenset(
    {
        A.SEND, A.EDIT_OWN, A.REPLY, A.FORWARD, A.SEND_FILES, A.SEND_LOCATION,
        A.SEND_CONTACTS, A.SEND_EMOJI, A.SEND_STICKERS, A.SEND_POLLS,
    }
)
