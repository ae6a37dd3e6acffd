"""`yichuang notify --once` (one round of the notification job) and `yichuang announce`
(a system message to one user or to everyone), added by server/cli.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from server.agent.upload_limits import STALE_AFTER
from server.auth.models import User
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.notify.actions import do_notify
from server.notify.jobs import JobReport, run_once
from server.settings import Settings

Prepare = Callable[[argparse.Namespace], Settings]
Run = Callable[[Settings, Callable[[Database, FieldCipher], Awaitable[Any]]], Any]


def add_notify_commands(
    commands: Any, *, prepare: Prepare, run: Run, fail: type[Exception]
) -> None:
    notify = commands.add_parser(
        "notify", help="运行一轮消息任务：期限预警、推送、短信，并清理过期的照片上传"
    )
    notify.add_argument(
        "--once", action="store_true", required=True, help="只运行一轮（服务运行时会自动定时运行）"
    )

    def cmd_notify(args: argparse.Namespace) -> None:
        settings = prepare(args)

        async def work(db: Database, cipher: FieldCipher) -> JobReport:
            return await run_once(db, cipher, settings)

        report = run(settings, work)
        print(f"期限预警：新提醒 {report.deadlines} 个办件")
        days = STALE_AFTER.days
        print(f"照片清理：删除 {report.stale_uploads} 个 {days} 天未随办件发送的照片上传")
        p = report.pushes
        print(f"推送：发出 {p.sent}，待重试 {p.retried}，失效已删除 {p.pruned}，放弃 {p.given_up}")
        s = report.sms
        print(f"短信：发出 {s.sent}，失败待重试 {s.failed}，放弃 {s.given_up}")

    notify.set_defaults(func=cmd_notify)

    announce = commands.add_parser("announce", help="给用户发一条系统消息（消息中心里显示）")
    who = announce.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="用户名")
    who.add_argument("--all", action="store_true", help="发给所有在用的用户")
    announce.add_argument("--title", required=True, help="标题，不超过 100 个字")
    announce.add_argument("--text", default="", help="正文，不超过 500 个字；不要写群众个人信息")
    announce.add_argument("--link", default="", help="点开后去的页面，例如 /catalog（选填）")

    def cmd_announce(args: argparse.Namespace) -> None:
        settings = prepare(args)
        if args.link and not args.link.startswith("/"):
            raise fail("--link 须是本站页面的路径，以 / 开头")

        async def work(db: Database, _cipher: FieldCipher) -> int:
            async with db.session() as session:
                query = select(User.id).where(col(User.active))
                if args.user:
                    query = query.where(User.username == args.user.lower())
                ids = list((await session.exec(query)).all())
                if not ids:
                    raise fail(f"没有在用的用户 {args.user}")
                now = utcnow()
                told = await do_notify(
                    session,
                    recipients=ids,
                    kind="system",
                    title=args.title,
                    text=args.text,
                    link=args.link,
                    dedupe_key=f"announce:{now.isoformat()}",
                    at=now,
                )
                await session.commit()
                return len(told)

        print(f"已发送系统消息给 {run(settings, work)} 位用户")

    announce.set_defaults(func=cmd_announce)
