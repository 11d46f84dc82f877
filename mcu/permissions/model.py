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
    # Issue 15: watching a conference's stream (HLS; the watch page).
    WATCH_STREAM = "watch_stream"
    # Issue 15: starting and stopping a recording (the seeds disagree; see tables).
    CONTROL_RECORDING = "control_recording"
    DELETE_RECORDING = "delete_recording"
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


class ChatKind(StrEnum):
    """Issue 17's chats. Seed 004 has two tables: a channel's, and a regular chat's
    (which governs group, conference and Favorites chats alike)."""

    GROUP = "group"
    CHANNEL = "channel"
    CONFERENCE = "conference"
    FAVORITES = "favorites"


class ChatRole(StrEnum):
    """Seed 004's chat roles, named as the seed names them."""

    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"
    CONF_OWNER = "conf_owner"
    CONF_MODERATOR = "conf_moderator"
    FAVORITES_OWNER = "favorites_owner"
    WRITER = "writer"


class ChatAction(StrEnum):
    """The 28 rows of seed 004's two tables (same rows, same order), plus deleting a chat.

    Kept apart from `Operation`: conference operations are decided by privilege and
    conference roles, chat actions by chat roles; both go through `authorize`.
    """

    READ = "read_messages"
    SEND = "send_messages"
    ADD_PARTICIPANTS = "add_participants"
    REMOVE_PARTICIPANTS = "remove_participants"
    EDIT_OWN = "edit_own_messages"
    DELETE_OWN_FOR_ME = "delete_own_messages_for_me"
    DELETE_OWN_FOR_EVERYONE = "delete_own_messages_for_everyone"
    DELETE_OTHERS_FOR_ME = "delete_others_messages_for_me"
    DELETE_OTHERS_FOR_EVERYONE = "delete_others_messages_for_everyone"
    CLEAR_HISTORY_FOR_ME = "clear_history_for_me"
    CLEAR_HISTORY_FOR_EVERYONE = "clear_history_for_everyone"
    REPLY = "reply_to_messages"
    FORWARD = "forward_messages"
    SEND_FILES = "send_files"
    SEND_LOCATION = "send_location"
    SEND_CONTACTS = "send_contacts"
    SEND_EMOJI = "send_emoji"
    SEND_STICKERS = "send_stickers"
    PIN = "pin_messages"
    CHANGE_TITLE = "change_title"
    CHANGE_ICON = "change_icon"
    CHANGE_ROLES = "change_participant_roles"
    GRANT_RIGHTS = "grant_rights"
    REVOKE_RIGHTS = "revoke_rights"
    BLOCK_PARTICIPANTS = "block_participants"
    CHANGE_OWNER = "change_chat_owner"
    SET_FIRST_VISIBLE = "set_first_visible_message"
    SEND_POLLS = "send_polls"
    # Not a row of the seed: deleting the chat itself, which only its owner may.
    DELETE_CHAT = "delete_chat"


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


@dataclass(frozen=True)
class ChatTarget:
    """A chat as the actor stands in it: the chat's kind and the actor's role there.

    `role` None: not a participant. `left`: the actor left the chat; `blocked`: a
    moderator blocked them; `can_send` False: their right to send was revoked (a right
    can only narrow what the role allows, never widen it).
    """

    kind: ChatKind
    role: ChatRole | None
    left: bool = False
    blocked: bool = False
    can_send: bool = True


Target = (
    ConferenceTarget | NewConferenceTarget | OwnerChangeTarget | UserTarget | ChatTarget | None
)
