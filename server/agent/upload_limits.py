"""How much of the township's disk village agents' unsent photos may take.

A photo goes up before its case (server/agent/uploads.py): the phone declares and fills an
upload for its draft, and the outbox flush links it to the case made from the draft. Until then
the upload belongs to no case, and the draft may never come (abandoned, the phone's data
cleared, the phone lost or stolen but still enrolled). Two bounds keep that from filling the disk:

- A quota per agent: the declared sizes of the agent's uploads that no case has linked add up
  to at most `UNSENT_QUOTA_BYTES`. A case has a handful of photos of about 300 KB; 30 cases of
  an agent offline for days are some 50 MB, so 200 MB leaves room. A declaration beyond it is
  a 422 under `size`; re-declaring an upload that exists is not a new one and is never refused.
  An agent's declarations take turns (`lock_agent`), so two at the same instant cannot both
  pass. A withdrawn upload is deleted and its file goes with it, as below: it takes neither
  quota nor disk, so declaring, sending and withdrawing in a loop fills nothing.
- A retention: an unlinked upload untouched for `STALE_AFTER` (`touched_at`: declared, declared
  again, or a chunk stored) is removed by `do_remove_stale_uploads`, run by the served app's job
  loop (server/notify/jobs.py).

Both the clean-up and a withdrawal go through `remove_uploads`, which drops a file only when
nothing else needs it. Files are content-addressed and may be shared: any other upload (of any
agent, linked or not), a case's `attach` event (a scan at the window, a photo linked from
another draft, a file from another node) or an event held until its file is here
(server/relay/holds.py) keeps the file. The files' rows are locked before the uploads are
deleted, in the order a declaration and a chunk take them (file, then upload), and those checks
run after: a declaration, a chunk or a scan of the same file at that moment waits, then finds
it either kept or gone (a 404 that makes the phone declare it anew). That is PostgreSQL; on
SQLite the checks run after the transaction's first write, which holds its one write lock.

A draft sent after its uploads were removed still brings its photos: before it sends a case, and
after the worker sent one, the phone declares every photo of it again, marked sent or not (which
restarts their 30 days), and sends again what the answer lacks; a photo the answer says no case
has `linked` makes the phone send the case once more, which links it (pwa/js/upload.js,
pwa/js/outbox.js).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import ColumnElement, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.access import files_in_cases
from server.attachments.models import Attachment, AttachmentUpload
from server.attachments.store import drop_attachments, lock_attachments
from server.auth.models import User
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.relay.holds import held_files

log = logging.getLogger("yichuang.agent")
UNSENT_QUOTA_BYTES = 200 * 1024 * 1024
UNSENT_QUOTA_MB = UNSENT_QUOTA_BYTES // 1024 // 1024
STALE_AFTER = dt.timedelta(days=30)


async def unsent_bytes(session: AsyncSession, agent: User) -> int:
    """The declared bytes of the agent's uploads that no case has linked yet."""
    query = (
        select(func.coalesce(func.sum(Attachment.size), 0))
        .select_from(AttachmentUpload)
        .join(Attachment, col(Attachment.sha256) == col(AttachmentUpload.sha256))
        .where(col(AttachmentUpload.user_id) == agent.uid, col(AttachmentUpload.case_id).is_(None))
    )
    return int((await session.exec(query)).one())


async def quota_problem(session: AsyncSession, agent: User, size: int) -> str | None:
    """Why a new upload of `size` bytes would break the agent's quota (Chinese), or None."""
    held = await unsent_bytes(session, agent)
    if held + size <= UNSENT_QUOTA_BYTES:
        return None
    return (
        f"您从手机上传到乡镇、但办件还没发送的照片太多了（已有 {held / 1024 / 1024:.0f} MB，"
        f"上限 {UNSENT_QUOTA_MB} MB）。请先把填好的办件发送到乡镇，或在办件里删除不再需要的"
        "照片，再上传这张照片"
    )


async def lock_agent(session: AsyncSession, agent: User) -> None:
    """Make the agent's declarations wait for each other until this transaction ends, so that
    each counts the others' uploads against the quota. PostgreSQL locks the user row; SQLite
    takes its one write lock only at a write (a SELECT … FOR UPDATE means nothing there), so it
    gets a write that changes nothing."""
    row = col(User.id) == agent.uid
    if session.get_bind().dialect.name == "sqlite":
        same = update(User).where(row).values(session_epoch=User.session_epoch)
        await session.exec(same.execution_options(synchronize_session=False))
    else:
        # FOR NO KEY UPDATE: rows that merely refer to the user (audit, uploads) need not wait.
        await session.exec(select(User.id).where(row).with_for_update(key_share=True))


async def remove_uploads(
    session: AsyncSession, cipher: FieldCipher, *where: ColumnElement[bool]
) -> tuple[int, set[str]]:
    """Delete the uploads `where` picks, and the files that nothing else needs now; does not
    commit. How many uploads went, and which files with them.

    The files' rows are locked first and the uploads deleted after, as a chunk's PUT takes them
    (the file, then the upload), so the two wait for each other instead of deadlocking; the
    delete repeats `where`, so an upload linked or touched meanwhile is kept. Only then is it
    checked what else names the files: another upload, a case's `attach` event, a held event.
    """
    files = set((await session.exec(select(AttachmentUpload.sha256).where(*where))).all())
    if not files:
        return 0, set()
    unneeded = set(await lock_attachments(session, files))
    of_these = col(AttachmentUpload.sha256).in_(sorted(files))
    removed = (await session.exec(delete(AttachmentUpload).where(*where, of_these))).rowcount
    named = select(AttachmentUpload.sha256).where(col(AttachmentUpload.sha256).in_(unneeded))
    unneeded -= set((await session.exec(named)).all())
    if unneeded:
        unneeded -= await files_in_cases(session, cipher, unneeded)
    if unneeded:
        unneeded -= await held_files(session, cipher)
    await drop_attachments(session, unneeded)
    return removed, unneeded


async def do_remove_stale_uploads(
    session: AsyncSession, cipher: FieldCipher, *, now: dt.datetime | None = None
) -> int:
    """Remove the uploads no case linked within `STALE_AFTER` of their last step, and the files
    nothing else needs; commits. How many uploads went."""
    cutoff = (now or utcnow()) - STALE_AFTER
    removed, files = await remove_uploads(
        session,
        cipher,
        col(AttachmentUpload.case_id).is_(None),
        col(AttachmentUpload.touched_at) < cutoff,
    )
    await session.commit()
    if removed:
        log.info(
            "removed %d agent uploads no case took within %d days (%d files with them)",
            removed,
            STALE_AFTER.days,
            len(files),
        )
    return removed
