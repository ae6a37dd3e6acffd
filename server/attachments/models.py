"""Attachments (扫描件): content-addressed files, stored encrypted in fixed-size chunks.

`attachment` names a file by the SHA-256 of its plain bytes and says how it is cut: size,
media type (sniffed from the bytes), chunk size and count. `attachment_chunk` holds each
chunk sealed with the node's data key (AES-256-GCM, `FieldCipher.seal_bytes`), the file's
SHA-256 and the chunk's index bound as associated data. A file is complete when every chunk
is there; chunks may arrive one at a time and in any order (DESIGN.md §5), so an
attachment row may exist before its chunks do. Nothing here says which case a file belongs
to: a case's `attach` event does (server/attachments/access.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    sha256: str = Field(primary_key=True, max_length=64)  # lower-case hex of the plain bytes
    size: int  # plain bytes
    media_type: str = Field(max_length=64)
    chunk_size: int
    chunk_count: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AttachmentChunk(SQLModel, table=True):
    __tablename__ = "attachment_chunk"

    sha256: str = Field(primary_key=True, foreign_key="attachment.sha256", max_length=64)
    idx: int = Field(primary_key=True)  # from 0
    sealed: bytes = Field(sa_type=LargeBinary)  # nonce + AES-256-GCM ciphertext and tag


class AttachmentUpload(SQLModel, table=True):
    """A file a village agent declared from the phone, for one material of one draft (the
    phone's id for a case not sent yet), and how far it got (server/agent/uploads.py)."""

    __tablename__ = "attachment_upload"
    __table_args__ = (
        UniqueConstraint("user_id", "draft_id", "material", "sha256"),
        # The uploads no case has linked (few: the quota bounds them), by agent and last step:
        # an agent's quota, and the clean-up's search for old ones (server/agent/upload_limits.py).
        Index(
            "ix_attachment_upload_unlinked",
            "user_id",
            "touched_at",
            sqlite_where=text("case_id IS NULL"),
            postgresql_where=text("case_id IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)  # random hex, named in the upload's URLs
    user_id: int = Field(foreign_key="user_account.id", index=True)
    draft_id: str = Field(max_length=64)
    material: str = Field(max_length=200)
    # Indexed: whether any upload still names a file, and the foreign key's check on its drop.
    sha256: str = Field(foreign_key="attachment.sha256", max_length=64, index=True)
    case_id: str | None = Field(default=None, max_length=36)  # once the case is linked
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The last step (declared, declared again, a chunk stored): the clean-up's 30 days run from it.
    touched_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
