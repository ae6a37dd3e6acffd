"""The `yichuang` command: init, serve, migrate, demo, user add, token create, org add."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlmodel import select

from server.auth.actions import do_create_token
from server.auth.models import ROLE_NAMES, User
from server.calendar.actions import do_seed_calendar
from server.cases.events import verify_cases
from server.cases.models import CaseRecord
from server.crypto.fields import FieldCipher
from server.db import Database, migrate
from server.demo import load_demo, save_logins
from server.forms import ValidationFailed
from server.nodes.cli import add_node_commands
from server.nodes.keys import ensure_node_keys
from server.notify.cli import add_notify_commands
from server.notify.gateways import load_gateway
from server.notify.push import load_push_config
from server.notify.vapid import ensure_vapid_key
from server.org.actions import do_ensure_node_units, do_ensure_org_unit
from server.org.codes import RegionCodeError, level_of, normalise, within
from server.relay.cli import add_sync_commands
from server.settings import NODE_ROLES, Settings, SettingsError, init_data_dir, load_settings
from server.users.actions import UserFields, do_create_user, temporary_password
from sync.chain import ChainBreak

T = TypeVar("T")


class CliError(Exception):
    """A message for the operator; the command exits 2."""


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter is not news


def _run(settings: Settings, work: Callable[[Database, FieldCipher], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.effective_database_url)
        try:
            return await work(db, FieldCipher(settings.data_key))
        finally:
            await db.dispose()

    return asyncio.run(main())


def _prepare(args: argparse.Namespace) -> Settings:
    """Load settings, migrate, make sure the node's own org units and the calendar exist."""
    settings = load_settings(args.data)
    migrate(settings.effective_database_url)
    ensure_node_keys(settings.data_dir)  # before any worker starts: they never race on it
    ensure_vapid_key(settings.data_dir)  # the Web Push key, likewise

    async def units(db: Database, _cipher: FieldCipher) -> None:
        async with db.session() as session:
            await do_ensure_node_units(session=session, settings=settings)
            # The holiday calendar from the package, for the years not yet present; a year the
            # county entered (or synced down from it) is never overwritten.
            await do_seed_calendar(session=session)

    _run(settings, units)
    return settings


