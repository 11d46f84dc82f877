"""The one place control decisions are made: `authorize(actor, operation, target)`.

Every page and API call asks here and nowhere else, so a 403 can always name the rule.
"""

from __future__ import annotations

from typing import TypeVar, overload

from mcu.permissions import tables
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

Op = Operation
T = TypeVar("T")
SECURITY_READ_ONLY = "security-admin: read-only"


def can_own(privilege: Privilege) -> bool:
    """Seed 003: only the conference creation levels and above may own conferences."""
    return privilege in tables.CAN_OWN


def is_owner(actor: Actor, conference: ConferenceTarget) -> bool:
    # Ownership by a user who may not own (demoted since) confers nothing.
    return conference.owner == actor.username and can_own(actor.privilege)


def control_level(actor: Actor, conference: ConferenceTarget) -> ControlLevel:
    """Seed 003's privilege x ownership table, for this actor and conference."""
    as_owner, as_other = tables.CONTROL_BY_PRIVILEGE[actor.privilege]
    return as_owner if is_owner(actor, conference) else as_other


def roles_of(actor: Actor, conference: ConferenceTarget) -> frozenset[ConferenceRole]:
    """Seed 000's conference roles the actor holds in this conference."""
    roles: set[ConferenceRole] = set()
    if is_owner(actor, conference):
        roles.add(ConferenceRole.OWNER)
    if actor.username in conference.moderators:
        roles.add(ConferenceRole.MODERATOR)
    if actor.is_operator:
        roles.add(ConferenceRole.OPERATOR)
    if actor.username in conference.speakers:
        roles.add(ConferenceRole.SPEAKER)
    return frozenset(roles)


def listing(actor: Actor, conference: ConferenceTarget) -> Listing:
    """How the conference appears in the actor's list: link, name only, or not at all."""
    if authorize(actor, Op.VIEW_CONFERENCE, conference).allowed:
        return Listing.LINK
    return tables.LISTING_WITHOUT_CONTROL[actor.privilege]


def owner_after_user_deleted(owner: str | None, deleted_username: str) -> str | None:
    """Seed 003: deleting a user resets their conferences' owner to none."""
    return None if owner == deleted_username else owner


@overload
def authorize(actor: Actor, operation: ChatAction, target: ChatTarget) -> Decision: ...
@overload
def authorize(actor: Actor, operation: Operation, target: Target = None) -> Decision: ...
def authorize(
    actor: Actor, operation: Operation | ChatAction, target: Target = None
) -> Decision:
    """Decide whether `actor` may do `operation` on `target`, naming the rule."""
    if isinstance(operation, ChatAction):
        return _chat(operation, _expect(target, ChatTarget))
    if operation in tables.USER_OPERATIONS:
        return _user_management(actor, operation, _expect(target, UserTarget))
    if operation in tables.RECORD_OPERATIONS:
        return _records(actor)
    if operation is Op.LIST_USERS:
        return _list_users(actor)
    if operation is Op.LIST_CONFERENCES:
        return _list_conferences(actor)
    if operation is Op.CREATE_CONFERENCE:
        return _create_conference(actor, _expect(target, NewConferenceTarget))
    if operation is Op.CHANGE_OWNER:
        return _change_owner(actor, _expect(target, OwnerChangeTarget))
    return _conference(actor, operation, _expect(target, ConferenceTarget))


def _expect(target: Target, kind: type[T]) -> T:
    # A wrong target is a programming error in the caller, never a user's 403.
    if not isinstance(target, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(target).__name__}")
    return target


def _allow(rule: str) -> Decision:
    return Decision(True, rule)


def _deny(rule: str) -> Decision:
    return Decision(False, rule)


def _user_management(actor: Actor, operation: Operation, user: UserTarget) -> Decision:
    # Seed 002: the root `admin` "cannot be deleted, but its password can be changed".
    if operation is Op.DELETE_USER and user.username == ROOT_USERNAME:
        return _deny("root-admin-undeletable")
    # Seed 002: the root "has full control"; demoting it would undo that by the back door.
    if user.username == ROOT_USERNAME and user.new_privilege not in (None, Privilege.ADMINISTRATOR):
        return _deny("root-admin-always-administrator")
    # Everyone may change their own password: it is a credential, not a server setting.
    if operation is Op.CHANGE_PASSWORD and user.username == actor.username:
        return _allow("own-password")
    # ... and so everyone may see their own account (to find that form).
    if operation is Op.VIEW_USER and user.username == actor.username:
        return _allow("own-account")
    if operation is Op.VIEW_USER and actor.privilege is not Privilege.ADMINISTRATOR:
        # Seed 000: the security admin reads "reports and recording"; accounts are neither.
        return _deny("user-accounts: administrator only")
    if actor.privilege is Privilege.SECURITY_ADMINISTRATOR:
        return _deny(SECURITY_READ_ONLY)
    if actor.privilege is Privilege.ADMINISTRATOR:
        return _allow("user-management: administrator")
    return _deny("user-management: administrator only")


def _list_users(actor: Actor) -> Decision:
    # Seed 002: "Internal users with the admin role can manage other internal users"; seed
    # 000's security admin reads "reports and recording", and the user list is neither.
    if actor.privilege is Privilege.ADMINISTRATOR:
        return _allow("user-accounts: administrator")
    return _deny("user-accounts: administrator only")


def _records(actor: Actor) -> Decision:
    if actor.privilege in tables.RECORD_READERS:
        return _allow(f"records: {actor.privilege}")
    return _deny("records: administrator or security administrator only")


def _list_conferences(actor: Actor) -> Decision:
    # Seed 003: for some no-control levels "the list ... will not be shown".
    if tables.LISTING_WITHOUT_CONTROL[actor.privilege] is Listing.HIDDEN:
        return _deny(f"conference-list: not shown to {actor.privilege}")
    return _allow("conference-list")


