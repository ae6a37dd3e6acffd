"""Key rotation on the wire: the county's key directory in the feed, a township's announcement.

A node rolls its keys with `yichuang keys rotate` (server/nodes/keys.py): a new generation
becomes current and signs; the older ones stay, so envelopes sealed to them still open. What
each side does so that sync goes on without re-enrolment:

- **County rotates.** A township still seals to the county key it pinned. The county answers
  each request signed by the generation the request was sealed to (`answer_signer`), which
  the township trusts, and every feed carries the directory: the county's current public
  keys (`directory_for`), nothing about other townships. The township records a new key
  there as the county's (`apply_directory`: the earlier one is retired, not revoked), seals
  to it from then on, and accepts the county's signatures by the retired one for the grace
  period (`parent_verify_keys`), so answers already under way still open.
- **Township rotates.** Its first request signed by the new key is refused `unknown_sender`.
  The township then sends an announcement (`announcement_payload`): an empty push signed by
  its previous generation, carrying the new public keys and a proof that it holds the new
  private key (the new key's signature over the label, its region and both key ids). The
  county checks it (`accept_announcement`): signed by the key in force for that township
  (not a retired one: a leaked old key must not be able to name a successor), the proof
  verifies, and then `do_record_peer_key` retires the old key (it still verifies for
  RETIRED_KEY_GRACE) and makes the new one the key to seal to. Anything else is refused
  with reason `announce_refused` and logged; an announcement signed by a key the county
  never pinned is `unknown_sender`, like any other envelope.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import utcnow
from server.nodes.keys import Keyring
from server.nodes.models import RETIRED_KEY_GRACE, NodePeer, PeerKey
from server.nodes.peers import PeerKeyRefused, do_record_peer_key
from server.nodes.queries import public_keys_of
from server.relay.wire import encode
from sync.envelope import seal
from sync.keys import NodeKeys, PublicKeys

log = logging.getLogger("yichuang.sync")
ANNOUNCE_LABEL = b"yc-announce-v1"
# The key ids a request being served was sealed to: its answer is signed by that generation.
_SEALED_TO: ContextVar[tuple[bytes, ...]] = ContextVar("sealed_to", default=())


class AnnouncementRefused(Exception):
    """An announcement that is not recorded; the message says why (for the log)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def proof_message(region: str, old_key_id: bytes, new_key_id: bytes) -> bytes:
    return ANNOUNCE_LABEL + region.encode("ascii") + b"\x00" + old_key_id + new_key_id


# --- the township's side ------------------------------------------------------------------


def announcement(current: NodeKeys, region: str, signer: NodeKeys) -> dict[str, Any]:
    """The `announce` field: the current public keys and the proof that we hold them."""
    proof = current.sign(proof_message(region, signer.key_id, current.key_id))
    return {"keys": current.public().to_json(), "proof": _b64(proof)}


def older_generations(keyring: Keyring) -> list[NodeKeys]:
    """The generations that may sign an announcement, newest first (never the current)."""
    return [keys for keys in keyring.all if keys.key_id != keyring.current.key_id]


def announcement_payload(
    keyring: Keyring, region: str, signer: NodeKeys, sent_at: str
) -> dict[str, Any]:
    """An empty push carrying the announcement, to be sealed by `signer` (an older one)."""
    return {
        "type": "up",
        "from": region,
        "events": [],
        "upto": 0,
        "sent_at": sent_at,
        "announce": announcement(keyring.current, region, signer),
    }


async def apply_directory(session: AsyncSession, parent: str, directory: object) -> bool:
    """Record the parent's current keys from its feed; True when they were new. Commits.

    The feed's envelope was signed by a key this node pins for the parent, so the directory
    is the parent's own word (as an announcement is the child's).
    """
    if not isinstance(directory, Mapping) or not isinstance(directory.get("keys"), list):
        return False
    entries = directory["keys"]
    if not entries:
        return False
    try:
        keys = PublicKeys.from_json(entries[0])
    except ValueError as problem:
        log.warning("sync directory from %s: unreadable keys (%s), ignored", parent, problem)
        return False
    known = await session.get(PeerKey, keys.key_id.hex())
    if known is not None:
        return False
    try:
        await do_record_peer_key(session, parent, keys)
    except PeerKeyRefused as refused:
        log.warning("sync directory from %s refused: %s", parent, refused.message)
        return False
    log.info("sync directory: %s rolled its keys, now %s", parent, keys.key_id.hex())
    return True


