"""The special rules: root admin, owner changes, creation rights, thumbnails, listing."""

from __future__ import annotations

import pytest

from mcu.permissions import (
    ROOT_USERNAME,
    Actor,
    ConferenceTarget,
    Listing,
    NewConferenceTarget,
    Operation,
    OwnerChangeTarget,
    Privilege,
    UserTarget,
    authorize,
    listing,
    owner_after_user_deleted,
)
from tests.permissions.test_matrix import CREATORS

P = Privilege
Op = Operation
ADMIN = Actor(ROOT_USERNAME, P.ADMINISTRATOR)
ROOT = UserTarget(ROOT_USERNAME, P.ADMINISTRATOR)
CHANGERS = {P.ADMINISTRATOR, P.CONFERENCE_CREATION_FULL_CONTROL}


# Seed 002: "The root administrator (admin) cannot be deleted, but its password can be
# changed."
@pytest.mark.parametrize("privilege", list(Privilege), ids=str)
def test_root_admin_undeletable_by_anyone(privilege: Privilege) -> None:
    decision = authorize(Actor("someone", privilege), Op.DELETE_USER, ROOT)
    assert decision.allowed is False
    assert decision.rule == "root-admin-undeletable"


def test_root_admin_undeletable_by_itself() -> None:
    assert authorize(ADMIN, Op.DELETE_USER, ROOT).rule == "root-admin-undeletable"


def test_root_admin_password_can_be_changed() -> None:
    assert authorize(ADMIN, Op.CHANGE_PASSWORD, ROOT).allowed
    other_admin = Actor("ops", P.ADMINISTRATOR)
    assert authorize(other_admin, Op.CHANGE_PASSWORD, ROOT).allowed


def test_other_admins_can_be_deleted() -> None:
    assert authorize(ADMIN, Op.DELETE_USER, UserTarget("ops", P.ADMINISTRATOR)).allowed


# Seed 003: "A user whose privilege level is either conference creation and full control
# or administrator is also able to change the owner of a conference. A conference owner
# can be changed to either a user with conference creation rights or to 'none'".
@pytest.mark.parametrize("actor_privilege", list(Privilege), ids=str)
@pytest.mark.parametrize("new_privilege", [*Privilege, None], ids=str)
def test_change_owner(actor_privilege: Privilege, new_privilege: Privilege | None) -> None:
    new_owner = None if new_privilege is None else "carol"
    change = OwnerChangeTarget(ConferenceTarget(owner="bob"), new_owner, new_privilege)
    decision = authorize(Actor("alice", actor_privilege), Op.CHANGE_OWNER, change)
    want = actor_privilege in CHANGERS and (new_privilege is None or new_privilege in CREATORS)
    assert decision.allowed is want, decision.rule


def test_change_owner_refusals_name_the_rule() -> None:
    to_viewer = OwnerChangeTarget(ConferenceTarget(owner="bob"), "eve", P.CONFERENCE_LIST_ONLY)
    assert authorize(ADMIN, Op.CHANGE_OWNER, to_viewer).rule == (
        "change-owner: new owner cannot create conferences"
    )
    limited = Actor("alice", P.CONFERENCE_CREATION_LIMITED_CONTROL)
    to_none = OwnerChangeTarget(ConferenceTarget(owner="alice"), None)
    assert authorize(limited, Op.CHANGE_OWNER, to_none).rule == (
        "change-owner: administrator or conference_creation_full_control only"
    )


def test_change_owner_to_unknown_privilege_is_refused() -> None:
    change = OwnerChangeTarget(ConferenceTarget(), "ghost", None)
    assert authorize(ADMIN, Op.CHANGE_OWNER, change).allowed is False


# Seed 003: "when scheduling new conferences, users with these privileges are able to
# choose which owner is initially associated with the conference."
@pytest.mark.parametrize("privilege", list(Privilege), ids=str)
@pytest.mark.parametrize("owner", ["self", "other", "none"])
def test_create_conference_owner_choice(privilege: Privilege, owner: str) -> None:
    name = {"self": "alice", "other": "bob", "none": None}[owner]
    new = NewConferenceTarget(name, P.CONFERENCE_CREATION if name else None)
    decision = authorize(Actor("alice", privilege), Op.CREATE_CONFERENCE, new)
    want = privilege in (CREATORS if owner == "self" else CHANGERS)
    assert decision.allowed is want, decision.rule


