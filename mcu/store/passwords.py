"""Argon2 password hashing; blocking work runs in a thread so the event loop keeps going."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash of a random secret: verifying against it costs what a real check does."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Digest authentication (RTSP viewers, issue 15) checks against MD5(user:realm:password),
# which must be kept beside the argon2 hash: Digest never sends the password.
DIGEST_REALM = "mcu"


def digest_ha1(username: str, password: str) -> str:
    return hashlib.md5(f"{username}:{DIGEST_REALM}:{password}".encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(18)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_hash_async(password_hash: str, password: str) -> bool:
    # Looked up at call time so tests can count calls by patching `verify_hash`.
    return await asyncio.to_thread(verify_hash, password_hash, password)
