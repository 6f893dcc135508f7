"""The worker-local cache of immutable storage objects: read once, handed out as hard links, bounded, least
recently used out first, and safe when several processes fetch at once (core.storage.LocalCache)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from core.storage import LocalCache, LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "bucket", "http://testserver/media/")
    for name, size in (("a", 400), ("b", 400), ("c", 400)):
        source = tmp_path / f"{name}.bin"
        source.write_bytes(name.encode() * size)
        storage.put_file(f"segments/{name}.mp4", source, content_type="video/mp4")
    return storage


def test_a_warm_cache_reads_each_object_once_and_links_it(tmp_path: Path, storage: LocalStorage) -> None:
    cache = LocalCache(tmp_path / "cache", 10_000, namespace="n")
    first = cache.fetch(storage, "segments/a.mp4", tmp_path / "work1" / "a.mp4")
    second = cache.fetch(storage, "segments/a.mp4", tmp_path / "work2" / "a.mp4")
    assert first.read_bytes() == second.read_bytes() == b"a" * 400
    assert (storage.counters.reads, storage.counters.bytes_read) == (1, 400)
    assert (cache.counters.hits, cache.counters.misses, cache.counters.bytes_fetched) == (1, 1, 400)
    # Both renders hold the cache's own inode: no copy was made.
    assert first.stat().st_ino == second.stat().st_ino == cache._path("segments/a.mp4").stat().st_ino
    assert cache._path("segments/a.mp4").stat().st_mode & 0o777 == 0o444  # read-only: links share it


def test_the_least_recently_used_object_goes_first_and_a_held_link_survives(
    tmp_path: Path, storage: LocalStorage
) -> None:
    cache = LocalCache(tmp_path / "cache", 1000, namespace="n")
    held = cache.fetch(storage, "segments/a.mp4", tmp_path / "w" / "a.mp4")
    cache.fetch(storage, "segments/b.mp4", tmp_path / "w" / "b.mp4")
    past = time.time() - 60
    os.utime(cache._path("segments/b.mp4"), (past, past))
    os.utime(cache._path("segments/a.mp4"), (past - 60, past - 60))
    assert cache.get("segments/b.mp4", tmp_path / "w" / "b2.mp4")  # b is now the most recently used
    cache.fetch(storage, "segments/c.mp4", tmp_path / "w" / "c.mp4")  # 1200 bytes > 1000: evict
    assert not cache._path("segments/a.mp4").exists()
    assert cache._path("segments/b.mp4").exists()
    assert cache._path("segments/c.mp4").exists()
    assert cache.size() <= 1000
    assert held.read_bytes() == b"a" * 400  # the render that held it keeps whole bytes


def test_put_keeps_what_this_process_stored(tmp_path: Path) -> None:
    cache = LocalCache(tmp_path / "cache", 10_000, namespace="n")
    made = tmp_path / "segment.mp4"
    made.write_bytes(b"x" * 100)
    cache.put("segments/new.mp4", made)
    assert cache.get("segments/new.mp4", tmp_path / "again.mp4")
    assert (tmp_path / "again.mp4").read_bytes() == b"x" * 100
    assert not list((tmp_path / "cache" / "partials").iterdir())  # nothing partial left behind


def _fetch_many(root: str, bucket: str, worker: int, rounds: int) -> list[bytes]:
    storage = LocalStorage(Path(bucket), "http://testserver/media/")
    cache = LocalCache(Path(root), 900, namespace="n")  # room for two of the three: constant eviction
    seen = []
    for index in range(rounds):
        name = "abc"[(index + worker) % 3]
        dest = Path(root).parent / f"work-{worker}" / f"{index}.mp4"
        seen.append(cache.fetch(storage, f"segments/{name}.mp4", dest).read_bytes())
    return seen


def test_processes_fetching_and_evicting_at_once_only_ever_see_whole_objects(
    tmp_path: Path, storage: LocalStorage
) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap(
            _fetch_many, [(str(tmp_path / "cache"), str(storage.root), worker, 30) for worker in range(3)]
        )
    for seen in results:
        assert all(data in (b"a" * 400, b"b" * 400, b"c" * 400) for data in seen)
    assert not list((tmp_path / "cache" / "partials").iterdir())
