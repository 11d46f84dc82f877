"""The seeds' permission rules as data. `authorize` only reads these tables."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from mcu.permissions.model import ConferenceRole, ControlLevel, Listing, Operation, Privilege

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

# Server-wide reading, for the two administrator kinds only.
RECORD_OPERATIONS: Final = frozenset({Op.VIEW_CALL_RECORDS, Op.VIEW_AUDIT_LOG})
RECORD_READERS: Final = frozenset({P.ADMINISTRATOR, P.SECURITY_ADMINISTRATOR})

USER_OPERATIONS: Final = frozenset(
    {Op.CREATE_USER, Op.UPDATE_USER, Op.DELETE_USER, Op.CHANGE_PASSWORD, Op.VIEW_USER}
)
