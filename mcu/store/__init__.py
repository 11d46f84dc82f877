"""The store: the only module that speaks SQL.

SQLAlchemy 2 async ORM models (`models`), Alembic migrations applied at open
(`migrations/`, run by `migrate`), and a small async repository (`Store`) that returns
plain frozen records. Every repository method is one transaction.
"""

from __future__ import annotations

from mcu.store.errors import Conflict, Invalid, NotFound, Protected, StoreError
from mcu.store.models import EncryptionPolicy, Repetition, RoleName
from mcu.store.records import (
    AuditRecord,
    CallRecordEntry,
    CameraRecord,
    ChatFileRecord,
    ChatMemberRecord,
    ChatRecord,
    ConferenceRecord,
    IssuedToken,
    LeaseRecord,
    MessageRecord,
    NodeRecord,
    ParticipantRecord,
    RecordingRecord,
    RoleRecord,
    TokenRecord,
    UserRecord,
)
from mcu.store.store import ADMIN_PASSWORD_ENV, Store, open_store

__all__ = [
    "ADMIN_PASSWORD_ENV",
    "AuditRecord",
    "CallRecordEntry",
    "CameraRecord",
    "ChatFileRecord",
    "ChatMemberRecord",
    "ChatRecord",
    "ConferenceRecord",
    "Conflict",
    "EncryptionPolicy",
    "Invalid",
    "IssuedToken",
    "LeaseRecord",
    "MessageRecord",
    "NodeRecord",
    "NotFound",
    "ParticipantRecord",
    "Protected",
    "RecordingRecord",
    "Repetition",
    "RoleName",
    "RoleRecord",
    "Store",
    "StoreError",
    "TokenRecord",
    "UserRecord",
    "open_store",
]
