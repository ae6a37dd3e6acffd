"""The node commands of `yichuang`: keys show, keys rotate, enrol-code, join.

`server/cli.py` adds them with `add_node_commands`, handing over its own helpers (load and
migrate, run a coroutine on the database, the operator-facing error), so this module needs
nothing from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import segno
from sqlmodel import select

from server.crypto.fields import FieldCipher
from server.db import Database
from server.forms import ValidationFailed
from server.nodes.codes import join_link
from server.nodes.enrolment import CODE_LIFETIME, do_create_enrolment_code
from server.nodes.join import join_parent
from server.nodes.keys import node_keys, rotate_node_keys
from server.nodes.models import NodePeer, PeerKey
from server.nodes.queries import peer_keys
from server.settings import Settings
from server.templating import local_time

Prepare = Callable[[argparse.Namespace], Settings]
Run = Callable[[Settings, Callable[[Database, FieldCipher], Awaitable[Any]]], Any]


def _key_state(row: PeerKey) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "retired" if row.retired_at is not None else "active"


async def _directory(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        peers = (await session.exec(select(NodePeer).order_by(NodePeer.region_code))).all()
        return [
            {
                "region_code": peer.region_code,
                "name": peer.name,
                "relation": peer.relation,
                "url": peer.url,
                "revoked": peer.revoked_at is not None,
                "keys": [
                    {"key_id": row.key_id, "state": _key_state(row)}
                    for row in await peer_keys(session, peer.region_code)
                ],
            }
            for peer in peers
        ]


def add_node_commands(commands: Any, *, prepare: Prepare, run: Run, fail: type[Exception]) -> None:
    """Add the node commands to the `yichuang` parser's subcommands."""

    def keys_show(args: argparse.Namespace) -> None:
        settings = prepare(args)
        ring = node_keys(settings)
        peers = run(settings, lambda db, _cipher: _directory(db))
        if args.json:
            document = {
                "region_code": settings.region_code,
                "key_id": ring.key_id.hex(),
                "keys": ring.current.public().to_json(),
                "generations": [keys.key_id.hex() for keys in ring.all],
                "peers": peers,
            }
            print(json.dumps(document, ensure_ascii=False, indent=2))
            return
        print(f"本节点 {settings.name}（{settings.region_code}）")
        print(f"密钥编号：{ring.key_id.hex()}（共 {len(ring.all)} 代，旧的仍用于打开旧数据包）")
        print(f"公钥：{json.dumps(ring.current.public().to_json())}")
        for peer in peers:
            relation = "上级" if peer["relation"] == "parent" else "下级"
            state = "（已吊销）" if peer["revoked"] else ""
            print(f"{relation} {peer['name']}（{peer['region_code']}）{state}")
            for key in peer["keys"]:
                print(f"  {key['key_id']} {KEY_STATES[key['state']]}")

    def keys_rotate(args: argparse.Namespace) -> None:
        settings = prepare(args)
        old = node_keys(settings).key_id.hex()
        new = rotate_node_keys(settings.data_dir)
        print(f"已生成新密钥 {new.key_id.hex()}（原密钥 {old} 保留，用于打开发给它的数据包）。")
        print("运行中的服务会自动改用新密钥；新公钥由下一次同步（用原密钥签名）告知对方。")

    def enrol_code(args: argparse.Namespace) -> None:
        settings = prepare(args)
        if settings.role != "county":
            raise fail("接入码由县级节点生成：请在县级服务器上运行这个命令")

        async def work(db: Database, _cipher: FieldCipher) -> tuple[Any, str]:
            async with db.session() as session:
                return await do_create_enrolment_code(
                    session=session,
                    settings=settings,
                    actor=None,
                    region_code=args.region,
                    name=args.name,
                )

        try:
            row, code = run(settings, work)
        except ValidationFailed as failed:
            raise fail("；".join(failed.errors.values())) from None
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        link = join_link(base, code)
        hours = int(CODE_LIFETIME.total_seconds() // 3600)
        print(f"{row.name}（{row.region_code}）的接入码：{code}")
        print(f"有效期至 {local_time(row.expires_at)}（{hours} 小时），只能用一次。")
        print(f"接入链接：{link}")
        print(f"本县密钥编号：{node_keys(settings).key_id.hex()}（乡镇接入后可核对）")
        print(f"乡镇上运行：yichuang join --parent {base} --code {code}")
        if sys.stdout.isatty():
            segno.make(link, error="m").terminal(compact=True)

    def join(args: argparse.Namespace) -> None:
        settings = prepare(args)
        keys = node_keys(settings).current.public()

        async def work(db: Database, _cipher: FieldCipher) -> tuple[NodePeer, Any]:
            async with db.session() as session:
                return await join_parent(
                    session=session,
                    settings=settings,
                    keys=keys,
                    parent=args.parent,
                    code=args.code,
                    rejoin=args.rejoin,
                )

        try:
            peer, county_keys = run(settings, work)
        except ValidationFailed as failed:
            raise fail("；".join(failed.errors.values())) from None
        print(f"已接入 {peer.name}（{peer.region_code}），地址 {peer.url}")
        print(f"县级密钥编号：{county_keys.key_id.hex()}（请与县级页面上显示的核对）")
        print(f"本中心密钥编号：{keys.key_id.hex()}")

    keys = commands.add_parser("keys", help="本节点的密钥").add_subparsers(
        dest="keys_command", required=True, metavar="子命令"
    )
    show = keys.add_parser("show", help="显示本节点的密钥编号、公钥和已登记的上下级密钥")
    show.add_argument("--json", action="store_true", help="以 JSON 输出")
    show.set_defaults(func=keys_show)
    keys.add_parser("rotate", help="生成新一代密钥（旧密钥保留用于打开旧数据包）").set_defaults(
        func=keys_rotate
    )

    code = commands.add_parser("enrol-code", help="（县级）为乡镇生成一次性接入码，24 小时有效")
    code.add_argument("--region", required=True, help="乡镇的 12 位区划代码（或 9 位）")
    code.add_argument("--name", required=True, help="乡镇便民服务中心的名称")
    code.set_defaults(func=enrol_code)

    join_cmd = commands.add_parser("join", help="（乡镇）用县级给的接入码接入县级")
    join_cmd.add_argument("--parent", required=True, help="县级服务器地址，或整条接入链接")
    join_cmd.add_argument("--code", default="", help="接入码（地址是接入链接时可省略）")
    join_cmd.add_argument(
        "--rejoin", action="store_true", help="已接入时重新接入（换用新的县级密钥，需新接入码）"
    )
    join_cmd.set_defaults(func=join)


KEY_STATES = {"active": "在用", "retired": "已轮换（旧数据包仍可验证）", "revoked": "已吊销"}
