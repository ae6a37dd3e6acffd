from __future__ import annotations

import subprocess
import sys

import pytest

from server.auth.passwords import password_problem
from server.context import safe_next
from server.users.actions import temporary_password
from server.users.rules import normalise_phone, phone_problem, role_problem, username_problem


@pytest.mark.parametrize(
    ("password", "ok"),
    [("short1", False), ("12345678", False), ("abcdefgh", False), ("abcd1234", True)],
)
def test_password_rules(password: str, ok: bool) -> None:
    assert (password_problem(password) is None) is ok


def test_temporary_passwords_pass_the_rules_and_differ() -> None:
    words = {temporary_password() for _ in range(20)}
    assert len(words) == 20
    assert all(password_problem(word) is None for word in words)


def test_phone_normalising_and_checks() -> None:
    assert normalise_phone("+86 138-0013-8000") == "13800138000"
    assert normalise_phone("8613800138000") == "13800138000"
    assert phone_problem("13800138000") is None
    assert phone_problem("") is None
    assert "11 位" in (phone_problem("12345") or "")


def test_usernames_and_roles() -> None:
    assert username_problem("zhen.clerk") is None
    assert username_problem("Ab") is not None
    assert role_problem("village_agent", "village") is None
    assert "村" in (role_problem("village_agent", "township") or "")
    assert role_problem("clerk", "village") is not None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/users?page=2", "/admin/users?page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        (None, "/"),
    ],
)
def test_next_is_only_a_local_path(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_server_hashes_with_the_recommended_argon2id_parameters() -> None:
    """The suite hashes cheaply (tests/conftest.py); a fresh process, as a server, does not."""
    code = "from server.auth.passwords import hash_password_sync as h; print(h('a1b2c3d4'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
