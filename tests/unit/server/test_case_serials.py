from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from server.cases.serials import (
    Serial,
    compact_serial,
    make_serial,
    mod97_10_check_digits,
    mod97_10_is_valid,
    parse_serial,
    serial_problem,
)
from server.org.codes import RegionCodeError

DIGITS = "0123456789"
WRONG_CHECK = "流水号校验码不对，可能有输错或前后颠倒的数字，请核对"


# Published ISO/IEC 7064 MOD 97-10 values.
#
# IBAN (ISO 13616) is MOD 97-10 over the rearranged account number. The standard's example
# IBAN GB82 WEST 1234 5698 7654 32, recomputed by hand:
#   1. move the country code and check digits to the end, check digits as 00:
#      WEST12345698765432 GB00
#   2. letters to numbers, A = 10 ... Z = 35 (W = 32, E = 14, S = 28, T = 29, G = 16, B = 11):
#      3214282912345698765432161100
#   3. 3214282912345698765432161100 mod 97 = 16, and 98 - 16 = 82: the check digits "82".
# So the body 32142829123456987654321611 has check digits 82, and with them appended the number
# 3214282912345698765432161182 is 1 modulo 97. Likewise the German example IBAN
# DE89 3704 0044 0532 0130 00: 370400440532013000 DE -> 3704004405320130001314, check 89.
# The rest are from python-stdnum's stdnum/iso7064/mod_97_10.py doctests (given there with the
# 00 placeholder appended).
@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("32142829123456987654321611", "82"),  # GB82 WEST 1234 5698 7654 32
        ("3704004405320130001314", "89"),  # DE89 3704 0044 0532 0130 00
        ("99991234567890121414", "90"),
        ("4354111611551114", "31"),
        ("22181321402534321446701611", "35"),
    ],
)
def test_published_mod97_10_vectors(body: str, check: str) -> None:
    assert mod97_10_check_digits(body) == check
    assert int(body + check) % 97 == 1
    assert mod97_10_is_valid(body + check)
    other = f"{(int(check) + 1) % 100:02d}"
    assert not mod97_10_is_valid(body + other)


def test_mod97_10_keeps_leading_zeros() -> None:
    assert mod97_10_is_valid("08686001256515001121751")  # from the stdnum doctests
    assert mod97_10_check_digits("0") == "98" and mod97_10_check_digits("000") == "98"


def test_the_twin_check_values_00_01_99_are_refused() -> None:
    # 97 * 100 = 0 (mod 97): check 98; 98 - 97 = 01 also makes the number 1 modulo 97.
    assert mod97_10_check_digits("97") == "98" and int("9701") % 97 == 1
    assert mod97_10_is_valid("9798") and not mod97_10_is_valid("9701")
    # 65 * 100 = 1 (mod 97): check 97, twin 00.
    assert mod97_10_check_digits("65") == "97" and int("6500") % 97 == 1
    assert mod97_10_is_valid("6597") and not mod97_10_is_valid("6500")
    # 32 * 100 = 96 (mod 97): check 02, twin 99.
    assert mod97_10_check_digits("32") == "02" and int("3299") % 97 == 1
    assert mod97_10_is_valid("3202") and not mod97_10_is_valid("3299")


def test_check_digits_always_lie_in_02_to_98() -> None:
    assert {mod97_10_check_digits(str(n)) for n in range(97)} == {f"{c:02d}" for c in range(2, 99)}


def test_mod97_10_validity_edge_cases() -> None:
    assert not mod97_10_is_valid("")
    assert not mod97_10_is_valid("98")  # no body
    assert not mod97_10_is_valid("GB82WEST12345698765432")  # letters are converted first
    assert not mod97_10_is_valid("７９４４４")  # full-width: serials are compacted first
    assert mod97_10_is_valid("79444")
    for bad in ("", "12*4", "79 4", "７９４", "٧٩٤", "-794"):
        with pytest.raises(ValueError):
            mod97_10_check_digits(bad)


def test_the_example_serial() -> None:
    # 9901021012611220004200 mod 97 = 5, and 98 - 5 = 93.
    serial = make_serial("990102101", dt.date(2026, 11, 22), 42)
    assert serial == "990102101-261122-00042-93"
    assert int(compact_serial(serial)) % 97 == 1
    assert make_serial("990102101000", dt.date(2026, 11, 22), 42) == serial
    assert parse_serial(serial) == Serial("990102101000", dt.date(2026, 11, 22), 42)


