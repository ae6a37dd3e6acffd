"""Enrolling a village agent's phone: one-time codes, registration of its keys, revocation.

A township clerk (window staff or admin) makes a code for one named agent of the centre; the
phone, signed in as that agent, presents the code once, within CODE_LIFETIME, with the public
halves of the keys it made in WebCrypto, and receives the township's public keys. The code is
80 random bits (server/nodes/codes.py: Crockford base32, 4 groups of 4) and only its SHA-256 is
stored. A refusal never says whether a code exists.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.agent.models import AgentDevice, AgentDeviceCode
from server.audit.actions import do_record_audit
from server.auth.access import Forbidden, NotFound
from server.auth.models import Role, User
from server.cases.actions import centre_of
from server.db import utcnow
from server.forms import ValidationFailed
from server.nodes.codes import claim_code, code_hash, new_code, normalise_code
from sync.keys import PublicKeys

CODE_LIFETIME = dt.timedelta(hours=1)
DEVICE_STAFF = frozenset({Role.CLERK, Role.WINDOW_LEAD, Role.ADMIN})
NAME_MAX = 60

REFUSALS = {
    "bad_code": "登记码不对或已作废：请核对乡镇工作人员给出的登记码（16 位，每 4 位一组）",
    "expired": "登记码已过期（有效期 1 小时）：请乡镇工作人员重新生成一个",
    "used": "登记码已经用过了：每个登记码只能用一次，请乡镇工作人员重新生成一个",
    "other_user": "这个登记码不是发给您的账号的：请用登记码上写的村代办员账号登录后再登记",
    "known_key": "这组密钥已经登记过：请在本机“设备登记”页重新生成密钥再登记",
}


class DeviceRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = REFUSALS[reason]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_keys_of(device: AgentDevice) -> PublicKeys:
    """The stored keys, their id recomputed (a tampered row cannot pass)."""
    keys = PublicKeys(signing=_unb64(device.signing), receiving=_unb64(device.receiving))
    if keys.key_id.hex() != device.key_id:
        raise ValueError(f"agent_device {device.key_id}: the stored keys do not match their id")
    return keys


def may_manage(actor: User, agent: User) -> bool:
    """Window staff and admins of the agent's township centre manage the agent's devices."""
    return actor.role in DEVICE_STAFF and centre_of(actor) == centre_of(agent)


async def agent_of_centre(session: AsyncSession, actor: User, agent_id: int) -> User:
    """A village agent this clerk may make codes for, or NotFound."""
    agent = await session.get(User, agent_id)
    if agent is None or agent.role != Role.VILLAGE_AGENT or not may_manage(actor, agent):
        raise NotFound("本中心没有这个村代办员")
    return agent


async def centre_agents(session: AsyncSession, actor: User) -> list[User]:
    """The active village agents of the actor's centre, by name."""
    query = select(User).where(User.role == Role.VILLAGE_AGENT, col(User.active).is_(True))
    agents = (await session.exec(query.order_by(col(User.display_name)))).all()
    return [agent for agent in agents if centre_of(agent) == centre_of(actor)]