async def parent_verify_keys(session: AsyncSession, parent: str) -> list[PublicKeys]:
    """The parent's keys whose signatures count: active ones, and retired ones in grace."""
    peer = await session.get(NodePeer, parent)
    if peer is None or peer.revoked_at is not None:
        return []
    since = utcnow() - RETIRED_KEY_GRACE
    query = select(PeerKey).where(
        PeerKey.region_code == parent,
        col(PeerKey.revoked_at).is_(None),
        (col(PeerKey.retired_at).is_(None)) | (col(PeerKey.retired_at) > since),
    )
    found = []
    for row in (await session.exec(query)).all():
        try:
            found.append(public_keys_of(row))
        except ValueError:
            log.error("peer_key %s of %s does not match its keys: refused", row.key_id, parent)
    return found


# --- the county's side --------------------------------------------------------------------


def directory_for(keyring: Keyring) -> dict[str, Any]:
    """What a child's feed carries of the key directory: the county's current keys."""
    return {"keys": [keyring.current.public().to_json()]}


def note_sealed_to(recipients: tuple[bytes, ...]) -> None:
    """Remember, for this request's answer, which of our keys the request was sealed to."""
    _SEALED_TO.set(recipients)


def answer_signer(keyring: Keyring) -> NodeKeys:
    """The generation to sign an answer with: the one the request being served was sealed
    to (the one the child pins), else the current one."""
    recipients = _SEALED_TO.get()
    for keys in keyring.all:
        if keys.key_id in recipients:
            return keys
    return keyring.current


async def take_announcement(
    session: AsyncSession, peer: NodePeer, signer: PublicKeys, payload: Mapping[str, Any]
) -> None:
    """A push's `announce` field, if any: recorded, or the request refused (and logged)."""
    if "announce" not in payload:
        return
    from server.relay.service import SyncRefused  # the service imports this module

    try:
        await accept_announcement(session, peer, signer, payload["announce"])
    except AnnouncementRefused as refused:
        raise SyncRefused("announce_refused", f"{peer.region_code}: {refused}") from None


async def accept_announcement(
    session: AsyncSession, peer: NodePeer, signer: PublicKeys, announce: object
) -> PublicKeys:
    """Check and record a child's announcement (commits); AnnouncementRefused says why."""
    region = peer.region_code
    if not isinstance(announce, Mapping):
        raise AnnouncementRefused("announce must be an object with keys and proof")
    row = await session.get(PeerKey, signer.key_id.hex())
    if row is None or row.retired_at is not None or row.revoked_at is not None:
        raise AnnouncementRefused(
            f"signed by {signer.key_id.hex()}, which is not the key in force for {region}"
        )
    try:
        keys = PublicKeys.from_json(announce.get("keys"))
        proof = _unb64(announce.get("proof"))
    except ValueError as problem:
        raise AnnouncementRefused(f"unreadable announcement: {problem}") from None
    if keys.key_id == signer.key_id:
        return keys  # nothing new: the key in force announces itself
    if not keys.verify(proof, proof_message(region, signer.key_id, keys.key_id)):
        raise AnnouncementRefused("the proof is not the new key's signature")
    try:
        await do_record_peer_key(session, region, keys)
    except PeerKeyRefused as refused:
        raise AnnouncementRefused(refused.message) from None
    log.info(
        "sync keys: %s announced %s, signed by %s",
        *(region, keys.key_id.hex(), signer.key_id.hex()),
    )
    return keys


# --- the township's client: announcing ------------------------------------------------------


def refusal_reason(response: httpx.Response) -> str:
    """The `reason` of a parent's JSON refusal ("" when there is none)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason", "")) if isinstance(body, dict) else ""


async def announce_keys(
    http: httpx.AsyncClient,
    url: str,
    keyring: Keyring,
    region: str,
    parent_keys: list[PublicKeys],
) -> bool:
    """After the parent refused our current key: announce it, signed by each older generation
    in turn (newest first) until the parent records it. True once one was accepted."""
    if not parent_keys:
        return False
    for signer in older_generations(keyring):
        payload = announcement_payload(
            keyring, region, signer, utcnow().isoformat(timespec="milliseconds")
        )
        sealed = seal(encode(payload), sender=signer, recipients=parent_keys[:1])
        try:
            response = await http.post(
                url.rstrip("/") + "/api/sync/up",
                content=sealed,
                headers={"Content-Type": "application/octet-stream"},
            )
        except httpx.HTTPError as problem:
            log.warning("sync keys: announcing to %s failed: %s", url, problem)
            return False
        if response.status_code == 200:
            log.info(
                "sync keys: announced %s to the parent, signed by %s",
                *(keyring.current.key_id.hex(), signer.key_id.hex()),
            )
            return True
        log.warning(
            "sync keys: the parent refused the announcement signed by %s: %s",
            *(signer.key_id.hex(), refusal_reason(response) or response.status_code),
        )
    return False
