"""The township's side of enrolment: present the county's code, pin the county's keys.

`join_parent` is what `yichuang join` and the township's /admin/nodes page both run. It asks
the county (`POST /api/nodes/enrol`, httpx), checks that the answer is the county this
township belongs to, pins its keys (NodePeer "parent" + PeerKey) and writes the parent's
address, code and name into node.toml. A township already joined says so and stops before it
spends the code; joining again (`rejoin`) needs a fresh code and replaces the pinned keys.
The join goes over the e-government network or HTTPS: whoever answers at the address given
is the county that gets pinned, so `yichuang join` prints the county's key id for the
operator to compare with the one the county's page shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import User
from server.db import utcnow
from server.forms import ValidationFailed
from server.nodes.codes import BadAddress, format_code, normalise_code, split_join_link
from server.nodes.models import NodePeer
from server.nodes.peers import do_add_peer_key
from server.nodes.queries import parent_peer
from server.org.actions import do_ensure_org_unit
from server.org.models import OrgUnit
from server.settings import SETTINGS_FILE, Settings
from sync.keys import PublicKeys

ENROL_PATH = "/api/nodes/enrol"
TIMEOUT = httpx.Timeout(20.0, connect=10.0)


@dataclass(frozen=True)
class CountyAnswer:
    region_code: str
    name: str
    keys: PublicKeys


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: message})


def join_target(parent: str, code: str) -> tuple[str, str]:
    """The county's base address and the normalised code, from the form or the command line.

    `parent` may be the join link itself (`…/#join=CODE`); a code typed separately wins.
    """
    errors: dict[str, str] = {}
    base, linked = "", ""
    try:
        base, linked = split_join_link(parent)
    except BadAddress as exc:
        errors["parent_url"] = str(exc)
    normalised = normalise_code(code or linked)
    if not normalised:
        errors["code"] = (
            "请填写县级给出的接入码：16 位字母和数字，例如 7KQ2-M9XD-4HTB-W3RC"
            if (code or linked)
            else "请填写县级给出的接入码"
        )
    if errors:
        raise ValidationFailed(errors)
    return base, normalised


async def request_enrolment(
    *,
    base: str,
    code: str,
    settings: Settings,
    keys: PublicKeys,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CountyAnswer:
    """Present the code and this node's public keys to the county; its answer, checked."""
    body = {
        "code": format_code(code),
        "region_code": settings.region_code,
        "name": settings.name,
        "keys": keys.to_json(),
    }
    # The Authorization header marks a machine client (no cookie, no CSRF token to send).
    headers = {"Authorization": "Enrolment", "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT, trust_env=False) as http:
            response = await http.post(base + ENROL_PATH, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise _refuse(
            "parent_url", f"连不上县级服务器 {base}：{exc or type(exc).__name__}"
        ) from exc
    answer = _json(response)
    if response.status_code != 200:
        detail = answer.get("detail") if isinstance(answer.get("detail"), str) else ""
        field = "code" if response.status_code in (403, 429) else "parent_url"
        raise _refuse(field, detail or f"县级服务器拒绝了接入（HTTP {response.status_code}）")
    return _county_answer(answer, settings)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _county_answer(answer: dict[str, Any], settings: Settings) -> CountyAnswer:
    region, name = str(answer.get("region_code", "")), str(answer.get("name", "")).strip()
    try:
        keys = PublicKeys.from_json(answer.get("keys"))
    except ValueError:
        raise _refuse("parent_url", "县级服务器的回答里没有有效的公钥：请核对网址") from None
    expected = settings.parent_region_code or settings.region_code[:6]
    if region != expected or not name:
        raise _refuse(
            "parent_url",
            f"这个地址上的服务器是 {name or '?'}（{region or '?'}），"
            f"不是本乡镇所属的县（{expected}）",
        )
    return CountyAnswer(region_code=region, name=name[:100], keys=keys)


async def do_pin_parent(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: User | None,
    county: CountyAnswer,
    url: str,
    ip: str = "",
) -> NodePeer:
    """Pin the county: its peer row and its keys (earlier pinned keys revoked); commits."""
    await do_ensure_org_unit(
        session=session, code=county.region_code, name=county.name, level="county"
    )
    own = await session.get(OrgUnit, settings.region_code)
    if own is not None and own.parent_code != county.region_code:
        own.parent_code = county.region_code
        session.add(own)
    peer = await session.get(NodePeer, county.region_code)
    if peer is None:
        peer = NodePeer(region_code=county.region_code, name=county.name, relation="parent")
    peer.name, peer.relation, peer.url = county.name, "parent", url
    peer.enrolled_at, peer.revoked_at = utcnow(), None
    session.add(peer)
    await session.flush()
    await do_add_peer_key(
        session=session, region_code=county.region_code, keys=county.keys, replace="revoke"
    )
    do_record_audit(
        session=session,
        actor_id=actor.id if actor else None,
        action="node.join",
        target=county.region_code,
        ip=ip,
        url=url,
        key_id=county.keys.key_id.hex(),
    )
    await session.commit()
    return peer


async def join_parent(
    *,
    session: AsyncSession,
    settings: Settings,
    keys: PublicKeys,
    parent: str,
    code: str,
    rejoin: bool = False,
    actor: User | None = None,
    ip: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[NodePeer, PublicKeys]:
    """Join the county (see the module's docstring); ValidationFailed by field otherwise."""
    if settings.role != "township":
        raise _refuse("parent_url", "只有乡镇节点接入县级；县级节点为乡镇生成接入码")
    base, normalised = join_target(parent, code)
    current = await parent_peer(session)
    if current is not None and not rejoin:
        raise _refuse(
            "rejoin",
            f"本中心已接入 {current.name}（{current.region_code}）。如需重新接入（例如县级换了"
            "服务器或密钥），请向县级要一个新的接入码，并选择“重新接入”（命令行加 --rejoin）",
        )
    county = await request_enrolment(
        base=base, code=normalised, settings=settings, keys=keys, transport=transport
    )
    peer = await do_pin_parent(
        session=session, settings=settings, actor=actor, county=county, url=base, ip=ip
    )
    write_parent_settings(
        settings.data_dir, url=base, region_code=county.region_code, name=county.name
    )
    return peer, county.keys


def write_parent_settings(data_dir: Path, *, url: str, region_code: str, name: str) -> None:
    """Set parent_url, parent_region_code and parent_name in node.toml, keeping the rest."""
    path = data_dir / SETTINGS_FILE
    values = {"parent_url": url, "parent_region_code": region_code, "parent_name": name}
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in values:
            lines[index] = f"{key} = {json.dumps(values.pop(key), ensure_ascii=False)}"
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    temporary = path.with_name(f".{SETTINGS_FILE}.{os.getpid()}")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(temporary, path.stat().st_mode & 0o777)
    os.replace(temporary, path)
