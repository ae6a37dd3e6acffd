"""The notification centre's pages and API: the badge, the list, reading, preferences, the
stream, push subscriptions; only one's own notifications, whoever asks."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.app import create_app
from server.auth.models import Role, User
from server.catalog.models import CatalogItemVersion
from server.notify import views
from server.notify.actions import do_notify
from server.notify.models import Notification, PushSubscription
from server.notify.push import NOT_ALLOWED
from server.settings import Settings, SettingsError
from tests.conftest import csrf_of, post_form, running, signed_in
from tests.factories import Personas, make_item, make_personas
from tests.notify_support import told

BADGE = re.compile(r'<span id="notify-count" class="badge"( hidden)?>(\d+)</span>')


async def tell(app: Starlette, user: User, key: str, link: str = "/cases") -> Notification:
    async with app.state.db.session() as session:
        await do_notify(
            session,
            recipients=[user.id],
            kind="system",
            title=f"消息 {key}",
            text="正文",
            link=link,
            dedupe_key=key,
        )
        await session.commit()
    return (await told(app, user))[-1]


def badge(html: str) -> tuple[bool, int]:
    found = BADGE.search(html)
    assert found, "no badge in the header"
    return found[1] is None, int(found[2])


async def test_the_badge_counts_unread_on_every_page(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    async with signed_in(app, clerk.username) as client:
        # Signing in told of the persona item, made after the accounts (a new catalogue item).
        assert badge((await client.get("/")).text) == (True, 1)
        await post_form(client, "/notifications/read", {}, "/notifications")
        assert badge((await client.get("/")).text) == (False, 0)
        await tell(app, clerk, "a")
        await tell(app, clerk, "b")
        await tell(app, personas.admin, "c")  # someone else's
        for path in (
            "/",
            "/cases",
            "/cases/new",
            "/catalog",
            "/notifications",
            "/notifications/preferences",
            "/admin/calendar",
            "/account/password",
        ):
            assert badge((await client.get(path)).text) == (True, 2), path
        # A form sent back with a mistake is a whole page: its badge is right too.
        wrong = {"current": "不是密码", "new": "Xinmima-2026-long", "confirm": "Xinmima-2026-long"}
        answer = await post_form(client, "/account/password", wrong, "/account/password")
        assert answer.status_code == 422 and badge(answer.text) == (True, 2)
        missing = await client.get("/cases/no-such-case")
        assert missing.status_code == 404 and badge(missing.text) == (True, 2)
        assert (await client.get("/api/notifications/count")).json() == {"count": 2}


async def test_the_list_reads_and_marks(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    first = await tell(app, clerk, "a", link="/cases")
    await tell(app, clerk, "b")
    async with signed_in(app, clerk.username) as client:
        page = await client.get("/notifications")
        assert page.status_code == 200
        assert "消息 a" in page.text and "消息 b" in page.text
        assert page.text.index("消息 b") < page.text.index("消息 a")  # newest first
        response = await post_form(
            client, f"/notifications/{first.id}/read", {"next": "/cases"}, "/notifications"
        )
        assert (response.status_code, response.headers["location"]) == (303, "/cases")
        assert badge((await client.get("/")).text) == (True, 2)  # and the catalogue's
        response = await post_form(client, "/notifications/read", {}, "/notifications")
        assert (response.status_code, response.headers["location"]) == (303, "/notifications")
        assert badge((await client.get("/notifications")).text) == (False, 0)
        # An outside address in `next` is ignored.
        response = await post_form(
            client, f"/notifications/{first.id}/read", {"next": "//evil.test/"}, "/notifications"
        )
        assert response.headers["location"] == "/notifications"


async def test_another_users_notification_is_not_found(app: Starlette, personas: Personas) -> None:
    theirs = await tell(app, personas.admin, "secret")
    async with signed_in(app, personas.township_officer.username) as client:
        response = await post_form(client, f"/notifications/{theirs.id}/read", {}, "/notifications")
        assert response.status_code == 404
        assert "消息 secret" not in (await client.get("/notifications")).text
        listed = (await client.get("/api/notifications")).json()
        assert [n["kind"] for n in listed["items"]] == ["catalog"] and listed["unread"] == 1
    assert (await told(app, personas.admin))[0].read_at is None


async def test_paging(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    for number in range(views_page_size() + 3):
        await tell(app, clerk, f"n{number:02d}")
    async with signed_in(app, clerk.username) as client:
        first = await client.get("/notifications")  # 23 and the catalogue's
        assert "第 1 页，共 2 页" in first.text and "消息 n22" in first.text
        second = await client.get("/notifications?page=2")
        assert "消息 n00" in second.text and "消息 n22" not in second.text
        api = (await client.get("/api/notifications?page=2")).json()
        assert api["page"] == 2 and len(api["items"]) == 4


async def test_odd_numbers_in_the_address_are_not_a_crash(
    app: Starlette, personas: Personas
) -> None:
    """A superscript digit passes str.isdigit() but not int(); a number past the id column
    overflows it: the first page, and "not found", never a 500."""
    async with signed_in(app, personas.township_officer.username) as client:
        for page in ("²", "99999999999999999999"):
            assert (await client.get(f"/notifications?page={page}")).status_code == 200
        huge = "/notifications/99999999999999999999/read"
        assert (await post_form(client, huge, {}, "/notifications")).status_code == 404


def views_page_size() -> int:
    from server.notify.queries import PAGE_SIZE

    return PAGE_SIZE


async def test_preferences_keep_deadlines_on(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    async with signed_in(app, clerk.username) as client:
        page = await client.get("/notifications/preferences")
        assert page.status_code == 200 and "期限预警（不能关闭）" in page.text
        token = await csrf_of(client, "/notifications/preferences")
        response = await client.post(
            "/notifications/preferences",
            data={"csrf_token": token, "kind": ["assigned"]},  # result, supplement… off
        )
        assert response.status_code == 303
        page = await client.get("/notifications/preferences")
        checked = set(re.findall(r'value="(\w+)" checked', page.text))
        assert checked == {"assigned", "deadline", "system"}


async def test_a_new_catalogue_version_is_told_once_at_sign_in(
    app: Starlette, personas: Personas
) -> None:
    clerk = personas.township_officer
    for _ in range(2):
        async with signed_in(app, clerk.username):
            pass
    # The persona item was made after the account: one notification, not one a sign-in.
    (first,) = await told(app, clerk)
    assert "1 个事项" in first.text
    await make_item(app, basic_code="992000109000", name="新事项")
    await make_item(app, basic_code="992000110000", name="又一事项")
    for _ in range(2):
        async with signed_in(app, clerk.username):
            pass
    (_first, note) = await told(app, clerk)
    assert (note.kind, note.title, note.link) == ("catalog", "事项目录已更新", "/catalog")
    assert "2 个事项" in note.text
    async with app.state.db.session() as session:
        newest = max(v.id or 0 for v in (await session.exec(select(CatalogItemVersion))).all())
    assert note.dedupe_key == f"catalog:{newest}"


async def test_the_stream_sends_the_count(
    app: Starlette, personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = personas.township_officer
    await tell(app, clerk, "a")
    monkeypatch.setattr(views, "STREAM_LIFETIME_S", 0.2)
    monkeypatch.setattr(views, "STREAM_POLL_S", 0.05)
    async with signed_in(app, clerk.username) as client:
        response = await client.get(
            "/notifications/stream", headers={"Accept": "text/event-stream"}
        )
        once = await client.get("/notifications/stream")  # not an EventSource: one event
    assert once.status_code == 200 and once.text.count("event: count") == 1
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "no-transform" in response.headers["cache-control"]
    assert "content-encoding" not in response.headers
    events = [block for block in response.text.split("\r\n\r\n") if "event: count" in block]
    assert len(events) == 1  # only when something changed
    assert '"count": 2' in events[0]  # and the catalogue's


async def test_the_stream_and_the_api_need_a_session(app: Starlette, personas: Personas) -> None:
    from tests.conftest import make_client

    async with make_client(app) as client:
        response = await client.get("/notifications/stream")
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")
        assert (await client.get("/api/notifications/count")).status_code == 401


SUBSCRIPTION = {  # Chrome's push service, allowed when node.toml has no [push] hosts
    "endpoint": "https://fcm.googleapis.com/fcm/send/abc:APA91bExample",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
}


async def test_push_subscriptions_belong_to_the_user(app: Starlette, personas: Personas) -> None:
    clerk, lead = personas.township_officer, personas.by_role[Role.WINDOW_LEAD]
    async with signed_in(app, clerk.username) as client:
        key = (await client.get("/api/push/key")).json()["public_key"]
        assert len(key) == 87  # 65 bytes, base64url without padding
        # Like every unsafe request from a browser: the session's CSRF token is needed.
        refused = await client.post("/api/push/subscriptions", json=SUBSCRIPTION)
        assert refused.status_code == 403
        token = await csrf_of(client, "/notifications")
        headers = {"X-CSRF-Token": token}
        created = await client.post("/api/push/subscriptions", json=SUBSCRIPTION, headers=headers)
        assert created.status_code == 201, created.text
        bad = {**SUBSCRIPTION, "endpoint": "http://fcm.googleapis.com/fcm/send/x"}
        invalid = await client.post("/api/push/subscriptions", json=bad, headers=headers)
        assert invalid.status_code == 422 and "https" in invalid.json()["errors"]["endpoint"]
    async with signed_in(app, lead.username) as client:
        token = await csrf_of(client, "/notifications")
        gone = await client.request(
            "DELETE",
            "/api/push/subscriptions",
            json={"endpoint": SUBSCRIPTION["endpoint"]},
            headers={"X-CSRF-Token": token},
        )
        assert gone.status_code == 404  # not the lead's to remove
    async with signed_in(app, clerk.username) as client:
        token = await csrf_of(client, "/notifications")
        gone = await client.request(
            "DELETE",
            "/api/push/subscriptions",
            json={"endpoint": SUBSCRIPTION["endpoint"]},
            headers={"X-CSRF-Token": token},
        )
        assert gone.status_code == 204
    async with app.state.db.session() as session:
        assert (await session.exec(select(PushSubscription))).all() == []


# Addresses inside the government network, or names only looking like a push service's: the
# job would POST to them from the server. Refused when subscribing, so never a request.
REFUSED = {
    "https://10.0.0.5/admin": NOT_ALLOWED,
    "https://county-internal/api/x": NOT_ALLOWED,
    "https://127.0.0.1/x": NOT_ALLOWED,  # loopback only when listed
    "https://localhost/": NOT_ALLOWED,
    "http://127.0.0.1:8000/x": NOT_ALLOWED,
    "https://fcm.googleapis.com.evil.test/x": NOT_ALLOWED,
    "https://evilfcm.googleapis.com/x": NOT_ALLOWED,
    "https://fcm.googleapis.com@10.0.0.5/x": "用户名",
    "https://user@fcm.googleapis.com/x": "用户名",
    "https://fcm.googleapis.com:8443/x": "端口",
    "https://fcm.googleapis.com\\@10.0.0.5/x": "不正确",
    "https://fcm.googleapis.com]/x": "不正确",  # urlsplit raises: a 422, never a 500
    "ftp://fcm.googleapis.com/x": "https://",
}


async def test_push_endpoints_outside_the_push_services_are_refused(
    app: Starlette, personas: Personas
) -> None:
    async with signed_in(app, personas.township_officer.username) as client:
        headers = {"X-CSRF-Token": await csrf_of(client, "/notifications")}
        for endpoint, message in REFUSED.items():
            answer = await client.post(
                "/api/push/subscriptions",
                json={**SUBSCRIPTION, "endpoint": endpoint},
                headers=headers,
            )
            assert answer.status_code == 422, (endpoint, answer.text)
            assert message in answer.json()["errors"]["endpoint"], endpoint
        for endpoint in (  # the browsers' own push services, as their endpoints look
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABexample",
            "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAexample%3d",
            "https://web.push.apple.com/QGuQyavXutnMH4example",
        ):
            answer = await client.post(
                "/api/push/subscriptions",
                json={**SUBSCRIPTION, "endpoint": endpoint},
                headers=headers,
            )
            assert answer.status_code == 201, (endpoint, answer.text)
    async with app.state.db.session() as session:
        stored = {row.endpoint for row in (await session.exec(select(PushSubscription))).all()}
    assert len(stored) == 3 and not stored & set(REFUSED)


def add_push_table(settings: Settings, table: str) -> None:
    node_toml = settings.data_dir / "node.toml"
    node_toml.write_text(node_toml.read_text(encoding="utf-8") + table, encoding="utf-8")


async def test_node_toml_push_hosts_replace_the_browsers_services(settings: Settings) -> None:
    add_push_table(settings, '\n[push]\nhosts = ["push.example.test"]\n')
    async with running(settings) as app:
        personas = await make_personas(app)
        async with signed_in(app, personas.township_officer.username) as client:
            headers = {"X-CSRF-Token": await csrf_of(client, "/notifications")}

            async def subscribe(endpoint: str) -> int:
                body = {**SUBSCRIPTION, "endpoint": endpoint}
                answer = await client.post("/api/push/subscriptions", json=body, headers=headers)
                return answer.status_code

            assert await subscribe("https://push.example.test/send/abc") == 201
            assert await subscribe("https://eu.push.example.test/send/abc") == 201
            assert await subscribe("https://fcm.googleapis.com/fcm/send/abc") == 422


def test_a_bad_push_hosts_stops_the_start(settings: Settings) -> None:
    add_push_table(settings, '\n[push]\nhosts = "fcm.googleapis.com"\n')
    with pytest.raises(SettingsError, match=r"\[push\] hosts 应是推送服务主机名"):
        create_app(settings)