SAMPLES = [
    ("990102101000", dt.date(2026, 11, 22), 42),
    ("990102101000", dt.date(2026, 11, 22), 1),
    ("990102102000", dt.date(2026, 1, 1), 99_999),
    ("350102001000", dt.date(2024, 2, 29), 12_345),
    ("130684100000", dt.date(2031, 12, 31), 7),
    ("659004500000", dt.date(2000, 6, 15), 50_001),
]


@pytest.mark.parametrize(("township", "day", "sequence"), SAMPLES)
def test_round_trip(township: str, day: dt.date, sequence: int) -> None:
    text = make_serial(township, day, sequence)
    assert len(text) == 25 and text[9] == text[16] == text[22] == "-"
    assert text.replace("-", "").isdigit()
    serial = parse_serial(text)
    assert serial == Serial(township_code=township, day=day, sequence=sequence)
    assert str(serial) == text
    assert serial_problem(text) is None


def test_typing_is_forgiven() -> None:
    text = "990102101-261122-00042-93"
    expected = Serial("990102101000", dt.date(2026, 11, 22), 42)
    for typed in (
        "9901021012611220004293",
        " 990102101 261122 00042 93 ",
        "990 102 101 - 2611 22 - 000 42 - 9 3",
        "\t990102101\n261122\n00042 93",
        "９９０１０２１０１－２６１１２２－０００４２－９３",  # full-width, from a Chinese IME
        "990102101—261122—00042—93",  # em dashes
        "990102101–261122–00042–93",  # en dashes
        "990102101\u3000261122\u300000042\u300093",  # ideographic spaces
    ):
        assert parse_serial(typed) == expected, typed
        assert serial_problem(typed) is None
        assert compact_serial(typed) == "9901021012611220004293"
    assert str(parse_serial("9901021012611220004293")) == text


def _with_check(digits: str) -> str:
    return digits + mod97_10_check_digits(digits)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "请填写流水号"),
        (" - ", "请填写流水号"),
        ("990102101-261122-00042", "流水号应为 22 位数字"),
        ("990102101-261122-00042-9", "现为 21 位"),
        ("990102101-261122-0042-93", "现为 21 位"),
        ("990102101-261122-000042-93", "现为 23 位"),
        ("990102101-261122-00042-P", "现为 21 位"),  # the old MOD 37,36 form
        ("99O102101-261122-00042-93", "流水号的 22 位应全是数字，第 3 位是“O”，请核对"),
        ("990102101-261122-0004A-93", "第 20 位是“A”"),
        ("990102101-261122-00042-9*", "第 22 位是“*”"),
        ("990102101-261122-00042-94", WRONG_CHECK),
        ("990102101-261122-00043-93", WRONG_CHECK),
        ("990102101-261122-00024-93", WRONG_CHECK),
        ("990102101-261122-00042-39", WRONG_CHECK),
        # Parts that pass the check but cannot be: made-up numbers, not typos.
        (_with_check("99010200026112200042"), "第 7–9 位不能是 000"),
        (_with_check("99010210126022900042"), "流水号中的日期 260229 不存在，请核对"),
        (_with_check("99010210126130100042"), "流水号中的日期 261301 不存在"),
        (_with_check("99010210126112200000"), "流水号中的序号不能是 00000，请核对"),
    ],
)
def test_what_is_wrong_is_named(typed: str, message: str) -> None:
    problem = serial_problem(typed)
    assert problem is not None and message in problem
    assert parse_serial(typed) is None


def test_a_twin_check_value_is_refused_in_a_serial() -> None:
    # A body whose check is 98 has the twin 01, which also makes the number 1 modulo 97.
    body = next(
        f"9901021012611220{n:04d}"
        for n in range(1, 10_000)
        if mod97_10_check_digits(f"9901021012611220{n:04d}") == "98"
    )
    assert int(body + "01") % 97 == 1
    assert serial_problem(body + "98") is None
    assert serial_problem(body + "01") == WRONG_CHECK


def test_a_leap_day_is_a_real_day() -> None:
    assert parse_serial(_with_check("99010210124022900042")) == Serial(
        "990102101000", dt.date(2024, 2, 29), 42
    )