def test_creating_for_a_viewer_is_refused() -> None:
    new = NewConferenceTarget("eve", P.CONFERENCE_DETAIL)
    assert authorize(ADMIN, Op.CREATE_CONFERENCE, new).allowed is False


# Issue 5: "users below conference_creation cannot own or configure anything" — not even
# in the operator group (seed 000's moderator rights everywhere).
@pytest.mark.parametrize("privilege", sorted(set(Privilege) - CREATORS), ids=str)
@pytest.mark.parametrize("operation", [Op.CONFIGURE_CONFERENCE, Op.DELETE_CONFERENCE])
def test_below_creation_operator_cannot_configure(
    privilege: Privilege, operation: Operation
) -> None:
    actor = Actor("alice", privilege, is_operator=True)
    decision = authorize(actor, operation, ConferenceTarget(owner="alice"))
    assert decision.allowed is False
    assert decision.rule in {
        "below-conference-creation: cannot own or configure",
        "security-admin: read-only",
    }


def test_below_creation_cannot_create() -> None:
    actor = Actor("alice", P.CONFERENCE_DETAIL)
    decision = authorize(actor, Op.CREATE_CONFERENCE, NewConferenceTarget("alice"))
    assert decision.rule == "below-conference-creation: cannot own or configure"


# Seed 003: "the MCU will not show thumbnail previews on the participant list page if
# encryption is required for a conference."
@pytest.mark.parametrize("privilege", list(Privilege), ids=str)
@pytest.mark.parametrize("operator", [False, True])
def test_no_thumbnails_when_encryption_required(privilege: Privilege, operator: bool) -> None:
    actor = Actor("alice", privilege, is_operator=operator)
    conference = ConferenceTarget(owner="alice", encryption_required=True)
    decision = authorize(actor, Op.VIEW_THUMBNAILS, conference)
    assert decision.allowed is False
    assert decision.rule in {"thumbnails-hidden: encryption required", "security-admin: read-only"}


def test_participant_list_still_shown_when_encryption_required() -> None:
    conference = ConferenceTarget(owner="alice", encryption_required=True)
    assert authorize(ADMIN, Op.VIEW_PARTICIPANTS, conference).allowed


# Seed 000: the security admin "cannot change any settings", operator group or not.
@pytest.mark.parametrize("operation", [Op.MUTE_PARTICIPANT, Op.END_CONFERENCE, Op.DIAL_OUT])
def test_security_admin_changes_nothing_even_as_operator(operation: Operation) -> None:
    actor = Actor("sec", P.SECURITY_ADMINISTRATOR, is_operator=True)
    decision = authorize(actor, operation, ConferenceTarget(moderators=frozenset({"sec"})))
    assert decision.allowed is False
    assert decision.rule == "security-admin: read-only"


def test_security_admin_reads_recordings() -> None:
    actor = Actor("sec", P.SECURITY_ADMINISTRATOR)
    assert authorize(actor, Op.DOWNLOAD_RECORDINGS, ConferenceTarget(owner="bob")).allowed
    assert authorize(actor, Op.VIEW_CALL_RECORDS).allowed
    assert authorize(actor, Op.VIEW_AUDIT_LOG).allowed


@pytest.mark.parametrize(
    ("privilege", "rule"),
    [
        (P.CONFERENCE_CREATION_LIMITED_CONTROL, "limited-control: not owner of the conference"),
        (P.CONFERENCE_CREATION, "no-control: not owner of the conference"),
        (P.CONFERENCE_LIST_ONLY, "no-control: conference_list_only cannot own conferences"),
    ],
    ids=str,
)
def test_refusal_rule_names(privilege: Privilege, rule: str) -> None:
    actor = Actor("alice", privilege)
    decision = authorize(actor, Op.DISCONNECT_PARTICIPANT, ConferenceTarget(owner="bob"))
    assert (decision.allowed, decision.rule) == (False, rule)


