"""Enrolment codes: unambiguous, 80 bits, forgiving to type, stored only as a hash."""

from __future__ import annotations

import hashlib
import math
import re

import pytest

from server.nodes.codes import (
    ALPHABET,
    CODE_LENGTH,
    BadAddress,
    base_url,
    code_hash,
    format_code,
    join_link,
    new_code,
    normalise_code,
    split_join_link,
)

SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def test_a_new_code_is_four_groups_of_four_unambiguous_characters() -> None:
    for _ in range(200):
        code = new_code()
        assert SHAPE.match(code), code
        assert not set(code) & set("ILOU")


def test_a_code_carries_at_least_64_bits() -> None:
    assert len(ALPHABET) == 32 and len(set(ALPHABET)) == 32
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 64
    assert len({new_code() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "typed",
    ["7KQ2-M9XD-4HTB-W3RC", "7kq2m9xd4htbw3rc", " 7KQ2 M9XD 4HTB W3RC ", "7kq2_m9xd-4htb w3rc"],
)
def test_normalising_forgives_case_and_separators(typed: str) -> None:
    assert normalise_code(typed) == "7KQ2M9XD4HTBW3RC"


def test_letters_read_as_digits_are_taken_as_the_digits() -> None:
    assert normalise_code("OOOO-IIII-LLLL-0000") == "0000111111110000"


@pytest.mark.parametrize(
    "typed",
    ["", "7KQ2-M9XD-4HTB", "7KQ2-M9XD-4HTB-W3RCX", "7KQ2-M9XD-4HTB-W3RU", "七KQ2-M9XD-4HTB-W3RC"],
)
def test_what_cannot_be_a_code_normalises_to_nothing(typed: str) -> None:
    assert normalise_code(typed) == ""


def test_the_hash_is_of_the_normalised_code() -> None:
    expected = hashlib.sha256(b"7KQ2M9XD4HTBW3RC").hexdigest()
    assert code_hash("7kq2-m9xd-4htb-w3rc") == code_hash("7KQ2M9XD4HTBW3RC") == expected
    assert code_hash("7KQ2-M9XD-4HTB-W3RD") != expected


def test_format_groups_by_four() -> None:
    assert format_code("7KQ2M9XD4HTBW3RC") == "7KQ2-M9XD-4HTB-W3RC"


def test_the_join_link_keeps_the_code_in_the_fragment() -> None:
    link = join_link("https://zwfw.example.gov.cn/county/", "7kq2m9xd4htbw3rc")
    assert link == "https://zwfw.example.gov.cn/county/#join=7KQ2-M9XD-4HTB-W3RC"
    assert split_join_link(link) == ("https://zwfw.example.gov.cn/county", "7KQ2-M9XD-4HTB-W3RC")
    assert split_join_link("http://10.1.2.3:8001/") == ("http://10.1.2.3:8001", "")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "zwfw.example.gov.cn",
        "ftp://x",
        "https://x/?a=1",
        "http://",
        "http://[::1",  # urlsplit raises ValueError
        "http://10.1.2.3:99999/",  # a port past 65535
        "http://10.1.2.3:80a/",
    ],
)
def test_a_bad_county_address_is_explained(text: str) -> None:
    with pytest.raises(BadAddress, match="县级服务器"):
        base_url(text)