async def do_create_device_code(
    *, session: AsyncSession, actor: User, agent_id: int, ip: str = ""
) -> tuple[AgentDeviceCode, User, str]:
    """A fresh code for one agent (the row, the agent and the code in clear, shown once);
    earlier unused codes of that agent stop working. Commits."""
    if actor.role not in DEVICE_STAFF:
        raise Forbidden("只有乡镇窗口工作人员和管理员可以登记村代办员的手机")
    try:
        agent = await agent_of_centre(session, actor, agent_id)
    except NotFound:
        raise ValidationFailed({"agent_id": "请从列表中选择本中心的一位村代办员"}) from None
    now = utcnow()
    await session.exec(
        update(AgentDeviceCode)
        .where(
            col(AgentDeviceCode.user_id) == agent.id,
            col(AgentDeviceCode.used_at).is_(None),
            col(AgentDeviceCode.expires_at) > now,
        )
        .values(expires_at=now)
    )
    code = new_code()
    row = AgentDeviceCode(
        code_hash=code_hash(code),
        user_id=agent.id or 0,
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    do_record_audit(
        session=session, actor_id=actor.id, action="device.code", target=str(agent.id), ip=ip
    )
    await session.commit()
    return row, agent, code


async def _check_code(session: AsyncSession, code: str, user: User) -> AgentDeviceCode:
    normalised = normalise_code(code)
    wanted = code_hash(normalised) if normalised else "0" * 64
    row = await session.get(AgentDeviceCode, wanted)
    found = row.code_hash if row is not None else "f" * 64
    if not hmac.compare_digest(found, wanted) or row is None or not normalised:
        raise DeviceRefused("bad_code")
    if row.used_at is not None:
        raise DeviceRefused("used")
    if row.expires_at <= utcnow():
        raise DeviceRefused("expired")
    if row.user_id != user.id:
        raise DeviceRefused("other_user")
    return row


def device_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise ValidationFailed({"name": "请给这部手机起个名字，例如“张三的红米手机”"})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": f"手机名称不能超过 {NAME_MAX} 个字"})
    return name


async def do_enrol_device(
    *, session: AsyncSession, user: User, code: str, name: str, keys: PublicKeys, ip: str = ""
) -> AgentDevice:
    """Register a phone's public keys for the signed-in agent with a valid code; commits."""
    if user.role != Role.VILLAGE_AGENT:
        raise Forbidden("只有村代办员的账号可以登记手机")
    name = device_name(name)
    row = await _check_code(session, code, user)
    if await session.get(AgentDevice, keys.key_id.hex()) is not None:
        raise DeviceRefused("known_key")
    now = utcnow()
    if not await claim_code(session=session, model=AgentDeviceCode, hashed=row.code_hash, now=now):
        raise DeviceRefused("used")
    device = AgentDevice(
        key_id=keys.key_id.hex(),
        user_id=user.id or 0,
        name=name,
        signing=_b64(keys.signing),
        receiving=_b64(keys.receiving),
        enrolled_by_id=row.created_by_id,
        enrolled_at=now,
    )
    session.add(device)
    do_record_audit(
        session=session, actor_id=user.id, action="device.enrol", target=device.key_id, ip=ip
    )
    await session.commit()
    return device


async def do_revoke_device(
    *, session: AsyncSession, actor: User, key_id: str, ip: str = ""
) -> AgentDevice:
    """Revoke a device (its owner, or staff of its centre): its envelopes are refused from now
    on. Commits; NotFound for a device the actor may not see."""
    device = await session.get(AgentDevice, key_id)
    owner = await session.get(User, device.user_id) if device is not None else None
    if device is None or owner is None or not (owner.id == actor.id or may_manage(actor, owner)):
        raise NotFound("没有这台设备")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.add(device)
        do_record_audit(
            session=session, actor_id=actor.id, action="device.revoke", target=key_id, ip=ip
        )
        await session.commit()
    return device


async def devices_of(session: AsyncSession, user_ids: list[int]) -> list[AgentDevice]:
    """The devices of these users, active first, newest first."""
    if not user_ids:
        return []
    query = select(AgentDevice).where(col(AgentDevice.user_id).in_(user_ids))
    rows = (await session.exec(query.order_by(col(AgentDevice.enrolled_at).desc()))).all()
    return sorted(rows, key=lambda device: device.revoked_at is not None)


async def device_sender(
    session: AsyncSession, key_id: bytes
) -> tuple[AgentDevice, User, PublicKeys] | None:
    """The unrevoked device that signed with `key_id`, its active agent and keys, or None."""
    device = await session.get(AgentDevice, key_id.hex())
    if device is None or device.revoked_at is not None:
        return None
    user = await session.get(User, device.user_id)
    if user is None or not user.active or user.role != Role.VILLAGE_AGENT:
        return None
    try:
        return device, user, public_keys_of(device)
    except ValueError:
        return None
