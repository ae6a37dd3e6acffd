"""Every write to an account: create, edit, reset a password, change one's own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import User
from server.auth.passwords import hash_password, password_problem, verify_password
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.forms import ValidationFailed
from server.org.codes import within
from server.org.models import OrgUnit
from server.users.rules import normalise_phone, phone_problem, role_problem, username_problem

PHONE_CONTEXT = "user_account.phone"


@dataclass
class UserFields:
    """What an admin fills in for an account."""

    username: str
    display_name: str
    phone: str
    role: str
    org_unit_code: str
    active: bool = True


def phone_hash(cipher: FieldCipher, phone: str) -> str:
    return cipher.blind_index(phone, context=PHONE_CONTEXT)


def user_phone(cipher: FieldCipher, user: User) -> str:
    return cipher.decrypt(user.phone_enc, context=PHONE_CONTEXT) if user.phone_enc else ""


def temporary_password() -> str:
    """Readable for a clerk to pass on: no 0/O or 1/l, letters and digits both present."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    while True:
        word = "".join(secrets.choice(alphabet) for _ in range(10))
        if password_problem(word) is None:
            return word


async def _check(
    session: AsyncSession,
    cipher: FieldCipher,
    fields: UserFields,
    *,
    scope_root: str | None,
    user_id: int | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    fields.username = fields.username.lower()
    fields.phone = normalise_phone(fields.phone)
    if problem := username_problem(fields.username):
        errors["username"] = problem
    if not 1 <= len(fields.display_name) <= 50:
        errors["display_name"] = "请填写姓名（1–50 个字）"
    if problem := phone_problem(fields.phone):
        errors["phone"] = problem
    unit = await session.get(OrgUnit, fields.org_unit_code) if fields.org_unit_code else None
    if unit is None or (scope_root is not None and not within(unit.code, scope_root)):
        errors["org_unit_code"] = "请选择所属单位"
    elif problem := role_problem(fields.role, unit.level):
        errors["role"] = problem
    if "username" not in errors:
        other = (await session.exec(select(User).where(User.username == fields.username))).first()
        if other is not None and other.id != user_id:
            errors["username"] = f"用户名 {fields.username} 已被使用，请换一个"
    if fields.phone and "phone" not in errors:
        taken = (
            await session.exec(
                select(User).where(User.phone_hash == phone_hash(cipher, fields.phone))
            )
        ).first()
        if taken is not None and taken.id != user_id:
            errors["phone"] = "这个手机号码已登记在另一个账号上"
    return errors


def _apply(cipher: FieldCipher, user: User, fields: UserFields) -> None:
    user.username = fields.username
    user.display_name = fields.display_name
    user.role = fields.role
    user.org_unit_code = fields.org_unit_code
    user.phone_enc = cipher.encrypt(fields.phone, context=PHONE_CONTEXT) if fields.phone else None
    user.phone_hash = phone_hash(cipher, fields.phone) if fields.phone else None
    user.updated_at = utcnow()


async def _commit_or_conflict(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Two admins saved the same name at once: the database's unique index caught it.
        await session.rollback()
        raise ValidationFailed(
            {"username": "用户名或手机号码刚被另一个账号使用，请换一个"}
        ) from None


async def do_create_user(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    actor: User | None,
    fields: UserFields,
    password: str,
    must_change_password: bool = True,
    ip: str = "",
) -> User:
    """Create an account. `actor` None is the command line, which may create any account."""
    scope_root = actor.org_unit_code if actor else None
    errors = await _check(session, cipher, fields, scope_root=scope_root, user_id=None)
    if problem := password_problem(password):
        errors["password"] = problem
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=fields.username,
        display_name=fields.display_name,
        role=fields.role,
        org_unit_code=fields.org_unit_code,
        password_hash=await hash_password(password),
        must_change_password=must_change_password,
        active=fields.active,
    )
    _apply(cipher, user, fields)
    session.add(user)
    await session.flush()
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="user.create",
        target=f"user:{user.id}",
        ip=ip,
        username=user.username,
        role=user.role,
    )
    await _commit_or_conflict(session)
    return user


async def do_update_user(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    actor: User,
    user: User,
    fields: UserFields,
    ip: str = "",
) -> User:
    errors = await _check(session, cipher, fields, scope_root=actor.org_unit_code, user_id=user.id)
    if user.id == actor.id and (not fields.active or fields.role != user.role):
        errors["role"] = "不能停用自己或更改自己的角色，请让另一位管理员操作"
    if errors:
        raise ValidationFailed(errors)
    if user.active and not fields.active:
        user.session_epoch += 1  # a disabled account is signed out everywhere
    user.active = fields.active
    _apply(cipher, user, fields)
    session.add(user)
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="user.update",
        target=f"user:{user.id}",
        ip=ip,
        role=user.role,
        active=user.active,
    )
    await _commit_or_conflict(session)
    return user


async def do_reset_password(*, session: AsyncSession, actor: User, user: User, ip: str = "") -> str:
    """Give the account a temporary password, to be changed at the next sign-in."""
    password = temporary_password()
    user.password_hash = await hash_password(password)
    user.must_change_password = True
    user.session_epoch += 1
    user.updated_at = utcnow()
    session.add(user)
    do_record_audit(
        session=session,
        actor_id=actor.id,
        action="user.reset_password",
        target=f"user:{user.id}",
        ip=ip,
    )
    await session.commit()
    return password


async def do_change_password(
    *, session: AsyncSession, user: User, current: str, new: str, confirm: str, ip: str = ""
) -> User:
    """The user's own change; every other session of theirs ends."""
    errors: dict[str, str] = {}
    if not await verify_password(user.password_hash, current):
        errors["current"] = "当前密码不对，请重新输入"
    if problem := password_problem(new):
        errors["new"] = problem
    elif new == current:
        errors["new"] = "新密码不能与当前密码相同"
    if new != confirm and "new" not in errors:
        errors["confirm"] = "两次输入的新密码不一致"
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = await hash_password(new)
    user.must_change_password = False
    user.session_epoch += 1
    user.updated_at = utcnow()
    session.add(user)
    do_record_audit(
        session=session,
        actor_id=user.id,
        action="user.change_password",
        target=f"user:{user.id}",
        ip=ip,
    )
    await session.commit()
    return user
