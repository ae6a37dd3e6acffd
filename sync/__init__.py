"""The sync library: envelopes, batches, outbox, cursors, backoff and transports.

It never imports `server/` (ruff's banned-api rule enforces it); the server calls it.
The sealed-sync issue fills it in; see DESIGN.md §5–6.
"""
