"""A township's new keys in a bundle: the announcement HTTP sends after `unknown_sender`.

Over HTTP a township that rolled its keys learns from the county's refusal that its new key is
unknown and announces it (relay/directory.py). A stick brings no refusal back, so every up
bundle of a township that holds older generations carries the announcement once per older
generation, newest first (`announce` frames, each an empty push sealed by that generation, as
`announce_keys` posts them). The county looks at them only when the bundle's own key is
unknown: it applies them with `apply_up` (the same check, `take_announcement`) until one is
recorded, then looks the bundle's key up again. A bundle whose key the county knows has its
announce frames skipped, so they never meet the "retired key" refusal.
"""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from server.crypto.fields import FieldCipher
from server.db import Database
from server.nodes.keys import Keyring
from server.nodes.models import NodePeer
from server.nodes.queries import sender_keys
from server.relay.directory import announcement_payload, older_generations
from server.relay.service import SyncRefused, apply_up
from server.relay.wire import encode
from sync.bundle import Bundle
from sync.envelope import seal
from sync.keys import PublicKeys

log = logging.getLogger("yichuang.sync")
MAX_ANNOUNCED = 3  # older generations announced by a bundle (the newest ones)


def announce_frames(keyring: Keyring, me: str, parent: list[PublicKeys]) -> list[tuple[str, bytes]]:
    """The announce frames of an up bundle (none before the first rotation)."""
    frames = []
    for signer in older_generations(keyring)[:MAX_ANNOUNCED]:
        payload = announcement_payload(keyring, me, signer, "")
        del payload["sent_at"]  # carried for days: not a reading of our clock
        frames.append(("announce", seal(encode(payload), sender=signer, recipients=parent[:1])))
    return frames


async def known_sender(session: AsyncSession, key_id: bytes) -> tuple[NodePeer, PublicKeys] | None:
    """The enrolled, unrevoked child that signed with `key_id`, if any."""
    found = await sender_keys(session, key_id)
    return found if found is not None and found[0].relation == "child" else None


async def take_announced_key(
    db: Database, cipher: FieldCipher, keyring: Keyring, bundle: Bundle
) -> tuple[NodePeer, PublicKeys] | None:
    """On the county, for a bundle signed by a key it does not know: apply the bundle's
    announcements until one is recorded; then the bundle's signer, if that made it known."""
    for frame_type, envelope in bundle.frames:
        if frame_type != "announce":
            continue
        async with db.session() as session:
            try:
                await apply_up(session, cipher, keyring, envelope)
            except SyncRefused as refused:
                log.warning("bundle announcement refused: %s", refused)
                continue  # try the next older generation, as `announce_keys` does
            if (found := await known_sender(session, bundle.sender_key)) is not None:
                return found
    return None
