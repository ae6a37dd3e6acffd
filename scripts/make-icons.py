#!/usr/bin/env python3
"""Draw the app's PNG icons (our own artwork: pwa/icons/icon.svg's window) without any library.

    python3 scripts/make-icons.py        writes pwa/icons/{icon,maskable}-{192,512}.png

The glyph is the SVG's: a red rounded square with a white window frame and a transom bar, on a
64-unit grid. "maskable" icons fill the whole square and keep the glyph inside the central
circle of 80 % that launchers may crop to (W3C manifest, icon masks). Edges are anti-aliased
by 4 x 4 supersampling. The output is deterministic, so re-running changes no bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "pwa" / "icons"
RED = (0xB4, 0x23, 0x18)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4


def in_rounded_square(x: float, y: float, radius: float) -> bool:
    if not (0 <= x <= 64 and 0 <= y <= 64):
        return False
    cx = min(max(x, radius), 64 - radius)
    cy = min(max(y, radius), 64 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def in_glyph(x: float, y: float) -> bool:
    """The window: a frame 4 units thick around (14,18)-(50,46) and a bar at y = 28."""
    outer = 12 <= x <= 52 and 16 <= y <= 48
    inner = 16 < x < 48 and 20 < y < 44
    bar = 14 <= x <= 50 and 26 <= y <= 30
    return (outer and not inner) or bar


def pixel(x: float, y: float, maskable: bool) -> tuple[int, int, int, int]:
    if maskable:  # full bleed; the glyph shrunk to 62 % around the centre
        gx, gy = 32 + (x - 32) / 0.62, 32 + (y - 32) / 0.62
        return (*(WHITE if in_glyph(gx, gy) else RED), 255)
    if not in_rounded_square(x, y, 12):
        return (0, 0, 0, 0)
    return (*(WHITE if in_glyph(x, y) else RED), 255)


def render(size: int, maskable: bool) -> bytes:
    rows = []
    step = 64 / size / SAMPLES
    for row in range(size):
        line = bytearray([0])  # filter type 0
        for col in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = col * 64 / size + (sx + 0.5) * step
                    y = row * 64 / size + (sy + 0.5) * step
                    r, g, b, a = pixel(x, y, maskable)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            alpha = acc[3] / SAMPLES**2
            colour = [round(c / acc[3]) if acc[3] else 0 for c in acc[:3]]
            line += bytes([*colour, round(alpha)])
        rows.append(bytes(line))
    return png(size, b"".join(rows))


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    for name, maskable in (("icon", False), ("maskable", True)):
        for size in (192, 512):
            path = ICONS / f"{name}-{size}.png"
            path.write_bytes(render(size, maskable))
            print(f"{path.relative_to(ICONS.parents[1])}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
