"""The vocabulary of control decisions: who acts, what they do, on what.

Pure data: enums whose values are the identifiers the HTTP API uses, and frozen
dataclasses describing the actor and the target of an operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

ROOT_USERNAME = "admin"


class Privilege(StrEnum):
    """User privilege levels (seed 003, plus seed 000's security administrator)."""

    ADMINISTRATOR = "administrator"
    CONFERENCE_CREATION_FULL_CONTROL = "conference_creation_full_control"
    CONFERENCE_CREATION_LIMITED_CONTROL = "conference_creation_limited_control"
    CONFERENCE_CREATION = "conference_creation"
    CONFERENCE_DETAIL = "conference_detail"
    CONFERENCE_LIST_STREAMING = "conference_list_streaming"
    CONFERENCE_LIST_ONLY = "conference_list_only"
    SECURITY_ADMINISTRATOR = "security_administrator"


class ControlLevel(StrEnum):
    """Seed 003's conference control levels."""

    FULL = "full"
    LIMITED = "limited"
    NONE = "none"


class Listing(StrEnum):
    """How a conference appears in a user's conference list.

    Seed 003, no control: "either the list of scheduled conferences will not be
    shown to the user, or the list will be shown but conferences over which the
    user has no control will be presented as names rather than hyperlinks."
    """

    LINK = "link"
    NAME_ONLY = "name_only"
    HIDDEN = "hidden"


class ConferenceRole(StrEnum):
    """Conference roles from seed 000 (TrueConf)."""

    OWNER = "owner"
    MODERATOR = "moderator"
    OPERATOR = "operator"
    SPEAKER = "speaker"


class Operation(StrEnum):
    """Everything a page or API call may ask to do."""

    # Conference lifecycle and configuration (seed 003: full control).
    LIST_CONFERENCES = "list_conferences"
    VIEW_CONFERENCE = "view_conference"
    VIEW_CONFIGURATION = "view_configuration"
    CREATE_CONFERENCE = "create_conference"
    CONFIGURE_CONFERENCE = "configure_conference"
    CONFIGURE_SCHEDULE = "configure_schedule"
    CONFIGURE_REPETITION = "configure_repetition"
    CONFIGURE_STREAMING = "configure_streaming"
    CONFIGURE_PRECONFIGURED_PARTICIPANTS = "configure_preconfigured_participants"
    CONFIGURE_PIN = "configure_pin"
    VIEW_PIN = "view_pin"
    END_CONFERENCE = "end_conference"
    DELETE_CONFERENCE = "delete_conference"
    CHANGE_OWNER = "change_owner"
    DISCONNECT_PARTICIPANT = "disconnect_participant"
    # Letting a caller waiting in a PIN lobby in: control of who is in the conference.
    ADMIT_PARTICIPANT = "admit_participant"
    DIAL_OUT = "dial_out"
    MESSAGE_ALL = "message_all"
    # IP cameras (issue 12): adding or removing one is connecting or disconnecting a
    # participant (full control); listing them is the participant list (limited).
    ADD_CAMERA = "add_camera"
    REMOVE_CAMERA = "remove_camera"
    VIEW_CAMERAS = "view_cameras"
    CONFERENCE_CUSTOM_LAYOUT = "conference_custom_layout"
    # Seed 003: limited control.
    VIEW_PARTICIPANTS = "view_participants"
    VIEW_THUMBNAILS = "view_thumbnails"
    MUTE_PARTICIPANT = "mute_participant"
    SET_IMPORTANT_PARTICIPANT = "set_important_participant"
    PARTICIPANT_LAYOUT_CONTROL = "participant_layout_control"
    PARTICIPANT_LAYOUT = "participant_layout"
    PARTICIPANT_CUSTOM_LAYOUT = "participant_custom_layout"
    PARTICIPANT_VIDEO_FORMAT = "participant_video_format"
    CAMERA_CONTROL = "camera_control"
    VIEW_AUDIO_STATUS = "view_audio_status"
    SET_AUDIO_GAIN = "set_audio_gain"
    MESSAGE_PARTICIPANT = "message_participant"
    VIEW_STATISTICS = "view_statistics"
    # Seed 000: owner rights moderators do not get, and appointing moderators.
    DOWNLOAD_RECORDINGS = "download_recordings"
    VIEW_ANALYTICS = "view_analytics"
    APPOINT_MODERATOR = "appoint_moderator"
    # Server-wide.
    CREATE_USER = "create_user"
    UPDATE_USER = "update_user"
    DELETE_USER = "delete_user"
    CHANGE_PASSWORD = "change_password"
    # Reading accounts: the list is the administrator's; one's own account is one's own.
    LIST_USERS = "list_users"
    VIEW_USER = "view_user"
    VIEW_CALL_RECORDS = "view_call_records"
    VIEW_AUDIT_LOG = "view_audit_log"


@dataclass(frozen=True)
class Actor:
    """The authenticated user asking; `is_operator` is seed 000's operator group."""

    username: str
    privilege: Privilege
    is_operator: bool = False


@dataclass(frozen=True)
class ConferenceTarget:
    """An existing conference, as far as control decisions need to know it."""

    owner: str | None = None
    moderators: frozenset[str] = field(default_factory=frozenset)
    speakers: frozenset[str] = field(default_factory=frozenset)
    encryption_required: bool = False


@dataclass(frozen=True)
class NewConferenceTarget:
    """A conference about to be created, with the owner the request names."""

    owner: str | None
    owner_privilege: Privilege | None = None


@dataclass(frozen=True)
class OwnerChangeTarget:
    """Changing `conference`'s owner to `new_owner` (None: no owner)."""

    conference: ConferenceTarget
    new_owner: str | None
    new_owner_privilege: Privilege | None = None


@dataclass(frozen=True)
class UserTarget:
    """A user account being created, changed or deleted.

    `new_privilege` is the privilege an update asks for (None: unchanged).
    """

    username: str
    privilege: Privilege
    new_privilege: Privilege | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome; `rule` names why, and is what a 403 says."""

    allowed: bool
    rule: str


Target = ConferenceTarget | NewConferenceTarget | OwnerChangeTarget | UserTarget | None
