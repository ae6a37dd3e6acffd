"""Linking the photos an agent uploaded for a draft to the case the draft became.

The phone sends a draft's photos before the case (server/agent/uploads.py): each is an upload of
the draft with no case. The agent sync (server/agent/sync.py) opens the case, then links the
draft's finished uploads here: one `attach` event each, through `do_apply` like any other, and
the upload marked with its case (so it leaves the quota and the clean-up, and the phone's next
declaration answers `linked`). A case sent again (a photo went up after it) links the rest. An
upload linked already, or removed since the query (withdrawn, or by the clean-up:
server/agent/upload_limits.py), is skipped by a conditional UPDATE: the phone declares the photo
again, sees it not `linked`, and sends the case once more.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.media import MEDIA_TYPES
from server.attachments.models import Attachment, AttachmentUpload
from server.attachments.store import is_complete
from server.auth.models import User
from server.cases.actions import do_apply
from server.cases.models import CaseEvent, CaseRecord
from server.crypto.fields import FieldCipher
from server.settings import Settings


async def do_link_uploads(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Settings,
    actor: User,
    case: CaseRecord,
    draft_id: str,
) -> list[CaseEvent]:
    """Link the agent's finished uploads of a draft to the case made from it: one `attach`
    event each (do_apply checks who may and commits); an upload linked already, or removed
    meanwhile (the phone declares it again and sends the case once more), is skipped."""
    query = select(AttachmentUpload).where(
        col(AttachmentUpload.user_id) == actor.uid,
        col(AttachmentUpload.draft_id) == draft_id,
        col(AttachmentUpload.case_id).is_(None),
    )
    events: list[CaseEvent] = []
    for upload in (await session.exec(query.order_by(col(AttachmentUpload.created_at)))).all():
        attachment = await session.get(Attachment, upload.sha256)
        if attachment is None or not await is_complete(session, upload.sha256):
            continue
        linked = await session.exec(
            update(AttachmentUpload)
            .where(col(AttachmentUpload.id) == upload.id, col(AttachmentUpload.case_id).is_(None))
            .values(case_id=case.id)
        )
        if linked.rowcount != 1:  # the clean-up or a withdrawal took it since the query above
            continue
        extension = MEDIA_TYPES[attachment.media_type][1]
        body = {
            "material": upload.material,
            "sha256": upload.sha256,
            "name": f"{upload.material}-照片{len(events) + 1}{extension}",
            "media_type": attachment.media_type,
            "size": attachment.size,
        }
        events.append(
            await do_apply(
                session=session,
                cipher=cipher,
                settings=settings,
                actor=actor,
                case=case,
                command="attach",
                body=body,
            )
        )
    return events
