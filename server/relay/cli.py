"""`yichuang sync --once` and `yichuang bundle export|import`, progress printed in Chinese.

`sync --once` is one round with the parent over HTTP; `bundle` carries the same envelopes in a
file when there is no link at all (server/relay/bundle.py). `server/cli.py` adds both with
`add_sync_commands`, handing over its own helpers (load and migrate, run a coroutine on the
database, the operator-facing error).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from server.crypto.fields import FieldCipher
from server.db import Database
from server.org.codes import normalise
from server.relay.bundle import export_answer, export_up, import_answer, import_up
from server.relay.bundle_frames import BundleFailed, BundleReport
from server.relay.client import RoundReport, SyncFailed, sync_round
from server.settings import Settings
from sync.bundle import DEFAULT_MAX_SIZE

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
    add_bundle_commands(commands, prepare=prepare, run=run, fail=fail)


def _say(line: str) -> None:
    print(line, flush=True)


def _write(path: Path, data: bytes) -> None:
    """Write beside, flush to the stick, then rename: a pulled stick leaves no half file."""
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


def add_bundle_commands(
    commands: Any, *, prepare: Prepare, run: Run, fail: type[Exception]
) -> None:
    bundle = commands.add_parser(
        "bundle", help="没有网络时，用 U 盘等移动介质与上级（或下级）交换同步数据包"
    ).add_subparsers(dest="bundle_command", required=True, metavar="子命令")
    export = bundle.add_parser(
        "export", help="导出数据包：乡镇导出待上传的事件；县级用 --for 导出给某乡镇的答复"
    )
    export.add_argument("file", type=Path, metavar="文件", help="要写入的文件（如 U 盘上的路径）")
    export.add_argument("--for", dest="child", default="", help="（县级）接收答复的乡镇区划代码")
    load = bundle.add_parser(
        "import", help="导入数据包：县级导入乡镇的上传包，乡镇导入县级的答复包"
    )
    load.add_argument("file", type=Path, metavar="文件", help="要导入的数据包文件")
    load.add_argument(
        "--answer", type=Path, default=None, help="（县级）导入后把给该乡镇的答复包写到此文件"
    )

    def failed(problem: BundleFailed) -> Exception:
        return fail(f"{problem.message}（原因代码 {problem.reason}）")

    def cmd_export(args: argparse.Namespace) -> None:
        settings = prepare(args)
        if settings.role == "township" and args.child:
            raise fail("乡镇节点导出的是给上级的上传包，不用 --for")
        if settings.role == "county" and not args.child:
            raise fail("县级节点导出答复包须用 --for 指定乡镇区划代码（如 --for 990102101）")

        async def work(db: Database, cipher: FieldCipher) -> tuple[bytes, BundleReport]:
            try:
                if settings.role == "county":
                    child = normalise(args.child)
                    return await export_answer(db, cipher, settings, child, progress=_say)
                return await export_up(db, cipher, settings, progress=_say)
            except BundleFailed as problem:
                raise failed(problem) from None

        data, report = run(settings, work)
        _write(args.file, data)
        if settings.role == "county":
            _done_answer(args.file, report)
        else:
            print(
                f"已导出：{report.events} 个事件{_scans(report)}"
                f"（{report.envelopes} 个数据包，{report.size} 字节）"
                f"写入 {args.file}。请带到{report.peer_name}导入："
                f"yichuang bundle import {args.file.name} --answer 答复文件"
            )

    def cmd_import(args: argparse.Namespace) -> None:
        settings = prepare(args)
        if settings.role == "township" and args.answer is not None:
            raise fail("乡镇节点导入的是县级的答复包，不再写答复，不用 --answer")
        try:
            if args.file.stat().st_size > DEFAULT_MAX_SIZE:
                raise fail(f"文件 {args.file} 超过数据包大小上限，不是一窗同步数据包")
            data = args.file.read_bytes()
        except OSError as problem:
            raise fail(f"无法读取文件 {args.file}：{problem.strerror}") from None
        source = str(args.file)

        async def work(
            db: Database, cipher: FieldCipher
        ) -> tuple[BundleReport, tuple[bytes, BundleReport] | None]:
            try:
                if settings.role == "township":
                    return await import_answer(
                        db, cipher, settings, data, source=source, progress=_say
                    ), None
                report = await import_up(db, cipher, settings, data, source=source, progress=_say)
                if args.answer is None:
                    return report, None
                answer = await export_answer(
                    db, cipher, settings, report.peer, imported=report, progress=_say
                )
                return report, answer
            except BundleFailed as problem:
                raise failed(problem) from None

        report, answer = run(settings, work)
        if report.envelopes == 0 and report.replayed:
            print("这个数据包此前已经导入过，本次没有任何改动。")
        elif settings.role == "county":
            print(
                f"已导入{report.peer_name}的数据包：新增 {report.stored} 个事件，"
                f"重复 {report.repeated} 个，隔离 {report.quarantined} 个{_scans(report)}"
            )
        else:
            print(
                f"已导入答复包：上级已确认至第 {report.acked} 号（已从待上传中清除），"
                f"收到 {report.events} 个下发事件，新增 {report.stored} 个{_scans(report)}"
            )
        if report.quarantined:
            print(f"注意：{report.quarantined} 个事件无法处理，已隔离，请到“同步状态”页查看")
        if answer is not None:
            _write(args.answer, answer[0])
            _done_answer(args.answer, answer[1])
        elif settings.role == "county":
            print(
                f"如需答复：yichuang bundle export --for {report.peer} 文件，"
                "或导入时加 --answer 文件"
            )

    export.set_defaults(func=cmd_export)
    load.set_defaults(func=cmd_import)


def _scans(report: BundleReport) -> str:
    return f"，扫描件 {report.chunks} 块" if report.chunks else ""


def _done_answer(path: Path, report: BundleReport) -> None:
    print(
        f"已写入给{report.peer_name}的答复包 {path}：确认至第 {report.acked} 号，"
        f"下发 {report.events} 个事件{_scans(report)}（{report.size} 字节）。"
        f"请带回乡镇导入：yichuang bundle import {path.name}"
    )
