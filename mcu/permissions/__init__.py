"""Who may do what: the seeds' permission rules as tables and one `authorize`.

Where each seed rule lives:
- seed 003 privilege x ownership -> control: `tables.CONTROL_BY_PRIVILEGE`
- seed 003 full / limited control operations: `tables.FULL_OPERATIONS`,
  `tables.LIMITED_OPERATIONS`, `tables.CONFIGURATION_OPERATIONS`; admitting a PIN-lobby
  caller (`Operation.ADMIT_PARTICIPANT`) is full control, beside disconnect and dial-out
- seed 003 names-only or hidden list: `tables.LISTING_WITHOUT_CONTROL`, `listing()`
- seed 003 who may own / change owner: `tables.CAN_OWN`, `tables.CAN_CHANGE_OWNER`,
  `authorize._owner_choice`; owner reset on user deletion: `owner_after_user_deleted()`
- seed 003 no thumbnails when encryption is required: `authorize._conference`
- seed 000 owner / moderator / operator / speaker: `tables.OPERATIONS_BY_ROLE`,
  `roles_of()`; moderators lack `tables.OWNER_ONLY_OPERATIONS`
- seed 000 security administrator: `tables.SECURITY_ADMIN_OPERATIONS`, `RECORD_READERS`
- seed 002 undeletable root `admin`: `authorize._user_management`
- seed 004 chat roles x actions, a regular chat and a channel: `tables.SEED_004_REGULAR_CHAT`,
  `tables.SEED_004_CHANNEL` (the seed's text, parsed into `CHAT_REGULAR`, `CHAT_CHANNEL`),
  decided by `authorize._chat` for a `ChatAction` on a `ChatTarget`
- seed 002 only the administrator manages (and lists) accounts: `authorize._user_management`,
  `authorize._list_users`; everyone sees their own account and changes their own password
"""

from __future__ import annotations

from mcu.permissions.authorize import (
    authorize,
    can_own,
    control_level,
    listing,
    owner_after_user_deleted,
    roles_of,
)
from mcu.permissions.model import (
    ROOT_USERNAME,
    Actor,
    ChatAction,
    ChatKind,
    ChatRole,
    ChatTarget,
    ConferenceRole,
    ConferenceTarget,
    ControlLevel,
    Decision,
    Listing,
    NewConferenceTarget,
    Operation,
    OwnerChangeTarget,
    Privilege,
    Target,
    UserTarget,
)

__all__ = [
    "ROOT_USERNAME",
    "Actor",
    "ChatAction",
    "ChatKind",
    "ChatRole",
    "ChatTarget",
    "ConferenceRole",
    "ConferenceTarget",
    "ControlLevel",
    "Decision",
    "Listing",
    "NewConferenceTarget",
    "Operation",
    "OwnerChangeTarget",
    "Privilege",
    "Target",
    "UserTarget",
    "authorize",
    "can_own",
    "control_level",
    "listing",
    "owner_after_user_deleted",
    "roles_of",
]
