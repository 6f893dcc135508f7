"""Shared segments kept in the project's storage, so every worker process and render reuses them.

The compositor takes any `SegmentCache` (`render/compose/segments.py`) and knows nothing of storage; this
is the one render's services hand it, on the Django side of the wall. Every key is content-addressed, so
reads go through the machine's local cache (`core.storage.storage_fetch_shared`): a warm worker takes a
shared segment, a moving background or a shared preview from its own disk, as a hard link.
"""

from __future__ import annotations

from pathlib import Path

from core.storage import storage_exists_shared, storage_fetch_shared, storage_put_shared
from render.compose.segments import SegmentCache

SEGMENT_PREFIX = "segments/"
# What each kind of cached piece is stored as: a segment or the music (MP4), a moving background or a
# segment's GIF frames (lossless Ut Video in Matroska), a shared poster frame, a GIF of shared seconds.
CONTENT_TYPES = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".jpg": "image/jpeg", ".gif": "image/gif"}


class StorageSegmentCache(SegmentCache):
    """`segments/<sha256><suffix>` in `core.storage`: content-addressed, so a key is written at most once
    with the same meaning; two workers racing on one key store equivalent files, either one wins."""

    def fetch(self, key: str, dest: Path, *, suffix: str = ".mp4") -> bool:
        name = f"{SEGMENT_PREFIX}{key}{suffix}"
        if not storage_exists_shared(key=name):
            return False
        storage_fetch_shared(key=name, dest=dest)
        return True

    def store(self, key: str, path: Path, *, suffix: str = ".mp4") -> None:
        storage_put_shared(
            key=f"{SEGMENT_PREFIX}{key}{suffix}", path=path, content_type=CONTENT_TYPES[suffix]
        )
