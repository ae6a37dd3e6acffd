from __future__ import annotations

import itertools
import random

import pytest

from sync.batching import DEFAULT_BUDGET, batch_ranges, batches


def test_items_fill_batches_up_to_the_budget_in_order() -> None:
    items = [b"a" * 4, b"b" * 4, b"c" * 4, b"d" * 2]
    assert batches(items, budget=8) == [[b"aaaa", b"bbbb"], [b"cccc", b"dd"]]
    assert batches(items, budget=10) == [[b"aaaa", b"bbbb"], [b"cccc", b"dd"]]
    assert batches(items, budget=100) == [items]
    assert batches([], budget=8) == []


def test_an_oversize_item_goes_alone() -> None:
    items = [b"x", b"y" * 50, b"z"]
    assert batches(items, budget=10) == [[b"x"], [b"y" * 50], [b"z"]]


def test_overheads_count() -> None:
    # a JSON array: brackets once, a comma per item (one too many, which is the safe side)
    items = [b"1234", b"5678", b"90"]
    assert batches(items, budget=10, per_item=1, per_batch=2) == [[b"1234"], [b"5678", b"90"]]
    assert batch_ranges([4, 4, 2], budget=10, per_item=1, per_batch=2) == [range(0, 1), range(1, 3)]


def test_random_items_keep_every_invariant() -> None:
    rng = random.Random(3)  # noqa: S311 -- a fixed, reproducible sample, not a secret
    items = [bytes(rng.randrange(1, 9_000)) for _ in range(400)] + [bytes(40_000)]
    rng.shuffle(items)
    result = batches(items)
    assert [item for batch in result for item in batch] == items
    for batch in result:
        assert batch
        assert sum(map(len, batch)) <= DEFAULT_BUDGET or len(batch) == 1
    # greedy: the next item would not have fitted in the batch before it
    for before, after in itertools.pairwise(result):
        assert sum(map(len, before)) + len(after[0]) > DEFAULT_BUDGET


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        batch_ranges([1], budget=0)
    with pytest.raises(ValueError):
        batch_ranges([-1])
