"""Run records: immutable stored simulations with results hashes (SQLite by default)."""

from .store import RunRecord, RunStore, canonical_json, default_url, sha256

__all__ = ["RunRecord", "RunStore", "canonical_json", "default_url", "sha256"]
