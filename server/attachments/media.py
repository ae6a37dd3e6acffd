"""What a scan may be: JPEG, PNG or PDF, told by the file's first bytes, never by its name;
at most `MAX_BYTES`.

Browsers send whatever type the file name suggests, so the type a scan is stored and served
with comes from its magic number alone (JPEG: FF D8 FF, ISO/IEC 10918-1 SOI and a marker; PNG:
the 8-byte signature of ISO/IEC 15948; PDF: "%PDF-", ISO 32000-1 §7.5.2, required at offset 0
here although readers tolerate junk before it).
"""

from __future__ import annotations

MAX_BYTES = 10 * 1024 * 1024
MAX_MB = MAX_BYTES // 1024 // 1024
OTHER_MATERIAL = "其他"  # a scan that is none of the item's listed materials

# media type -> (name shown to people, file extension)
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "image/jpeg": ("JPEG 图片", ".jpg"),
    "image/png": ("PNG 图片", ".png"),
    "application/pdf": ("PDF 文件", ".pdf"),
}
MEDIA_NAMES: dict[str, str] = {media: name for media, (name, _ext) in MEDIA_TYPES.items()}
ACCEPT = ",".join(MEDIA_TYPES)  # for <input type=file accept=…>

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff_media_type(head: bytes) -> str | None:
    """The media type the bytes begin with, or None if they are none of the accepted kinds."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def size_kb(size: int) -> int:
    """A file size in KB as the case page shows it (at least 1 for a non-empty file)."""
    return max(1, round(size / 1024)) if size else 0
