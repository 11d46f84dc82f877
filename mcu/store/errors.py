"""Store errors: what callers map to HTTP answers (409, 404, 403, 422)."""

from __future__ import annotations


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class Conflict(StoreError):
    """A unique field already holds this value (HTTP 409)."""

    def __init__(self, field: str, value: object = None) -> None:
        super().__init__(f"{field} already exists: {value!r}" if value is not None else field)
        self.field = field
        self.value = value


class NotFound(StoreError):
    """The addressed row does not exist (HTTP 404)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} not found: {key!r}")
        self.kind = kind
        self.key = key


class Invalid(StoreError):
    """A field's value is unacceptable, e.g. an owner who does not exist (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Protected(StoreError):
    """The change would break an invariant, e.g. deleting the root user (HTTP 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
