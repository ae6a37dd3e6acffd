"""A node's settings: read from its data directory, secrets generated there on first start.

The data directory holds `node.toml` (role, region, name, parent, listen address) and
`secrets/` (session key, data-encryption key), readable by the service user alone. The
environment may override the data directory (`YICHUANG_DATA`) and the database
(`DATABASE_URL`); nothing secret ever lives in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from server.org.codes import RegionCodeError, normalise, validate_node_region

NodeRole = Literal["county", "township"]
NODE_ROLES: tuple[NodeRole, ...] = ("county", "township")
SETTINGS_FILE = "node.toml"
SECRET_FILES = {"session.key": 32, "data.key": 32}

ROOT = Path(__file__).resolve().parent.parent
PWA_DIR = ROOT / "pwa"
MIGRATIONS_DIR = ROOT / "migrations"


class SettingsError(Exception):
    """The data directory is missing, incomplete or inconsistent; the message says how to fix it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    role: NodeRole
    region_code: str
    name: str
    parent_url: str = ""
    parent_region_code: str = ""
    parent_name: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    session_max_age: int = 12 * 3600
    session_idle: int = 30 * 60
    # Where applicants reach this node from outside (QR codes on papers and guides), e.g.
    # "https://zwfw.example.gov.cn/qingshan"; empty: the address the page was asked by.
    public_url: str = ""
    secrets: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def session_key(self) -> bytes:
        return self.secrets["session.key"]

    @property
    def data_key(self) -> bytes:
        return self.secrets["data.key"]

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'yichuang.db'}"


def default_data_dir() -> Path:
    return Path(os.environ.get("YICHUANG_DATA", "var/node"))


def _toml_value(value: str | int) -> str:
    # A JSON string literal is a valid TOML basic string for the text we write.
    return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def init_data_dir(
    data_dir: Path,
    *,
    role: NodeRole,
    region_code: str,
    name: str,
    parent_url: str = "",
    parent_region_code: str = "",
    parent_name: str = "",
    host: str = "127.0.0.1",
    port: int = 8000,
) -> Path:
    """Write node.toml and the secrets into a new data directory; refuse to overwrite one."""
    if role not in NODE_ROLES:
        raise SettingsError(f"节点角色必须是 county 或 township，收到的是 {role!r}")
    region_code, parent_region_code = normalise(region_code), parent_region_code.strip()
    try:
        validate_node_region(role, region_code, parent_region_code)
    except RegionCodeError as exc:
        raise SettingsError(str(exc)) from exc
    if not name.strip():
        raise SettingsError("请用 --name 填写本中心的名称")
    path = data_dir / SETTINGS_FILE
    if path.exists():
        raise SettingsError(f"{path} 已存在：这个数据目录已经初始化过了")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)  # the database and the keys are the service user's alone
    values: dict[str, str | int] = {
        "role": role,
        "region_code": region_code,
        "name": name.strip(),
        "parent_url": parent_url,
        "parent_region_code": parent_region_code,
        "parent_name": parent_name,
        "host": host,
        "port": port,
    }
    lines = ["# Yichuang node settings, written by `yichuang init`."]
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ensure_secrets(data_dir)
    return path


def ensure_secrets(data_dir: Path) -> dict[str, bytes]:
    """Load the node's secrets, creating any that are missing, readable by the owner alone."""
    folder = data_dir / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    loaded: dict[str, bytes] = {}
    for name, size in SECRET_FILES.items():
        path = folder / name
        if not path.exists():
            # O_EXCL: two processes starting at once never both write a key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(size))
        value = path.read_bytes()
        if len(value) != size:
            raise SettingsError(f"密钥文件 {path} 已损坏（长度应为 {size} 字节）")
        loaded[name] = value
    return loaded


def _public_url(path: Path, value: object) -> str:
    """node.toml's public_url: an http(s) address without query, no trailing slash."""
    text = str(value or "").strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"{path}: public_url 应是 http:// 或 https:// 开头的网址，不带问号后的参数，"
            f"例如 https://zwfw.example.gov.cn/qingshan；现在是 {text!r}"
        )
    return text


def load_settings(data_dir: Path | None = None) -> Settings:
    """Read a data directory written by `yichuang init`."""
    data_dir = (data_dir or default_data_dir()).resolve()
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        raise SettingsError(
            f"找不到 {path}：请先运行 yichuang init --data {data_dir} --role … --region … --name …"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} 格式有误：{exc}") from exc
    role = raw.get("role")
    if role not in NODE_ROLES:
        raise SettingsError(f"{path}: role 必须是 county 或 township")
    try:
        validate_node_region(
            role, str(raw.get("region_code", "")), raw.get("parent_region_code", "")
        )
    except RegionCodeError as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    return Settings(
        data_dir=data_dir,
        role=role,
        region_code=str(raw["region_code"]),
        name=str(raw.get("name", "")),
        parent_url=str(raw.get("parent_url", "")),
        parent_region_code=str(raw.get("parent_region_code", "")),
        parent_name=str(raw.get("parent_name", "")),
        host=str(raw.get("host", "127.0.0.1")),
        port=int(raw.get("port", 8000)),
        database_url=os.environ.get("DATABASE_URL", "") or str(raw.get("database_url", "")),
        public_url=_public_url(path, raw.get("public_url", "")),
        secrets=ensure_secrets(data_dir),
    )
