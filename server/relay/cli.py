"""`yichuang sync --once`: one round with the parent, progress printed in Chinese.

`server/cli.py` adds it with `add_sync_commands`, handing over its own helpers (load and
migrate, run a coroutine on the database, the operator-facing error).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from server.crypto.fields import FieldCipher
from server.db import Database
from server.relay.client import RoundReport, SyncFailed, sync_round
from server.settings import Settings

Prepare = Callable[[argparse.Namespace], Settings]
Run = Callable[[Settings, Callable[[Database, FieldCipher], Awaitable[Any]]], Any]


def add_sync_commands(commands: Any, *, prepare: Prepare, run: Run, fail: type[Exception]) -> None:
    sync = commands.add_parser("sync", help="与上级（县）节点同步办件事件")
    sync.add_argument(
        "--once", action="store_true", required=True, help="只同步一轮：先上传全部待传，再下载"
    )

    def cmd_sync(args: argparse.Namespace) -> None:
        settings = prepare(args)
        if settings.role != "township":
            raise fail("只有乡镇节点向上级同步；县级节点由各乡镇来同步")

        async def work(db: Database, cipher: FieldCipher) -> RoundReport:
            try:
                return await sync_round(
                    db, cipher, settings, progress=lambda line: print(line, flush=True)
                )
            except SyncFailed as failed:
                raise fail(f"同步未完成：{failed}（下次同步会从中断处继续）") from None

        report = run(settings, work)
        print(
            f"同步完成：上传 {report.sent_events} 个事件，下载 {report.received_events} 个事件；"
            f"发送 {report.sent_bytes} 字节，接收 {report.received_bytes} 字节"
        )
        if report.quarantined:
            print(f"注意：{report.quarantined} 个事件无法处理，已隔离，请到“同步状态”页查看")
        if report.skew_seconds is not None and abs(report.skew_seconds) > 300:
            print(f"警告：本机时钟与县级节点相差 {report.skew_seconds} 秒，请校准时间")

    sync.set_defaults(func=cmd_sync)
