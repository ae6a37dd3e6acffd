"""The county's local rules, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.policy.models import PolicySetting

PromiseRule = Literal["max_share", "min_reduction"]
PROMISE_RULES: dict[str, str] = {
    "max_share": "承诺时限不超过法定时限的一定比例",
    "min_reduction": "承诺时限比法定时限至少压缩一定比例",
}


@dataclass(frozen=True)
class Policy:
    promise_rule: PromiseRule = "max_share"
    promise_percent: int = 40  # 40 % of the statutory limit at most / 30 % shorter at least
    warning_percent: int = 80  # yellow warning when this share of a limit is spent
    relay_percent: int = 50  # a relayed case goes up within this share of its running time

    def promise_problem(self, statutory: int, promised: int) -> str | None:
        """The local rule's verdict on a promised limit, with the figures, or None."""
        if self.promise_rule == "max_share":
            ceiling = statutory * self.promise_percent // 100
            if promised > ceiling:
                return (
                    f"按本县规定，承诺时限不得超过法定时限的 {self.promise_percent}%："
                    f"法定 {statutory}，承诺最多 {ceiling}，现填 {promised}"
                )
        else:
            ceiling = statutory * (100 - self.promise_percent) // 100
            if promised > ceiling:
                return (
                    f"按本县规定，承诺时限应比法定时限至少压缩 {self.promise_percent}%："
                    f"法定 {statutory}，承诺最多 {ceiling}，现填 {promised}"
                )
        return None

    def describe(self) -> str:
        if self.promise_rule == "max_share":
            return f"承诺时限不超过法定时限的 {self.promise_percent}%"
        return f"承诺时限比法定时限至少压缩 {self.promise_percent}%"


async def load_policy(session: AsyncSession) -> Policy:
    rows = {row.key: row.value for row in (await session.exec(select(PolicySetting))).all()}
    rule = rows.get("promise_rule", "max_share")
    return Policy(
        promise_rule=rule if rule in PROMISE_RULES else "max_share",  # type: ignore[arg-type]
        promise_percent=int(rows.get("promise_percent", 40)),
        warning_percent=int(rows.get("warning_percent", 80)),
        relay_percent=int(rows.get("relay_percent", 50)),
    )
