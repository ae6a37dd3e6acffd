"""What the phone's service worker asks on every sync (GET /api/agent/notifications/unread):
signed by the enrolled device, so that it works long after the session ended; only a count, an
id and a link; the agent's own notifications, never another's; a revoked phone is refused."""

from __future__ import annotations

from sqlmodel import select
from starlette.applications import Starlette

from server.notify.actions import do_mark_read, do_notify
from server.notify.models import Notification
from tests.conftest import make_client, signed_in
from tests.factories import Personas
from tests.http.test_agent_uploads import device_headers, enrolled, revoke

URL = "/api/agent/notifications/unread"


async def tell(app: Starlette, user_id: int, key: str, link: str) -> int:
    async with app.state.db.session() as session:
        await do_notify(
            session,
            recipients=[user_id],
            kind="system",
            title="上报件结果已返回",
            text="办件 990102101-20261203-0001 有结果了",
            link=link,
            dedupe_key=key,
        )
        await session.commit()
        query = select(Notification).where(Notification.dedupe_key == key)
        row = (await session.exec(query)).one()
    assert row.id is not None
    return int(row.id)


async def test_the_phone_asks_by_its_signature_and_hears_only_its_agents_news(
    app: Starlette, personas: Personas
) -> None:
    agent, clerk = personas.village_clerk, personas.township_officer
    keys = await enrolled(app, agent.uid)
    async with make_client(app) as client:  # no session at all
        nothing = await client.get(URL, headers=device_headers(keys, "GET", URL))
        assert nothing.status_code == 200, nothing.text
        assert nothing.json() == {"unread": 0, "newest": 0, "link": "/notifications"}

        first = await tell(app, agent.uid, "one", "/agent/outbox")
        second = await tell(app, agent.uid, "two", "/agent")
        await tell(app, clerk.uid, "three", "/cases")  # someone else's
        answer = await client.get(URL, headers=device_headers(keys, "GET", URL))
        assert answer.json() == {"unread": 2, "newest": second, "link": "/agent"}
        assert "990102101" not in answer.text and "上报件" not in answer.text  # no content

        async with app.state.db.session() as session:
            read = await session.get(Notification, second)
            assert read is not None
            await do_mark_read(session, notification=read)
        answer = await client.get(URL, headers=device_headers(keys, "GET", URL))
        assert answer.json() == {"unread": 1, "newest": first, "link": "/agent/outbox"}

        # Signed for another request, garbled, or by a revoked phone: refused, in Chinese.
        forged = await client.get(URL, headers=device_headers(keys, "GET", "/api/agent/uploads"))
        assert forged.status_code == 401 and "本机的签名无效" in forged.json()["detail"]
        await revoke(app, keys)
        revoked = await client.get(URL, headers=device_headers(keys, "GET", URL))
        assert revoked.status_code == 401

    async with signed_in(app, agent.username) as client:  # the session serves as well
        mine = (await client.get(URL)).json()  # (signing in told of the catalogue too)
        assert mine["unread"] >= 1 and mine["newest"] >= first
    async with signed_in(app, clerk.username) as client:
        refused = await client.get(URL)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "只有村代办员的手机查看这个消息数"
