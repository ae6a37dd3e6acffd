from __future__ import annotations

import pytest

from server.org.codes import RegionCodeError, level_of, normalise, validate, within


def test_levels_follow_the_code_shape() -> None:
    assert level_of("990102") == "county"
    assert level_of("990102101000") == "township"
    assert level_of("990102101201") == "village"


def test_nine_digit_township_is_padded() -> None:
    assert normalise(" 990102101 ") == "990102101000"
    assert validate("990102101", "township", "990102") == "990102101000"


@pytest.mark.parametrize(
    ("code", "level", "parent", "fragment"),
    [
        ("99010", "county", "", "6 位"),
        ("990102101201", "township", "", "以 000 结尾"),
        ("990102000000", "township", "", "不能是 000"),
        ("990103101000", "township", "990102", "不属于县 990102"),
        ("990102102201", "village", "990102101000", "不属于乡镇"),
        ("abc", "village", "", "格式不对"),
    ],
)
def test_bad_codes_say_what_is_wrong(code: str, level: str, parent: str, fragment: str) -> None:
    with pytest.raises(RegionCodeError, match=fragment):
        validate(code, level, parent)  # type: ignore[arg-type]


def test_within_follows_the_tree() -> None:
    assert within("990102101201", "990102101000")
    assert within("990102101000", "990102")
    assert not within("990102102201", "990102101000")
    assert not within("990103101000", "990102")
    assert not within("990102101000", "990102101201")
