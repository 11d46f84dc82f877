"""TPKT framing (RFC 1006 section 6, as H.225.0 and H.245 use it over TCP).

Written here because it is four bytes: version 3, a reserved byte, and a 16-bit length
that counts the header too. ``TpktReader`` is sans-IO: bytes in, whole payloads out; a
stream that cannot be TPKT (wrong version, a length under the header or over the
limit) is a ``TpktError``, after which the reader takes nothing more.
"""

from __future__ import annotations

HEADER_SIZE = 4
VERSION = 3
MAX_PAYLOAD = 0xFFFF - HEADER_SIZE


class TpktError(ValueError):
    """The stream is not TPKT: the connection must be closed."""


def frame(payload: bytes) -> bytes:
    """One TPKT packet around ``payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{len(payload)} bytes do not fit one TPKT packet")
    return bytes((VERSION, 0)) + (len(payload) + HEADER_SIZE).to_bytes(2, "big") + payload


class TpktReader:
    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self.failed: str | None = None

    @property
    def pending(self) -> int:
        """Bytes held of a packet not yet whole (a truncated one, at close)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads ``data`` completes; raises ``TpktError`` once for bad framing."""
        if self.failed is not None:
            return []
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while len(buf) >= HEADER_SIZE:
            if buf[0] != VERSION:
                self._fail(f"TPKT version {buf[0]}, not {VERSION}")
            size = (buf[2] << 8) | buf[3]
            if size <= HEADER_SIZE or size - HEADER_SIZE > self.max_payload:
                self._fail(f"TPKT length {size} is absurd")
            if len(buf) < size:
                break
            out.append(bytes(buf[HEADER_SIZE:size]))
            del buf[:size]
        return out

    def _fail(self, why: str) -> None:
        self.failed = why
        self._buf.clear()
        raise TpktError(why)