def cmd_init(args: argparse.Namespace) -> None:
    data = args.data or Path(os.environ.get("YICHUANG_DATA", "var/node"))
    path = init_data_dir(
        data,
        role=args.role,
        region_code=args.region,
        name=args.name,
        parent_url=args.parent_url,
        parent_region_code=args.parent_region,
        parent_name=args.parent_name,
        host=args.host,
        port=args.port,
    )
    args.data = data
    settings = _prepare(args)
    print(f"已初始化 {settings.name}（{settings.role}，{settings.region_code}）：{path}")
    print(f"下一步：yichuang --data {data} user add --username admin --name 管理员 --role admin")


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _prepare(args)
    print(f"数据库已是最新结构：{settings.effective_database_url.split('@')[-1]}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = load_settings(args.data) if args.no_migrate else _prepare(args)
    # node.toml's optional tables, read again by the app: a mistake is told here, in Chinese,
    # rather than as a traceback from inside the server.
    load_push_config(settings)
    load_gateway(settings.data_dir)
    os.environ["YICHUANG_DATA"] = str(settings.data_dir)
    host, port = args.host or settings.host, args.port or settings.port
    print(f"{settings.name} 正在 http://{host}:{port}/ 运行（Ctrl+C 停止）", flush=True)
    uvicorn.run(
        "server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=args.trusted_proxy,
        access_log=False,
        log_config=None,
        server_header=False,
    )


def cmd_demo(args: argparse.Namespace) -> None:
    settings = _prepare(args)

    async def work(db: Database, cipher: FieldCipher) -> list[str]:
        async with db.session() as session:
            return await load_demo(session, cipher, settings)

    lines = _run(settings, work)
    print(save_logins(settings, lines), end="")


def cmd_user_add(args: argparse.Namespace) -> None:
    settings = _prepare(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    generated = not password
    password = password or temporary_password()
    org = normalise(args.org) if args.org else settings.region_code

    async def work(db: Database, cipher: FieldCipher) -> User:
        async with db.session() as session:
            return await do_create_user(
                session=session,
                cipher=cipher,
                actor=None,
                password=password,
                must_change_password=generated,
                fields=UserFields(
                    username=args.username,
                    display_name=args.name,
                    phone=args.phone,
                    role=args.role,
                    org_unit_code=org,
                ),
            )

    user = _run(settings, work)
    print(f"已创建用户 {user.username}（{ROLE_NAMES[user.role]}）")
    if generated:
        print(f"临时密码：{password}（首次登录时必须修改）")


def cmd_token_create(args: argparse.Namespace) -> None:
    settings = _prepare(args)

    async def work(db: Database, _cipher: FieldCipher) -> str:
        async with db.session() as session:
            user = (
                await session.exec(select(User).where(User.username == args.user.lower()))
            ).first()
            if user is None or not user.active:
                raise CliError(f"没有在用的用户 {args.user}")
            _row, token = await do_create_token(
                session=session, user=user, name=args.name, days=args.days
            )
            return token

    token = _run(settings, work)
    print(token)
    print(
        "请妥善保存：这个令牌只显示这一次。使用方式：Authorization: Bearer <令牌>", file=sys.stderr
    )


def cmd_org_add(args: argparse.Namespace) -> None:
    settings = _prepare(args)
    code = normalise(args.code)
    level = level_of(code)
    parent = code[:6] if level == "township" else code[:9] + "000"
    if level == "county":
        raise CliError("这里只能添加乡镇或村；县级单位由 init 设定")
    if not within(code, settings.region_code):
        raise CliError(f"{code} 不在本节点（{settings.region_code}）的辖区内")

    async def work(db: Database, _cipher: FieldCipher) -> None:
        async with db.session() as session:
            await do_ensure_org_unit(
                session=session, code=code, name=args.name, level=level, parent_code=parent
            )
            await session.commit()

    _run(settings, work)
    print(f"已添加 {args.name}（{code}）")


def cmd_verify(args: argparse.Namespace) -> None:
    settings = _prepare(args)

    async def work(db: Database, cipher: FieldCipher) -> tuple[int, list[tuple[str, ChainBreak]]]:
        async with db.session() as session:
            checked, broken = await verify_cases(session, cipher)
            serials = {}
            for found in broken:
                case = await session.get(CaseRecord, found.case)
                serials[found.case] = case.serial if case else found.case
        return checked, [(serials[found.case], found) for found in broken]

    checked, broken = _run(settings, work)
    for serial, found in broken:
        print(f"办件 {serial}：第 {found.seq} 个事件有问题（{found.reason}）")
    if broken:
        raise CliError(f"检查了 {checked} 个办件，{len(broken)} 个的事件记录被改动过或不完整")
    print(f"检查了 {checked} 个办件，事件记录完整，没有被改动。")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yichuang", description="一窗：乡镇便民服务中心与县级中心的办件系统"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="数据目录（默认取环境变量 YICHUANG_DATA，否则 var/node）",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="命令")

    init = commands.add_parser("init", help="初始化一个节点的数据目录和数据库")
    init.add_argument(
        "--role", required=True, choices=NODE_ROLES, help="county（县）或 township（乡镇）"
    )
    init.add_argument("--region", required=True, help="区划代码：县 6 位，乡镇 9 或 12 位")
    init.add_argument("--name", required=True, help="中心名称，例如 青山镇便民服务中心")
    init.add_argument("--parent-url", default="", help="上级（县）服务器地址")
    init.add_argument("--parent-region", default="", help="上级（县）区划代码，6 位")
    init.add_argument("--parent-name", default="", help="上级（县）名称")
    init.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1）")
    init.add_argument("--port", type=int, default=8000, help="监听端口（默认 8000）")
    init.set_defaults(func=cmd_init)

    serve = commands.add_parser("serve", help="升级数据库并启动服务")
    serve.add_argument("--host", default="", help="监听地址（默认取 node.toml）")
    serve.add_argument("--port", type=int, default=0, help="监听端口（默认取 node.toml）")
    serve.add_argument(
        "--workers", type=int, default=1, help="工作进程数（县级用 PostgreSQL 时可多开）"
    )
    serve.add_argument(
        "--trusted-proxy",
        default="127.0.0.1",
        help="信任其 X-Forwarded-* 头的反向代理地址（默认 127.0.0.1，即本机 Caddy）",
    )
    serve.add_argument("--no-migrate", action="store_true", help="启动前不升级数据库")
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="把数据库升级到最新结构").set_defaults(func=cmd_migrate)
    commands.add_parser("demo", help="载入演示数据并打印演示账号").set_defaults(func=cmd_demo)
    commands.add_parser("verify", help="检查每个办件的事件链是否完整、未被改动").set_defaults(
        func=cmd_verify
    )

    user = commands.add_parser("user", help="用户").add_subparsers(
        dest="user_command", required=True, metavar="子命令"
    )
    add = user.add_parser("add", help="新增用户；不给密码时生成临时密码")
    add.add_argument("--username", required=True, help="用户名（登录用）")
    add.add_argument("--name", required=True, help="姓名")
    add.add_argument("--role", required=True, choices=list(ROLE_NAMES), help="角色")
    add.add_argument("--org", default="", help="所属单位区划代码（默认本节点；村代办员填村的代码）")
    add.add_argument("--phone", default="", help="手机号码（选填）")
    add.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    add.set_defaults(func=cmd_user_add)

    token = commands.add_parser("token", help="个人接口令牌").add_subparsers(
        dest="token_command", required=True, metavar="子命令"
    )
    create = token.add_parser("create", help="为用户生成接口令牌（只显示一次）")
    create.add_argument("--user", required=True, help="用户名")
    create.add_argument("--name", default="命令行生成", help="令牌用途说明")
    create.add_argument("--days", type=int, default=None, help="有效天数（默认不过期）")
    create.set_defaults(func=cmd_token_create)

    org = commands.add_parser("org", help="组织单位").add_subparsers(
        dest="org_command", required=True, metavar="子命令"
    )
    org_add = org.add_parser("add", help="添加本节点下的乡镇或村")
    org_add.add_argument("--code", required=True, help="12 位区划代码")
    org_add.add_argument("--name", required=True, help="名称")
    org_add.set_defaults(func=cmd_org_add)

    add_node_commands(commands, prepare=_prepare, run=_run, fail=CliError)
    add_sync_commands(commands, prepare=_prepare, run=_run, fail=CliError)
    add_notify_commands(commands, prepare=_prepare, run=_run, fail=CliError)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ValidationFailed as failed:
        for field, message in failed.errors.items():
            print(f"错误（{field}）：{message}", file=sys.stderr)
        return 2
    except (SettingsError, CliError, RegionCodeError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0
