"""Tiny real scans for the tests, made here: a JPEG, a PNG and a PDF, each carrying a text the
test chooses (a JPEG comment, a PNG tEXt chunk, a line on the PDF page), so a test can look for
that text where it must not be (the raw database file).
"""

from __future__ import annotations

import struct
import zlib


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def tiny_jpeg(comment: bytes = b"scan") -> bytes:
    """An 8x8 mid-grey baseline JPEG (ITU T.81): one component, every coefficient 0, so the
    one block is coded with two one-bit Huffman codes (DC category 0, then end of block)."""
    one_symbol = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1 for symbol 0
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xFFFE, comment),
            _segment(0xFFDB, b"\x00" + b"\x01" * 64),
            _segment(0xFFC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            _segment(0xFFC4, b"\x00" + one_symbol),
            _segment(0xFFC4, b"\x10" + one_symbol),
            _segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00"),
            b"\x3f",  # "0" DC, "0" EOB, padded with ones
            b"\xff\xd9",
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png(text: bytes = b"scan", width: int = 4, height: int = 4) -> bytes:
    """A small grey PNG (ISO/IEC 15948) with `text` in a tEXt chunk."""
    rows = b"".join(b"\x00" + bytes([0x80]) * width for _ in range(height))
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
            _chunk(b"tEXt", b"Comment\x00" + text),
            _chunk(b"IDAT", zlib.compress(rows)),
            _chunk(b"IEND", b""),
        ]
    )


def tiny_pdf(text: str = "scan") -> bytes:
    """A one-page PDF (ISO 32000-1) with `text` (ASCII) written on the page."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 120]"
        b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
