from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.settings import SettingsError, init_data_dir, load_settings


def test_init_writes_settings_and_owner_only_secrets(tmp_path: Path) -> None:
    data = tmp_path / "town"
    init_data_dir(
        data,
        role="township",
        region_code="990102101",
        name="青山镇便民服务中心",
        parent_region_code="990102",
        parent_url="http://127.0.0.1:8001",
    )
    settings = load_settings(data)
    assert settings.role == "township"
    assert settings.region_code == "990102101000"
    assert settings.name == "青山镇便民服务中心"
    assert settings.parent_url == "http://127.0.0.1:8001"
    assert len(settings.session_key) == 32 and len(settings.data_key) == 32
    assert settings.session_key != settings.data_key
    for name in ("session.key", "data.key"):
        mode = stat.S_IMODE((data / "secrets" / name).stat().st_mode)
        assert mode == 0o600, oct(mode)
    assert stat.S_IMODE((data / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # The keys survive a restart: sessions and encrypted data stay valid.
    assert load_settings(data).secrets == settings.secrets


def test_init_refuses_to_overwrite_and_checks_input(tmp_path: Path) -> None:
    data = tmp_path / "c"
    init_data_dir(data, role="county", region_code="990102", name="示范县政务服务中心")
    with pytest.raises(SettingsError, match="已经初始化"):
        init_data_dir(data, role="county", region_code="990102", name="again")
    with pytest.raises(SettingsError, match="county 或 township"):
        init_data_dir(tmp_path / "x", role="city", region_code="990102", name="x")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="以 000 结尾"):
        init_data_dir(tmp_path / "y", role="township", region_code="990102101201", name="y")
    with pytest.raises(SettingsError, match="--name"):
        init_data_dir(tmp_path / "z", role="county", region_code="990102", name=" ")


def test_missing_directory_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="yichuang init"):
        load_settings(tmp_path / "nothing")


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "c"
    init_data_dir(data, role="county", region_code="990102", name="县")
    assert load_settings(data).effective_database_url == f"sqlite:///{data.resolve()}/yichuang.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    assert load_settings(data).effective_database_url == "postgresql://u@127.0.0.1/db"


def test_public_url_is_checked_and_trimmed(tmp_path: Path) -> None:
    data = tmp_path / "t"
    init_data_dir(data, role="township", region_code="990102101", name="青山镇便民服务中心")
    assert load_settings(data).public_url == ""
    path = data / "node.toml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + 'public_url = "https://zwfw.example.gov.cn/qingshan/"\n')
    assert load_settings(data).public_url == "https://zwfw.example.gov.cn/qingshan"
    for bad in ("zwfw.example.gov.cn", "ftp://x.example", "https://x.example/?a=1"):
        path.write_text(original + f'public_url = "{bad}"\n')
        with pytest.raises(SettingsError, match="public_url 应是 http:// 或 https:// 开头的网址"):
            load_settings(data)
