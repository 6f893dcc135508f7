"""Shared segments kept in the project's storage, so every worker process and render reuses them.

The compositor takes any `SegmentCache` (`render/compose/segments.py`) and knows nothing of storage; this
is the one render's services hand it, on the Django side of the wall.
"""

from __future__ import annotations

from pathlib import Path

from core.storage import Storage, get_storage
from render.compose.segments import SegmentCache

SEGMENT_PREFIX = "segments/"


class StorageSegmentCache(SegmentCache):
    """`segments/<sha256>.mp4` (and `.mkv` moving backgrounds) in `core.storage`: content-addressed, so a key
    is written at most once with the same meaning; two workers racing on one key store equivalent files,
    either one wins."""

    def __init__(self, storage: Storage | None = None) -> None:
        self.storage = storage or get_storage()

    def fetch(self, key: str, dest: Path, *, suffix: str = ".mp4") -> bool:
        name = f"{SEGMENT_PREFIX}{key}{suffix}"
        if not self.storage.exists(name):
            return False
        self.storage.fetch(name, dest)
        return True

    def store(self, key: str, path: Path, *, suffix: str = ".mp4") -> None:
        # .mkv: a moving background (lossless Ut Video, segments._moving_backgrounds).
        content_type = "video/x-matroska" if suffix == ".mkv" else "video/mp4"
        self.storage.put_file(f"{SEGMENT_PREFIX}{key}{suffix}", path, content_type=content_type)
