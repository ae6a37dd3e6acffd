"""The Caddyfile: valid for Caddy 2.6, the settings that matter, and a real run on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "Caddyfile"
IMMUTABLE = "public, max-age=31536000, immutable"


def caddy_binary() -> str:
    found = shutil.which("caddy")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is not on PATH; CI must install the Debian package 'caddy'")
        pytest.skip("caddy is not on PATH (install the Debian package 'caddy')")
    return found


@pytest.fixture
def caddy_env(tmp_path: Path) -> dict[str, str]:
    """Caddy's data and config dirs in tmp_path, and no YICHUANG_* from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YICHUANG_")}
    env.update(
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    return env


def caddy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [caddy_binary(), *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def dicts(node: object) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from dicts(value)


def test_caddyfile_validates(caddy_env: dict[str, str]) -> None:
    result = caddy(caddy_env, "validate")
    assert result.returncode == 0, result.stderr


def test_caddyfile_adapts_to_what_matters(caddy_env: dict[str, str]) -> None:
    result = caddy(caddy_env, "adapt")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    everything = list(dicts(config))

    # Named internal CA, never installed into the system trust store, and no ACME.
    authority = config["apps"]["pki"]["certificate_authorities"]["yichuang"]
    assert authority["install_trust"] is False
    assert "Yichuang" in authority["name"]
    assert any(d.get("module") == "internal" and d.get("ca") == "yichuang" for d in everything)
    assert not any(d.get("module") == "acme" for d in everything)

    servers = config["apps"]["http"]["servers"].values()
    https = next(s for s in servers if s["listen"] == [":443"])
    site = list(dicts(https))
    assert any(d.get("host") == ["yichuang.lan"] for d in site)

    encode = next(d for d in site if d.get("handler") == "encode")
    assert set(encode["encodings"]) == {"zstd", "gzip"}
    # Server-sent events must not wait in a compressor's buffer.
    compressed = next(
        route
        for route in site
        if any(h.get("handler") == "encode" for h in route.get("handle", []))
    )
    assert compressed["match"] == [{"not": [{"path": ["/notifications/stream"]}]}]
    proxy = next(d for d in site if d.get("handler") == "reverse_proxy")
    assert proxy["upstreams"] == [{"dial": "127.0.0.1:8000"}]
    assert proxy["flush_interval"] == -1

    headers_set: dict[str, list[str]] = {}
    for d in site:
        if d.get("handler") == "headers" and "set" in d.get("response", {}):
            response = d["response"]
            headers_set.update(response["set"])
            # A default ("?") must depend on its own field only: in Caddy 2.6 a block of
            # several "?" fields is applied only when every one of them is missing.
            if "require" in response:
                assert len(response["require"]["headers"]) == 1, response
    assert headers_set["Strict-Transport-Security"] == ["max-age=31536000"]
    (csp,) = headers_set["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp

    # Versioned static URLs get the immutable default; the app's own value wins ("require").
    versioned = next(
        route
        for route in site
        if {"path": ["/static/*"], "query": {"v": ["*"]}} in route.get("match", [])
    )
    (handler,) = versioned["handle"]
    assert handler["response"]["set"] == {"Cache-Control": [IMMUTABLE]}
    assert handler["response"]["require"] == {"headers": {"Cache-Control": None}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Upstream(BaseHTTPRequestHandler):
    """Stands in for the township server: echoes what Caddy forwarded."""

    def do_GET(self) -> None:
        body = (
            f"upstream host={self.headers['Host']} proto={self.headers['X-Forwarded-Proto']}"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "SAMEORIGIN")  # the app's value must win
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def wait_for(
    fetch: Callable[[], httpx.Response], process: subprocess.Popen[bytes], log: Path
) -> httpx.Response:
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            pytest.fail(f"caddy exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = fetch()
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"caddy did not answer within 10 s:\n{log.read_text()}")
        time.sleep(0.1)


def test_caddy_serves_root_certificate_and_proxies_over_https(
    caddy_env: dict[str, str], tmp_path: Path
) -> None:
    binary = caddy_binary()
    http_port, https_port = free_port(), free_port()
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream_thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    upstream_thread.start()
    ca_dir = tmp_path / "data" / "caddy" / "pki" / "authorities" / "yichuang"
    env = caddy_env | {
        "YICHUANG_HOST": "127.0.0.1",
        "YICHUANG_BIND": "127.0.0.1",
        "YICHUANG_HTTP_PORT": str(http_port),
        "YICHUANG_HTTPS_PORT": str(https_port),
        "YICHUANG_UPSTREAM": f"127.0.0.1:{upstream.server_address[1]}",
        "YICHUANG_CA_DIR": str(ca_dir),
        "YICHUANG_CADDY_ADMIN": "off",
    }
    log = tmp_path / "caddy.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [binary, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", trust_env=False) as plain:
            root = wait_for(lambda: plain.get("/yichuang-root.crt"), process, log)
            assert root.headers["Content-Type"] == "application/x-x509-ca-cert"
            assert root.text.startswith("-----BEGIN CERTIFICATE-----")
            certificate = x509.load_pem_x509_certificate(root.content)
            (common_name,) = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            assert "Yichuang LAN CA" in str(common_name.value)

            page = plain.get("/")
            assert page.status_code == 200
            assert f"https://127.0.0.1:{https_port}/" in page.text
            assert "<script" not in page.text
            assert "Server" not in page.headers

            elsewhere = plain.get("/login?next=/")
            assert elsewhere.status_code == 308
            assert elsewhere.headers["Location"] == f"https://127.0.0.1:{https_port}/login?next=/"

        trust = ssl.create_default_context(cadata=root.text)
        with httpx.Client(
            base_url=f"https://127.0.0.1:{https_port}", verify=trust, trust_env=False
        ) as secure:
            asset = wait_for(lambda: secure.get("/static/css/app.css?v=2c9933e16215"), process, log)
            assert asset.text == f"upstream host=127.0.0.1:{https_port} proto=https"
            assert asset.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert asset.headers["Cache-Control"] == IMMUTABLE
            assert asset.headers["X-Frame-Options"] == "SAMEORIGIN"
            assert "Server" not in asset.headers

            page = secure.get("/")
            assert page.headers["Cache-Control"] == "no-cache"
            assert page.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        upstream.shutdown()
        upstream.server_close()
        upstream_thread.join()
