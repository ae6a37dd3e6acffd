"""Read-only lookups of accounts, paged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import User
from server.crypto.fields import FieldCipher
from server.users.actions import phone_hash
from server.users.rules import MOBILE, normalise_phone

PAGE_SIZE = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


async def search_users(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    root: str,
    text: str = "",
    role: str = "",
    page: int = 1,
    size: int = PAGE_SIZE,
) -> Page[User]:
    """Accounts of the centre `root` and the units below it, by name, user name or phone."""
    prefix = root[:9] if len(root) == 12 else root
    query = select(User).where(col(User.org_unit_code).startswith(prefix))
    if text:
        phone = normalise_phone(text)
        like = f"%{text.lower()}%"
        conditions: list[ColumnElement[bool]] = [
            col(User.username).like(like),
            col(User.display_name).like(f"%{text}%"),
        ]
        if MOBILE.match(phone):
            conditions.append(col(User.phone_hash) == phone_hash(cipher, phone))
        query = query.where(or_(*conditions))
    if role:
        query = query.where(User.role == role)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = await session.exec(
        query.order_by(col(User.active).desc(), col(User.org_unit_code), col(User.username))
        .offset((page - 1) * size)
        .limit(size)
    )
    return Page(items=list(rows.all()), number=page, size=size, total=total)
