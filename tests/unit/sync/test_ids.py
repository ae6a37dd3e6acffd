from __future__ import annotations

import uuid

import pytest

from sync.ids import uuid7, uuid7_time_ms


def test_layout_version_and_variant() -> None:
    value = uuid7(now_ms=1_763_800_000_000)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid7_time_ms(value) == 1_763_800_000_000


def test_later_ids_sort_later_and_ids_differ() -> None:
    ids = [uuid7(now_ms=1_000 + step) for step in range(200)]
    assert ids == sorted(ids)
    assert len({uuid7(now_ms=5) for _ in range(1000)}) == 1000


def test_rfc_9562_example_time_field() -> None:
    # RFC 9562 Appendix A.6: 017F22E2-79B0-7CC3-98C4-DC0C0C07398F has unix_ts_ms 0x017F22E279B0.
    example = uuid.UUID("017F22E2-79B0-7CC3-98C4-DC0C0C07398F")
    assert uuid7_time_ms(example) == 0x017F22E279B0
    assert str(uuid7(now_ms=0x017F22E279B0)).startswith("017f22e2-79b0-7")


def test_out_of_range_time_is_refused() -> None:
    with pytest.raises(ValueError):
        uuid7(now_ms=1 << 48)
