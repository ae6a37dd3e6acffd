"""Signing in and issuing API tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import ApiToken, User
from server.auth.passwords import hash_password, needs_rehash, verify_password
from server.auth.ratelimit import clear_account, locked_minutes, record_failure, throttle_keys
from server.auth.tokens import new_token, token_hash
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.users.actions import phone_hash
from server.users.rules import MOBILE, normalise_phone

BAD_CREDENTIALS = "用户名（或手机号）与密码不匹配，请检查后重试"


@dataclass(frozen=True)
class SignInOutcome:
    user: User | None
    error: str = ""


async def find_user_by_login(session: AsyncSession, cipher: FieldCipher, login: str) -> User | None:
    """A user by user name, or by mobile number."""
    login = login.strip()
    user = (await session.exec(select(User).where(User.username == login.lower()))).first()
    phone = normalise_phone(login)
    if user is None and MOBILE.match(phone):
        query = select(User).where(User.phone_hash == phone_hash(cipher, phone))
        user = (await session.exec(query)).first()
    return user


async def do_sign_in(
    *, session: AsyncSession, cipher: FieldCipher, login: str, password: str, address: str
) -> SignInOutcome:
    if not login.strip() or not password:
        return SignInOutcome(None, "请填写用户名（或手机号）和密码")
    keys = throttle_keys(cipher, login, address)
    if minutes := await locked_minutes(session, keys):
        return SignInOutcome(None, f"登录失败次数过多，请 {minutes} 分钟后再试，或请管理员重置密码")
    user = await find_user_by_login(session, cipher, login)
    # Verify even when nobody has that name, so the answer's timing gives nothing away.
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        await record_failure(session, keys)
        do_record_audit(
            session=session,
            actor_id=None,
            action="signin.failure",
            ip=address,
            target=f"user:{user.id}" if user else "",
        )
        await session.commit()
        return SignInOutcome(None, BAD_CREDENTIALS)
    if not user.active:
        return SignInOutcome(None, "这个账号已停用，请联系本中心的管理员")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    user.last_sign_in_at = utcnow()
    session.add(user)
    do_record_audit(
        session=session,
        actor_id=user.id,
        action="signin.success",
        target=f"user:{user.id}",
        ip=address,
    )
    await clear_account(session, keys)  # commits
    return SignInOutcome(user)


async def do_create_token(
    *, session: AsyncSession, user: User, name: str, days: int | None
) -> tuple[ApiToken, str]:
    """A personal API token; the clear text is returned once and never stored."""
    token = new_token()
    row = ApiToken(
        user_id=user.id or 0,
        name=name,
        prefix=token[:10],
        token_hash=token_hash(token),
        expires_at=utcnow() + dt.timedelta(days=days) if days else None,
    )
    session.add(row)
    do_record_audit(
        session=session,
        actor_id=user.id,
        action="token.create",
        target=f"user:{user.id}",
        name=name,
    )
    await session.commit()
    return row, token