@pytest.mark.parametrize(
    ("township", "day", "sequence", "error"),
    [
        ("990102101201", dt.date(2026, 1, 1), 1, RegionCodeError),  # a village
        ("990102", dt.date(2026, 1, 1), 1, RegionCodeError),  # a county
        ("990102000", dt.date(2026, 1, 1), 1, RegionCodeError),  # township part 000
        ("99010210", dt.date(2026, 1, 1), 1, RegionCodeError),
        ("990102101", dt.date(2026, 1, 1), 0, ValueError),
        ("990102101", dt.date(2026, 1, 1), 100_000, ValueError),
        ("990102101", dt.date(1999, 12, 31), 1, ValueError),
        ("990102101", dt.date(2100, 1, 1), 1, ValueError),
    ],
)
def test_make_serial_refuses_bad_arguments(
    township: str, day: dt.date, sequence: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_serial(township, day, sequence)


def test_the_arithmetic_behind_the_guarantee() -> None:
    # The digit i places from the right weighs 10^i. One wrong digit moves the number by
    # d * 10^i, two different neighbours swapped by (a - b) * 9 * 10^i, two different digits k
    # places apart swapped by (a - b) * (10^k - 1) * 10^i: never a multiple of 97 in 22 digits.
    for i in range(22):
        for d in range(1, 10):
            assert d * 10**i % 97 != 0
            for k in range(1, 22 - i):
                assert d * (10**k - 1) * 10**i % 97 != 0


def _typos(compact: str) -> tuple[list[str], list[str], list[str]]:
    """Every single wrong digit, every swap of two different neighbours, and of any two digits."""
    substitutions = [
        compact[:i] + wrong + compact[i + 1 :]
        for i, right in enumerate(compact)
        for wrong in DIGITS
        if wrong != right
    ]
    neighbours = [
        compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :]
        for i in range(len(compact) - 1)
        if compact[i] != compact[i + 1]
    ]
    anywhere = []
    for i, j in itertools.combinations(range(len(compact)), 2):
        if compact[i] != compact[j]:
            chars = list(compact)
            chars[i], chars[j] = chars[j], chars[i]
            anywhere.append("".join(chars))
    return substitutions, neighbours, anywhere


def test_the_typos_are_what_they_say() -> None:
    substitutions, neighbours, anywhere = _typos("9901021012611220004293")
    assert len(substitutions) == 22 * 9
    # 9901021012611220004293 has 16 neighbouring pairs of different digits, e.g. 00120 -> 01020.
    assert len(neighbours) == 16 and "9901021012611220004239" in neighbours
    assert set(neighbours) <= set(anywhere)


MORE_SAMPLES = [
    *SAMPLES,
    *(("990102101000", dt.date(2026, 11, 22), seq) for seq in range(100, 140)),
    *(("990102101000", dt.date(2026, 11, 22), seq) for seq in (120, 210, 12_021, 98_789)),
    *(("990102103000", dt.date(2027, 3, d), 300 + d) for d in range(1, 32)),
]


@pytest.mark.parametrize(("township", "day", "sequence"), MORE_SAMPLES)
def test_sample_serials_catch_every_single_typo_and_swap(
    township: str, day: dt.date, sequence: int
) -> None:
    compact = compact_serial(make_serial(township, day, sequence))
    substitutions, neighbours, anywhere = _typos(compact)
    # Every position, the two check digits included; caught by the check, not by luck.
    for typo in (*substitutions, *neighbours, *anywhere):
        assert serial_problem(typo) == WRONG_CHECK, typo
        assert not mod97_10_is_valid(typo)


def test_random_serials_catch_every_single_typo_and_swap() -> None:
    rng = random.Random(20261122)  # noqa: S311 -- a fixed, reproducible sample, not a secret
    for _ in range(300):
        township = f"{rng.randrange(110000, 660000)}{rng.randrange(1, 1000):03d}000"
        day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(36_524))
        compact = compact_serial(make_serial(township, day, rng.randrange(1, 100_000)))
        assert serial_problem(compact) is None
        substitutions, neighbours, anywhere = _typos(compact)
        for typo in (*substitutions, *neighbours, *anywhere):
            assert serial_problem(typo) == WRONG_CHECK, typo


def test_the_old_blind_spot_is_gone() -> None:
    # Under MOD 37,36 the 120th and the 210th case of a day in one township shared a check
    # character, so a clerk typing 00210 for 00120 found the other case. Not any more.
    a = make_serial("990102101", dt.date(2026, 11, 22), 120)
    b = make_serial("990102101", dt.date(2026, 11, 22), 210)
    assert a[-2:] != b[-2:]
    assert serial_problem(b[:-2] + a[-2:]) == WRONG_CHECK
    assert serial_problem(a[:-2] + b[-2:]) == WRONG_CHECK
