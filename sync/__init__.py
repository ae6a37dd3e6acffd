"""The sync library: keys, envelopes, clocks, batches, backoff; independent of `server/`.

- `keys`: a node's P-256 signing and receiving keys, key ids, generations on disk (rotation).
- `envelope`: `seal` and `open_envelope`, the one audited path for what travels between nodes
  (layout in docs/envelope.md, shared vectors in tests/vectors/).
- `hlc`: a hybrid logical clock whose stamps sort as strings.
- `batching`: split serialised items into batches within a byte budget.
- `backoff`: exponential backoff with full jitter for retries.
- `chain`: the hash chain of a case's events. `ids`: time-ordered UUIDv7 identifiers.

It never imports `server/` (ruff's banned-api rule enforces it); the server calls it.
See DESIGN.md §5–6.
"""
