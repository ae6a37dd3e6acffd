"""Shared test vectors (JSON) and the code that makes them; see README.md here."""
