"""Motion JPEG over RTP (RFC 2435), receive side only, sans-IO: payloads to JPEG files.

RFC 2435 strips a baseline JPEG to its entropy-coded scan and sends, in every packet,
a main header (type-specific, 24-bit fragment offset, type, Q, width/8, height/8);
types 64-127 add a restart marker header (restart interval, F/L bits, count); Q
128-255 adds, in the first packet of a frame, a quantization table header with the
tables themselves (length 0: the tables last sent with this Q), while Q 1-99 means the
IJG tables scaled by Q (RFC 2435 Appendix A). Types 0 and 1 (and 64/65) are YCbCr
4:2:2 and 4:2:0 with the standard Huffman tables (JPEG Annex K.3); other types are
refused as malformed.

:meth:`JpegDepacketizer` rebuilds SOI, APP0 (JFIF), DQT, SOF0, DHT, optional DRI and
SOS in front of the reassembled scan and ends it with EOI (RFC 2435 Appendix B), so
any JPEG decoder takes the result. Every frame is a key frame; fragments must follow
each other without a gap in their offsets, or the frame is dropped.
"""

from __future__ import annotations

import struct

from gateway.rtp.payload.base import Depacketizer, Frame, Piece

MAIN_HEADER_SIZE = 8
RESTART_HEADER_SIZE = 4
QTABLE_HEADER_SIZE = 4
MAX_DIMENSION = 2040  # width/8 and height/8 are one byte each

SOI, EOI = b"\xff\xd8", b"\xff\xd9"

# JPEG Annex K.1, natural (row-major) order.
LUMA_QUANTIZER = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
CHROMA_QUANTIZER = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *([99] * 32),
)  # fmt: skip


def _zigzag() -> tuple[int, ...]:
    """Natural index of each zigzag position (JPEG Figure A.6)."""
    cells = [(r, c) for r in range(8) for c in range(8)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else rc[1]))
    return tuple(r * 8 + c for r, c in cells)


ZIGZAG = _zigzag()

# JPEG Annex K.3: (code counts per length 1-16, symbols) for the four standard tables.
LUMA_DC = (bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]), bytes(range(12)))
CHROMA_DC = (bytes([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]), bytes(range(12)))
LUMA_AC = (
    bytes([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]),
    bytes.fromhex(
        "01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
        "2433627282090a161718191a25262728292a3435363738393a434445464748494a"
        "535455565758595a636465666768696a737475767778797a838485868788898a"
        "92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
        "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"
    ),
)
CHROMA_AC = (
    bytes([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]),
    bytes.fromhex(
        "000102031104052131061241510761711322328108144291a1b1c109233352f0"
        "156272d10a162434e125f11718191a262728292a35363738393a434445464748"
        "494a535455565758595a636465666768696a737475767778797a828384858687"
        "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
        "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"
    ),
)


