"""The county's side of enrolment: one-time codes, a township's enrolment, revocation.

A county admin (or the CLI) creates a code for one township; the township's server presents it
once, with its public keys, within 24 hours (`POST /api/nodes/enrol`). The code is the only
credential, so a refusal never says whether a code exists: an unknown code and a mistyped one
get the same answer, and the API counts every refusal against the township and the address.
"""

from __future__ import annotations

import datetime as dt
import hmac

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import User
from server.db import utcnow
from server.forms import ValidationFailed
from server.nodes.codes import claim_code, code_hash, new_code, normalise_code
from server.nodes.models import EnrolmentCode, NodePeer, PeerKey
from server.nodes.peers import do_add_peer_key
from server.org.actions import do_ensure_org_unit
from server.org.codes import RegionCodeError, normalise, validate
from server.settings import Settings
from sync.keys import PublicKeys

CODE_LIFETIME = dt.timedelta(hours=24)
NAME_MAX = 100

REFUSALS = {
    # One message for "no such code" and "mistyped code": codes cannot be probed.
    "bad_code": "接入码不对或已作废：请核对县级给出的接入码（16 位，每 4 位一组）",
    "expired": "接入码已过期（有效期 24 小时）：请县级管理员重新生成一个",
    "used": "接入码已经用过了：每个接入码只能用一次，请县级管理员重新生成一个",
    "wrong_region": "这个接入码不是发给本乡镇的：请核对本中心的区划代码，或请县级重新生成",
    "foreign_key": (
        "这组密钥已登记在另一个乡镇名下：请先运行 yichuang keys rotate 生成新密钥，再接入"
    ),
    "revoked_key": (
        "本中心现在的密钥已被县级吊销：请先运行 yichuang keys rotate 生成新密钥，再用新接入码接入"
    ),
}


class EnrolmentRefused(Exception):
    """The code (or the keys presented with it) will not do; `message` is for the township."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = REFUSALS[reason]


def township_fields(settings: Settings, region_code: str, name: str) -> tuple[str, str]:
    """A township under this county and its name, or ValidationFailed by field."""
    errors: dict[str, str] = {}
    code = normalise(region_code)
    if not code:
        errors["region_code"] = "请填写乡镇的 12 位区划代码"
    else:
        try:
            code = validate(code, "township", settings.region_code)
        except RegionCodeError as exc:
            errors["region_code"] = str(exc)
    name = name.strip()
    if not name:
        errors["name"] = "请填写乡镇便民服务中心的名称"
    elif len(name) > NAME_MAX:
        errors["name"] = f"名称不能超过 {NAME_MAX} 个字"
    if errors:
        raise ValidationFailed(errors)
    return code, name


async def do_create_enrolment_code(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: User | None,
    region_code: str,
    name: str,
    ip: str = "",
) -> tuple[EnrolmentCode, str]:
    """A new code for one township (the row and the code in clear, shown once); commits.

    An earlier unused code for the same township stops working: only the newest is valid.
    """
    region_code, name = township_fields(settings, region_code, name)
    now = utcnow()
    await session.exec(
        update(EnrolmentCode)
        .where(
            col(EnrolmentCode.region_code) == region_code,
            col(EnrolmentCode.used_at).is_(None),
            col(EnrolmentCode.expires_at) > now,
        )
        .values(expires_at=now)
    )
    code = new_code()
    row = EnrolmentCode(
        code_hash=code_hash(code),
        region_code=region_code,
        name=name,
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="node.enrol_code",
        target=region_code,
        ip=ip,
        name=name,
    )
    await session.commit()
    return row, code


async def open_codes(session: AsyncSession) -> list[EnrolmentCode]:
    """Codes not used and not expired, soonest to expire first (never the codes themselves)."""
    query = (
        select(EnrolmentCode)
        .where(col(EnrolmentCode.used_at).is_(None), col(EnrolmentCode.expires_at) > utcnow())
        .order_by(col(EnrolmentCode.expires_at))
    )
    return list((await session.exec(query)).all())


async def _check_code(session: AsyncSession, code: str, region_code: str) -> EnrolmentCode:
    normalised = normalise_code(code)
    wanted = code_hash(normalised) if normalised else "0" * 64
    row = await session.get(EnrolmentCode, wanted)
    # The lookup is by a hash of the code, so its timing says nothing about the code; the
    # comparison is constant-time all the same, and a missing row is compared too.
    found = row.code_hash if row is not None else "f" * 64
    if not hmac.compare_digest(found, wanted) or row is None or not normalised:
        raise EnrolmentRefused("bad_code")
    if row.used_at is not None:
        raise EnrolmentRefused("used")
    if row.expires_at <= utcnow():
        raise EnrolmentRefused("expired")
    if row.region_code != region_code:
        raise EnrolmentRefused("wrong_region")
    return row


async def do_enrol_child(
    *,
    session: AsyncSession,
    settings: Settings,
    code: str,
    region_code: str,
    name: str,
    keys: PublicKeys,
    ip: str = "",
) -> NodePeer:
    """Enrol a township with a valid code: pin its keys, mark the code used; commits.

    A re-enrolment (a fresh code for a township already enrolled, or revoked) replaces its
    pinned keys: every other key of that township is revoked. A key once revoked is never
    accepted again, so a revoked township must roll its keys before it comes back.
    """
    region_code, reported_name = township_fields(settings, region_code, name)
    row = await _check_code(session, code, region_code)
    known = await session.get(PeerKey, keys.key_id.hex())
    if known is not None and known.region_code != region_code:
        raise EnrolmentRefused("foreign_key")
    if known is not None and known.revoked_at is not None:
        raise EnrolmentRefused("revoked_key")
    now = utcnow()
    # Mark the code used first, conditionally: of two simultaneous enrolments one wins.
    if not await claim_code(session=session, model=EnrolmentCode, hashed=row.code_hash, now=now):
        raise EnrolmentRefused("used")
    await do_ensure_org_unit(
        session=session,
        code=region_code,
        name=row.name,
        level="township",
        parent_code=settings.region_code,
    )
    peer = await session.get(NodePeer, region_code)
    if peer is None:
        peer = NodePeer(region_code=region_code, name=row.name, relation="child")
    peer.name, peer.relation, peer.url = row.name, "child", ""
    peer.enrolled_at, peer.revoked_at = now, None
    session.add(peer)
    await session.flush()
    await do_add_peer_key(session=session, region_code=region_code, keys=keys, replace="revoke")
    do_record_audit(
        session=session,
        actor_id=None,
        action="node.enrol",
        target=region_code,
        ip=ip,
        name=row.name,
        reported_name=reported_name,
        key_id=keys.key_id.hex(),
    )
    await session.commit()
    return peer


async def do_revoke_peer(
    *, session: AsyncSession, actor: User | None, region_code: str, ip: str = ""
) -> NodePeer | None:
    """Revoke a peer and every key it has: its envelopes are refused from now on; commits."""
    peer = await session.get(NodePeer, region_code)
    if peer is None:
        return None
    now = utcnow()
    peer.revoked_at = peer.revoked_at or now
    session.add(peer)
    await session.exec(
        update(PeerKey)
        .where(col(PeerKey.region_code) == region_code, col(PeerKey.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="node.revoke",
        target=region_code,
        ip=ip,
        name=peer.name,
    )
    await session.commit()
    return peer
