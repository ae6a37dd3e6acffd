"""Split already-serialised items into batches that stay within a byte budget.

Batches are small (tens of KB, DESIGN.md §5) so that a bad link still makes progress: one lost
batch costs one short retry, not the whole backlog.

Invariants:
- Order is kept: concatenating the batches gives back the items in their order (the outbox
  trims by sequence number, so a batch is always a run of consecutive items).
- An item is never split. A batch's size (its items plus `per_item` each plus `per_batch`)
  stays within `budget`, except for a single item that alone is over the budget: it travels in
  a batch of its own and the caller decides what to do with it (chunk it, or send it anyway).
- No batch is empty. Pure: no I/O, nothing kept between calls.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_BUDGET = 32 * 1024


def batch_ranges(
    sizes: Sequence[int], *, budget: int = DEFAULT_BUDGET, per_item: int = 0, per_batch: int = 0
) -> list[range]:
    """Index ranges of consecutive items whose total size stays within `budget`."""
    if budget <= 0 or per_item < 0 or per_batch < 0:
        raise ValueError("budget must be positive and overheads not negative")
    ranges: list[range] = []
    start, used = 0, per_batch
    for index, size in enumerate(sizes):
        if size < 0:
            raise ValueError("an item size cannot be negative")
        cost = size + per_item
        if index > start and used + cost > budget:
            ranges.append(range(start, index))
            start, used = index, per_batch
        used += cost
    if start < len(sizes):
        ranges.append(range(start, len(sizes)))
    return ranges


def batches(
    items: Sequence[bytes], *, budget: int = DEFAULT_BUDGET, per_item: int = 0, per_batch: int = 0
) -> list[list[bytes]]:
    """The items in batches within `budget` bytes; see `batch_ranges`."""
    sizes = [len(item) for item in items]
    spans = batch_ranges(sizes, budget=budget, per_item=per_item, per_batch=per_batch)
    return [list(items[span.start : span.stop]) for span in spans]
