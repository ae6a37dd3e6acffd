"""The yichuang command, run as a real process, as an operator would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    [],
    ["init"],
    ["serve"],
    ["migrate"],
    ["demo"],
    ["user", "add"],
    ["token", "create"],
    ["org", "add"],
]


def run(*args: str, data: Path | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    prefix = ["--data", str(data)] if data else []
    return subprocess.run(
        [sys.executable, "-m", "server", *prefix, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_on_each_command(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: yichuang" in result.stdout


def test_init_demo_user_token_as_an_operator(tmp_path: Path) -> None:
    data = tmp_path / "town"
    result = run(
        "init",
        "--role",
        "township",
        "--region",
        "990102101",
        "--name",
        "青山镇便民服务中心",
        "--parent-region",
        "990102",
        "--parent-name",
        "示范县",
        data=data,
    )
    assert result.returncode == 0, result.stderr
    assert "已初始化 青山镇便民服务中心" in result.stdout

    again = run("init", "--role", "township", "--region", "990102101", "--name", "x", data=data)
    assert again.returncode == 2 and "已经初始化过了" in again.stderr

    demo = run("demo", data=data)
    assert demo.returncode == 0, demo.stderr
    assert "zhen.clerk" in demo.stdout and "village_agent" in demo.stdout
    assert run("demo", data=data).stdout == demo.stdout  # idempotent: same users, same file

    added = run(
        "user",
        "add",
        "--username",
        "ops",
        "--name",
        "运维",
        "--role",
        "admin",
        "--password-stdin",
        data=data,
        stdin="ops-pass-2026\n",
    )
    assert added.returncode == 0, added.stderr
    bad = run(
        "user", "add", "--username", "x", "--name", "坏", "--role", "village_agent", data=data
    )
    assert bad.returncode == 2
    assert "用户名请用" in bad.stderr and "村代办员只能属于" in bad.stderr

    token = run("token", "create", "--user", "ops", data=data)
    assert token.returncode == 0 and token.stdout.startswith("yc_")
    assert run("token", "create", "--user", "ghost", data=data).returncode == 2

    village = run("org", "add", "--code", "990102101204", "--name", "新村", data=data)
    assert village.returncode == 0 and "已添加 新村" in village.stdout
    wrong = run("org", "add", "--code", "990103101204", "--name", "外县村", data=data)
    assert wrong.returncode == 2, wrong.stdout


def test_missing_data_directory_is_explained(tmp_path: Path) -> None:
    result = run("migrate", data=tmp_path / "none")
    assert result.returncode == 2
    assert "yichuang init" in result.stderr


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('[push]\nhosts = "fcm.googleapis.com"\n', "[push] hosts"),
        ('[sms]\ngateway = "carrier-pigeon"\n', "[sms] gateway"),
    ],
)
def test_serve_explains_a_wrong_table_in_node_toml(tmp_path: Path, table: str, named: str) -> None:
    data = tmp_path / "node"
    init = run("init", "--role", "township", "--region", "990102101", "--name", "测试镇", data=data)
    assert init.returncode == 0, init.stderr
    with (data / "node.toml").open("a", encoding="utf-8") as toml:
        toml.write(table)
    result = run("serve", "--port", "9", data=data)  # refused before it would listen
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr
