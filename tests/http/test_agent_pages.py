"""The agent's page shells are the same for everyone (the service worker caches one copy for
whoever holds the phone): no name, no CSRF token, no flash; the worker and the manifest."""

from __future__ import annotations

import httpx
import pytest

from server.pwa.worker import SERVICE_WORKER
from tests.conftest import sign_in
from tests.factories import PASSWORD, Personas

SHELLS = ["/agent", "/agent/new", "/agent/outbox", "/agent/unlock", "/offline"]


@pytest.mark.parametrize("path", SHELLS)
async def test_a_shell_is_the_same_signed_in_or_not(
    client: httpx.AsyncClient, personas: Personas, path: str
) -> None:
    anonymous = await client.get(path)
    assert anonymous.status_code == 200
    assert anonymous.headers["Cache-Control"] == "no-cache, private"
    agent = personas.village_clerk
    await sign_in(client, agent.username, PASSWORD)
    signed_in = await client.get(path)
    assert signed_in.text == anonymous.text
    assert agent.display_name not in signed_in.text
    assert "csrf" not in signed_in.text.lower()
    assert "X-CSRF-Token" not in signed_in.text


async def test_the_intake_shell_offers_the_servers_choices(client: httpx.AsyncClient) -> None:
    page = (await client.get("/agent/new")).text
    for text in ("居民身份证", "港澳居民来往内地通行证", "自然人", "法人或其他组织"):
        assert text in page
    assert 'hx-boost="false"' in page  # the PIN and intake forms never go to the server


async def test_the_worker_and_the_manifest(client: httpx.AsyncClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == SERVICE_WORKER.script
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["start_url"] == "/agent"
    page = (await client.get("/signin")).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
