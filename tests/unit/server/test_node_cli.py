"""The node commands as an operator runs them: keys show, keys rotate, enrol-code, join.

In process (`server.cli.main`), which is the same code as `yichuang` without an interpreter
start per command; tests/sync/test_enrolment_processes.py runs them as real processes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.cli import main

INIT = ["init", "--role", "township", "--region", "990102101", "--name", "青山镇便民服务中心"]


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data", str(data), *args])
    out, err = capsys.readouterr()
    return code, out, err


def show(capsys: pytest.CaptureFixture[str], data: Path) -> dict[str, Any]:
    code, out, err = run(capsys, data, "keys", "show", "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


@pytest.mark.parametrize(
    "command", [["keys", "show"], ["keys", "rotate"], ["enrol-code"], ["join"]]
)
def test_help_on_each_node_command(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: yichuang" in capsys.readouterr().out


def test_keys_are_made_at_init_shown_and_rotated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "town"
    assert run(capsys, data, *INIT)[0] == 0
    first = show(capsys, data)
    assert first["region_code"] == "990102101000"
    assert first["generations"] == [first["key_id"]] and first["peers"] == []
    assert set(first["keys"]) == {"key_id", "signing", "receiving"}
    assert f"密钥编号：{first['key_id']}" in run(capsys, data, "keys", "show")[1]
    code, out, _err = run(capsys, data, "keys", "rotate")
    assert code == 0
    second = show(capsys, data)
    assert second["key_id"] != first["key_id"]
    assert second["generations"] == [second["key_id"], first["key_id"]]
    assert f"原密钥 {first['key_id']} 保留" in out


def test_a_township_makes_no_codes_and_a_bad_join_is_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "town"
    assert run(capsys, data, *INIT)[0] == 0
    code, _out, err = run(
        capsys, data, "enrol-code", "--region", "990102102000", "--name", "白水乡"
    )
    assert code == 2 and "接入码由县级节点生成" in err
    code, _out, err = run(capsys, data, "join", "--parent", "county.example", "--code", "123")
    assert code == 2
    assert "县级服务器的网址" in err and "16 位字母和数字" in err


def test_a_county_prints_a_code_and_explains_a_region_not_its_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "county"
    init = ["init", "--role", "county", "--region", "990102", "--name", "示范县政务服务中心"]
    assert run(capsys, data, *init)[0] == 0
    code, _out, err = run(capsys, data, "enrol-code", "--region", "990103101000", "--name", "某乡")
    assert code == 2 and "不属于县 990102" in err
    code, out, err = run(capsys, data, "enrol-code", "--region", "990102101", "--name", "青山镇")
    assert code == 0, err
    assert "青山镇（990102101000）的接入码：" in out
    assert "http://127.0.0.1:8000/#join=" in out
    assert "yichuang join --parent http://127.0.0.1:8000 --code " in out
