"""Seed 000's conference roles, for every privilege and every conference operation."""

from __future__ import annotations

import pytest

from mcu.permissions import (
    Actor,
    ConferenceRole,
    ConferenceTarget,
    Operation,
    Privilege,
    authorize,
    roles_of,
)
from tests.permissions.test_matrix import CREATORS, NEEDS, expected

P = Privilege
Op = Operation
ME = "alice"

# Seed 000: a moderator "has all the rights of the owner, except the right to download
# video recordings and view analytics."
NOT_FOR_MODERATORS = {Op.DOWNLOAD_RECORDINGS, Op.VIEW_ANALYTICS, Op.DELETE_RECORDING}

# Seed 003: users below conference creation are "not able to own conferences or change
# any conference's configuration" — a role does not lift that.
CONFIGURATION = {
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


def role_grants(privilege: Privilege, role: ConferenceRole, operation: Operation) -> bool:
    # Seed 000: the security admin "cannot change any settings", whatever its roles.
    if privilege is P.SECURITY_ADMINISTRATOR:
        return False
    # Seed 000: an operator "receives moderator rights in every meeting"; a speaker is
    # only "seen and heard by other users", which controls nothing.
    if role not in (ConferenceRole.MODERATOR, ConferenceRole.OPERATOR):
        return False
    if operation in NOT_FOR_MODERATORS:
        return False
    return privilege in CREATORS or operation not in CONFIGURATION


def actor_and_conference(
    privilege: Privilege, role: ConferenceRole
) -> tuple[Actor, ConferenceTarget]:
    actor = Actor(ME, privilege, is_operator=role is ConferenceRole.OPERATOR)
    members = frozenset({ME})
    conference = ConferenceTarget(
        owner="bob",
        moderators=members if role is ConferenceRole.MODERATOR else frozenset(),
        speakers=members if role is ConferenceRole.SPEAKER else frozenset(),
    )
    return actor, conference


DELEGATED_ROLES = [r for r in ConferenceRole if r is not ConferenceRole.OWNER]
CASES = [
    pytest.param(priv, role, op, id=f"{priv}-{role}-{op}")
    for priv in Privilege
    for role in DELEGATED_ROLES
    for op in NEEDS
]


@pytest.mark.parametrize(("privilege", "role", "operation"), CASES)
def test_role_in_someone_elses_conference(
    privilege: Privilege, role: ConferenceRole, operation: Operation
) -> None:
    actor, conference = actor_and_conference(privilege, role)
    want = expected(privilege, False, operation) or role_grants(privilege, role, operation)
    decision = authorize(actor, operation, conference)
    assert decision.allowed is want, decision.rule


@pytest.mark.parametrize("operation", sorted(NEEDS), ids=str)
def test_owner_role_is_full_control(operation: Operation) -> None:
    # Seed 000: the owner "has full control over the flow of this meeting".
    actor = Actor(ME, P.CONFERENCE_CREATION)
    conference = ConferenceTarget(owner=ME)
    assert roles_of(actor, conference) == {ConferenceRole.OWNER}
    assert authorize(actor, operation, conference).allowed


@pytest.mark.parametrize("role", DELEGATED_ROLES, ids=str)
def test_roles_are_recognised(role: ConferenceRole) -> None:
    actor, conference = actor_and_conference(P.CONFERENCE_LIST_ONLY, role)
    assert roles_of(actor, conference) == {role}


def test_owner_below_creation_is_no_owner() -> None:
    # Seed 003: these levels "are not able to own conferences".
    actor = Actor(ME, P.CONFERENCE_DETAIL)
    assert roles_of(actor, ConferenceTarget(owner=ME)) == frozenset()


def test_moderator_refused_recordings_names_the_rule() -> None:
    actor, conference = actor_and_conference(P.CONFERENCE_CREATION, ConferenceRole.MODERATOR)
    decision = authorize(actor, Op.DOWNLOAD_RECORDINGS, conference)
    assert decision.allowed is False
    assert decision.rule == "moderator: recordings and analytics are the owner's"


def test_moderator_rule_names_the_role() -> None:
    actor, conference = actor_and_conference(P.CONFERENCE_CREATION, ConferenceRole.MODERATOR)
    decision = authorize(actor, Op.DISCONNECT_PARTICIPANT, conference)
    assert decision.allowed is True
    assert decision.rule == "moderator: disconnect_participant in this conference"