def test_grant_rule_names() -> None:
    owner = Actor("alice", P.CONFERENCE_CREATION)
    mine = ConferenceTarget(owner="alice")
    assert authorize(owner, Op.END_CONFERENCE, mine).rule == "full-control: owner of the conference"
    assert authorize(ADMIN, Op.END_CONFERENCE, mine).rule == (
        "full-control: administrator over every conference"
    )


# Seed 003, no control: "the list will be shown but conferences over which the user has
# no control will be presented as names rather than hyperlinks" — or not shown at all.
@pytest.mark.parametrize(
    ("privilege", "own", "want"),
    [
        (P.ADMINISTRATOR, False, Listing.LINK),
        (P.CONFERENCE_CREATION_FULL_CONTROL, False, Listing.LINK),
        (P.CONFERENCE_CREATION_LIMITED_CONTROL, False, Listing.LINK),
        (P.CONFERENCE_CREATION, True, Listing.LINK),
        (P.CONFERENCE_CREATION, False, Listing.NAME_ONLY),
        (P.CONFERENCE_DETAIL, False, Listing.NAME_ONLY),
        (P.CONFERENCE_LIST_STREAMING, False, Listing.NAME_ONLY),
        (P.CONFERENCE_LIST_ONLY, True, Listing.NAME_ONLY),
        (P.SECURITY_ADMINISTRATOR, False, Listing.HIDDEN),
    ],
    ids=str,
)
def test_listing(privilege: Privilege, own: bool, want: Listing) -> None:
    conference = ConferenceTarget(owner="alice" if own else "bob")
    assert listing(Actor("alice", privilege), conference) is want


def test_operator_sees_links() -> None:
    actor = Actor("alice", P.CONFERENCE_LIST_ONLY, is_operator=True)
    assert listing(actor, ConferenceTarget(owner="bob")) is Listing.LINK


# Seed 003: "If a user account is deleted, any conferences owned by that user have their
# owner reset to 'none'."
def test_owner_reset_when_user_deleted() -> None:
    assert owner_after_user_deleted("bob", "bob") is None
    assert owner_after_user_deleted("carol", "bob") == "carol"
    assert owner_after_user_deleted(None, "bob") is None


def test_wrong_target_kind_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        authorize(ADMIN, Op.DELETE_USER, ConferenceTarget())
    with pytest.raises(TypeError):
        authorize(ADMIN, Op.END_CONFERENCE, None)


# Seed 002: the root administrator "has full control over OpenVidu Meet".
@pytest.mark.parametrize("new_privilege", sorted(set(Privilege) - {P.ADMINISTRATOR}), ids=str)
def test_root_admin_cannot_be_demoted(new_privilege: Privilege) -> None:
    update = UserTarget(ROOT_USERNAME, P.ADMINISTRATOR, new_privilege)
    decision = authorize(ADMIN, Op.UPDATE_USER, update)
    assert (decision.allowed, decision.rule) == (False, "root-admin-always-administrator")


def test_other_users_can_be_promoted_and_demoted() -> None:
    update = UserTarget("ops", P.ADMINISTRATOR, P.CONFERENCE_LIST_ONLY)
    assert authorize(ADMIN, Op.UPDATE_USER, update).allowed


@pytest.mark.parametrize(
    ("privilege", "own", "allowed", "rule"),
    [
        (P.ADMINISTRATOR, False, True, "full-control: administrator over every conference"),
        (P.CONFERENCE_CREATION, True, True, "full-control: owner of the conference"),
        (P.CONFERENCE_CREATION, False, False, "no-control: not owner of the conference"),
        (
            P.CONFERENCE_CREATION_LIMITED_CONTROL,
            False,
            False,
            "limited-control: not owner of the conference",
        ),
        (
            P.CONFERENCE_LIST_ONLY,
            True,
            False,
            "no-control: conference_list_only cannot own conferences",
        ),
    ],
    ids=str,
)
def test_admit_from_lobby_is_full_control(
    privilege: Privilege, own: bool, allowed: bool, rule: str
) -> None:
    # Admitting a PIN-lobby caller decides who is in the conference, like disconnect.
    conference = ConferenceTarget(owner="alice" if own else "bob")
    decision = authorize(Actor("alice", privilege), Op.ADMIT_PARTICIPANT, conference)
    assert (decision.allowed, decision.rule) == (allowed, rule)
