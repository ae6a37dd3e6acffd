"""POST /api/nodes/enrol: a township presents the county's one-time code and its public keys.

No session: the code is the credential, so the caller sends `Authorization: Enrolment` (a
machine client; a request without that header or a cookie's CSRF token is refused as a forged
form). Every refusal of a code counts against the township's code and the caller's address
(`enrol` rate-limit scope); 403 says why in Chinese, the same words for an unknown and a
mistyped code. On success the county answers with its own public keys, for the township to pin.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Request, post
from litestar.params import JSONBody
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from server.auth.access import Forbidden, NotFound
from server.auth.ratelimit import locked_minutes, record_failure, throttle_keys
from server.crypto.fields import FieldCipher
from server.db import Database
from server.forms import ValidationFailed
from server.nodes.enrolment import EnrolmentRefused, do_enrol_child
from server.nodes.keys import node_keys
from server.org.codes import normalise
from server.settings import Settings
from sync.keys import PublicKeys


class PublicKeysJson(BaseModel):
    """一个节点的公钥：P-256 公钥的 SEC1 非压缩点，base64url（不带 =）。"""

    key_id: str | None = Field(default=None, description="密钥编号（16 字节，base64url），选填")
    signing: str = Field(description="签名公钥（ECDSA P-256）")
    receiving: str = Field(description="接收公钥（HPKE P-256）")


class EnrolRequest(BaseModel):
    """乡镇接入县级：县级给出的一次性接入码、乡镇的区划代码和名称、乡镇的公钥。"""

    code: str = Field(description="接入码，16 位，每 4 位一组，例如 7KQ2-M9XD-4HTB-W3RC")
    region_code: str = Field(description="乡镇的 12 位区划代码，须与接入码所发给的乡镇一致")
    name: str = Field(description="乡镇便民服务中心的名称")
    keys: PublicKeysJson


class EnrolAnswer(BaseModel):
    """县级的区划代码、名称和公钥，供乡镇固定（pin）下来。"""

    region_code: str
    name: str
    keys: PublicKeysJson


@post(
    "/nodes/enrol",
    summary="乡镇接入县级（一次性接入码）",
    description="只在县级节点可用。无需登录：接入码即凭证，须带请求头 Authorization: Enrolment。"
    "接入码 24 小时内有效、只能用一次。403：接入码不对、已过期、已用过或不是发给这个乡镇的；"
    "422：字段有误（errors 按字段）；429：尝试太多次。",
    tags=["nodes"],
    status_code=200,
)
async def enrol(request: Request[Any, Any, Any], data: JSONBody[EnrolRequest]) -> EnrolAnswer:
    state = request.app.state
    settings, db = cast(Settings, state.settings), cast(Database, state.db)
    if settings.role != "county":
        raise NotFound("这个节点不是县级中心，不接受乡镇接入")
    try:
        keys = PublicKeys.from_json(data.keys.model_dump(exclude_none=True))
    except ValueError:
        raise ValidationFailed(
            {"keys": "公钥无效：须是 P-256 公钥（SEC1 非压缩点，base64url）"}
        ) from None
    address = request.client.host if request.client else ""
    # Counted per township (as its code is normalised) and per address.
    throttle = throttle_keys(
        cast(FieldCipher, state.cipher), normalise(data.region_code), address, scope="enrol"
    )
    async with db.session() as session:
        if minutes := await locked_minutes(session, throttle):
            raise HTTPException(429, f"接入码尝试次数太多，请 {minutes} 分钟后再试")
        try:
            await do_enrol_child(
                session=session,
                settings=settings,
                code=data.code,
                region_code=data.region_code,
                name=data.name,
                keys=keys,
                ip=address,
            )
        except EnrolmentRefused as refused:
            await session.rollback()
            await record_failure(session, throttle)
            raise Forbidden(refused.message) from None
    mine = node_keys(request).current.public().to_json()
    return EnrolAnswer(
        region_code=settings.region_code, name=settings.name, keys=PublicKeysJson(**mine)
    )


HANDLERS = [enrol]