def quantization_tables(q: int) -> bytes:
    """The luma then chroma table, zigzag order, for Q 1-99 (RFC 2435 Appendix A)."""
    q = min(max(q, 1), 99)
    factor = 5000 // q if q < 50 else 200 - q * 2
    out = bytearray()
    for table in (LUMA_QUANTIZER, CHROMA_QUANTIZER):
        for i in range(64):
            out.append(min(max((table[ZIGZAG[i]] * factor + 50) // 100, 1), 255))
    return bytes(out)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack("!BBH", 0xFF, marker, len(body) + 2) + body


def _dht() -> bytes:
    body = b"".join(
        bytes([cls << 4 | ident]) + counts + symbols
        for cls, ident, (counts, symbols) in (
            (0, 0, LUMA_DC), (1, 0, LUMA_AC), (0, 1, CHROMA_DC), (1, 1, CHROMA_AC),
        )
    )
    return _segment(0xC4, body)


DHT = _dht()
JFIF = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
SOS = _segment(0xDA, bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]))


def jpeg_headers(
    kind: int, width: int, height: int, tables: list[tuple[int, bytes]], restart_interval: int
) -> bytes:
    """Everything before the scan (RFC 2435 Appendix B's MakeHeaders).

    ``kind``: 0 (4:2:2) or 1 (4:2:0); ``tables``: (precision, table) for luma and
    chroma, zigzag order, precision 0 for 8-bit entries and 1 for 16-bit ones.
    """
    dqt = _segment(0xDB, b"".join(
        bytes([precision << 4 | ident]) + table
        for ident, (precision, table) in enumerate(tables)
    ))
    sampling = 0x21 if kind == 0 else 0x22
    chroma_table = 1 if len(tables) > 1 else 0
    sof = _segment(0xC0, struct.pack("!BHHB", 8, height, width, 3) + bytes(
        [1, sampling, 0, 2, 0x11, chroma_table, 3, 0x11, chroma_table]))
    dri = _segment(0xDD, struct.pack("!H", restart_interval)) if restart_interval else b""
    return SOI + JFIF + dqt + sof + DHT + dri + SOS


class JpegDepacketizer(Depacketizer):
    """RFC 2435 payloads to complete baseline JPEG pictures."""

    def __init__(self, **kwargs: object) -> None:
        self._tables_by_q: dict[int, list[tuple[int, bytes]]] = {}
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _open_unit(self, timestamp: int) -> None:
        super()._open_unit(timestamp)
        self._header: bytes | None = None
        self._expected_offset = 0
        self._piece_offset = 0

    def _parse(self, payload: bytes) -> Piece:
        if len(payload) < MAIN_HEADER_SIZE:
            raise ValueError("shorter than the main JPEG header")
        offset = int.from_bytes(payload[1:4], "big")
        kind, q, width8, height8 = payload[4:8]
        if kind & 0x3F not in (0, 1) or kind >= 128:
            raise ValueError(f"JPEG type {kind} is not supported (0, 1, 64, 65)")
        if q == 0 or width8 == 0 or height8 == 0:
            raise ValueError("Q, width or height is 0")
        pos = MAIN_HEADER_SIZE
        restart_interval = 0
        if kind >= 64:
            (restart_interval,) = struct.unpack_from("!H", payload, pos)
            pos += RESTART_HEADER_SIZE
        tables: list[tuple[int, bytes]] | None = None
        if q >= 128 and offset == 0:
            _, precision, length = struct.unpack_from("!BBH", payload, pos)
            pos += QTABLE_HEADER_SIZE
            if length:
                tables = _read_tables(payload[pos : pos + length], precision, length)
                self._tables_by_q[q] = tables
                pos += length
            else:
                tables = self._tables_by_q.get(q)
                if tables is None:
                    raise ValueError(f"Q {q} without tables, and none were sent before")
        elif q < 128:
            computed = quantization_tables(q)
            tables = [(0, computed[:64]), (0, computed[64:])]
        data = payload[pos:]
        if not data:
            raise ValueError("a fragment with no scan data")
        self._piece_offset = offset
        if offset == 0 and tables is not None:
            self._header = jpeg_headers(kind & 1, width8 * 8, height8 * 8, tables,
                                        restart_interval)
        return Piece(data, starts_frame=offset == 0, keyframe=True)

    def _accept(self, piece: Piece) -> bool:
        if self._piece_offset != self._expected_offset:
            return False  # a fragment is missing (or repeated)
        self._expected_offset += len(piece.data)
        return True

    def _finish(self, *, whole: bool) -> list[Frame]:
        header = self._header
        frames = super()._finish(whole=whole)
        if not frames or header is None:
            return []
        frame = frames[0]
        end = b"" if frame.data.endswith(EOI) else EOI
        return [Frame(header + frame.data + end, frame.timestamp, True)]


def _read_tables(data: bytes, precision: int, length: int) -> list[tuple[int, bytes]]:
    if len(data) != length:
        raise ValueError("quantization tables cut short")
    tables: list[tuple[int, bytes]] = []
    pos = 0
    while pos < length and len(tables) < 4:
        wide = (precision >> len(tables)) & 1
        size = 128 if wide else 64
        if pos + size > length:
            raise ValueError("quantization table length does not add up")
        tables.append((wide, data[pos : pos + size]))
        pos += size
    if pos != length or not tables:
        raise ValueError("quantization table length does not add up")
    return tables[:2]