def _create_conference(actor: Actor, new: NewConferenceTarget) -> Decision:
    if not can_own(actor.privilege):
        return _deny("below-conference-creation: cannot own or configure")
    if new.owner == actor.username:
        return _allow("conference-creation")
    # Seed 003: only those who may change owners "choose which owner is initially
    # associated with the conference".
    return _owner_choice(actor, new.owner, new.owner_privilege)


def _change_owner(actor: Actor, change: OwnerChangeTarget) -> Decision:
    return _owner_choice(actor, change.new_owner, change.new_owner_privilege)


def _owner_choice(actor: Actor, owner: str | None, privilege: Privilege | None) -> Decision:
    if actor.privilege not in tables.CAN_CHANGE_OWNER:
        return _deny("change-owner: administrator or conference_creation_full_control only")
    # Seed 003: "to either a user with conference creation rights or to 'none'".
    if owner is not None and (privilege is None or not can_own(privilege)):
        return _deny("change-owner: new owner cannot create conferences")
    return _allow(f"change-owner: {actor.privilege}")


def _conference(actor: Actor, operation: Operation, conference: ConferenceTarget) -> Decision:
    # Seed 000: the security administrator "cannot change any settings", whatever roles.
    if actor.privilege is Privilege.SECURITY_ADMINISTRATOR:
        if operation in tables.SECURITY_ADMIN_OPERATIONS:
            return _allow("security-admin: read-only recordings")
        return _deny(SECURITY_READ_ONLY)
    # Seed 003: below conference creation users cannot "change any conference's
    # configuration" — not even as moderators or operators.
    if operation in tables.CONFIGURATION_OPERATIONS and not can_own(actor.privilege):
        return _deny("below-conference-creation: cannot own or configure")
    # Seed 003: "will not show thumbnail previews ... if encryption is required".
    if operation is Op.VIEW_THUMBNAILS and conference.encryption_required:
        return _deny("thumbnails-hidden: encryption required")
    if operation in tables.RECORDING_FILE_OPERATIONS:
        return _recording_file(actor, operation, conference)
    if operation is Op.WATCH_STREAM:
        # Nor is a conference that must be encrypted streamed (issue 16's policy).
        if conference.encryption_required:
            return _deny("streaming-off: encryption required")
        if actor.privilege in tables.STREAM_WATCHERS:
            return _allow(f"streaming: {actor.privilege} may watch")
    return _by_control_or_role(actor, operation, conference)


def _recording_file(
    actor: Actor, operation: Operation, conference: ConferenceTarget
) -> Decision:
    if is_owner(actor, conference):
        return _allow("recordings: owner of the conference")
    if actor.privilege in tables.RECORDING_KEEPERS:
        return _allow(f"recordings: {actor.privilege}")
    if roles_of(actor, conference) & {ConferenceRole.MODERATOR, ConferenceRole.OPERATOR}:
        return _deny("moderator: recordings and analytics are the owner's")
    return _deny("recordings: the owner's and the administrators' only")


def _by_control_or_role(
    actor: Actor, operation: Operation, conference: ConferenceTarget
) -> Decision:
    level = control_level(actor, conference)
    if operation in tables.OPERATIONS_BY_CONTROL[level]:
        return _allow(f"{level}-control: {_why(actor, conference)}")
    for role in sorted(roles_of(actor, conference)):
        if operation in tables.OPERATIONS_BY_ROLE[role]:
            return _allow(f"{role}: {operation} in this conference")
    return _deny(_denial(actor, operation, conference, level))


def _why(actor: Actor, conference: ConferenceTarget) -> str:
    if is_owner(actor, conference):
        return "owner of the conference"
    return f"{actor.privilege} over every conference"


def _denial(
    actor: Actor, operation: Operation, conference: ConferenceTarget, level: ControlLevel
) -> str:
    roles = roles_of(actor, conference)
    delegated = roles & {ConferenceRole.MODERATOR, ConferenceRole.OPERATOR}
    if delegated and operation in tables.OWNER_ONLY_OPERATIONS:
        return "moderator: recordings and analytics are the owner's"
    if not can_own(actor.privilege):
        return f"no-control: {actor.privilege} cannot own conferences"
    if level is ControlLevel.NONE:
        return "no-control: not owner of the conference"
    return f"{level}-control: not owner of the conference"


def _chat(action: ChatAction, chat: ChatTarget) -> Decision:
    """Seed 004: the actor's chat role, looked up in the table of the chat's kind."""
    if chat.role is None:
        return _deny("chat: not a participant")
    if chat.left:
        return _deny("chat: left the chat")
    if chat.blocked:
        return _deny("chat: blocked in this chat")
    if action is ChatAction.DELETE_CHAT:
        return _delete_chat(chat)
    if action in tables.CHAT_SENDING_ACTIONS and not chat.can_send:
        return _deny("chat: right to send revoked")
    table, by_role = tables.CHAT_TABLE_BY_KIND[chat.kind]
    actions = by_role.get(chat.role)
    if actions is None:
        return _deny(f"{table}: no {chat.role} role in this table")
    if action in actions:
        return _allow(f"{table}: {chat.role} may {action}")
    return _deny(f"{table}: {chat.role} may not {action}")


def _delete_chat(chat: ChatTarget) -> Decision:
    # Not in the seed's tables: the chat is its owner's, as changing its owner is.
    if chat.kind in (ChatKind.CONFERENCE, ChatKind.FAVORITES):
        return _deny(f"chat: a {chat.kind} chat is not deleted on its own")
    if chat.role is ChatRole.OWNER:
        return _allow("chat: the owner deletes the chat")
    return _deny("chat: only the owner deletes the chat")
