"""Files sent to chats, on disk (issue 17): a size limit, a content type checked against
the bytes, names that are random keys (never the sender's file name).

The store keeps one row per file (`ChatFile`: name, type, size, key); this keeps the
bytes, in `directory/<key>`. No SQL here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# What the first bytes of each accepted type look like.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class FileRefused(Exception):
    """The file may not be kept: `status` 413 (too large) or 415 (type), with why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def content_matches(content_type: str, data: bytes) -> bool:
    """Do the bytes look like the declared type? Text must be UTF-8 without NULs."""
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in data
    return any(data.startswith(magic) for magic in _MAGIC.get(content_type, ()))


class FileStore:
    """Files under `directory`, at most `max_bytes` each, of `content_types` only."""

    def __init__(self, directory: str | Path, max_bytes: int, content_types: list[str]) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.content_types = list(content_types)

    def check(self, content_type: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            raise FileRefused(413, f"file exceeds the {self.max_bytes}-byte limit")
        if content_type not in self.content_types:
            raise FileRefused(415, f"content type {content_type!r} not accepted; accepted: "
                              + ", ".join(self.content_types))
        if not content_matches(content_type, data):
            raise FileRefused(415, f"the file's bytes are not {content_type}")

    def save(self, data: bytes) -> str:
        """Write the bytes under a new random key and return it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(16)
        path = self.directory / key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return key

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("bad storage key")
        return self.directory / key


__all__ = ["FileRefused", "FileStore", "content_matches"]
