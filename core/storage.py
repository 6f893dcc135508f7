"""Where outputs and assets live: local disk (embedded mode) or S3 through boto3 (service mode).

Every boto3 call in Reelsmith is in this file. Keys are deterministic (a render's video key is derived from
its id), so a task that runs twice overwrites the same object instead of leaving two (docs/reliability.md R2).

Objects whose key names their content (generated pictures, brand files, shared segments) never change, so a
worker keeps them in a bounded local cache (`LocalCache`, `storage_fetch_shared`): a warm worker reads each
from S3 once, and hands it to a render as a hard link, not a copy. Each storage counts what it reads and
writes (`StorageCounters`), so benchmarks and tests can see the bytes that crossed the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from core.media import media_query


@dataclasses.dataclass
class StorageCounters:
    """What one process has moved through a storage: objects and bytes read (fetched) and written."""

    reads: int = 0
    bytes_read: int = 0
    writes: int = 0
    bytes_written: int = 0


class Storage(Protocol):
    counters: StorageCounters

    def put_file(self, key: str, path: Path, *, content_type: str) -> None: ...

    def fetch(self, key: str, dest: Path) -> Path: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"unsafe storage key {key!r}")
    return key


class LocalStorage:
    """Files under MEDIA_ROOT, served by Django at MEDIA_URL (embedded mode) through signed, expiring URLs
    (`core.media`)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url
        self.counters = StorageCounters()

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, tmp)
        if file_sha256(tmp) != file_sha256(path):
            tmp.unlink(missing_ok=True)
            raise OSError(f"checksum mismatch writing {key}")
        tmp.replace(dest)  # atomic: a reader never sees half a file
        self.counters.writes += 1
        self.counters.bytes_written += path.stat().st_size

    def fetch(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(key), dest)
        self.counters.reads += 1
        self.counters.bytes_read += dest.stat().st_size
        return dest

    def link(self, key: str, dest: Path) -> Path:
        """`fetch` as a hard link (a copy across filesystems): for objects that never change. A file is
        replaced whole by `put_file` (a new inode), never written in place, so the link keeps its bytes."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.counters.reads += 1
        if not _link_or_copy(self._path(key), dest):
            self.counters.bytes_read += dest.stat().st_size
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        return f"{self.base_url}{_safe_key(key)}?{media_query(key)}"

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix/` (a workspace's folder); returns how many."""
        folder = self._path(prefix.rstrip("/"))
        if not folder.is_dir():
            return 0
        count = 0
        for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
                count += 1
        folder.rmdir()
        return count


class S3Storage:
    """An S3 bucket: multipart uploads with checksums and content types, presigned GET URLs."""

    # Parts of 16 MiB: above S3's 5 MiB minimum, few parts for a typical 5-50 MB ad.
    PART_SIZE = 16 * 1024 * 1024

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        checksum: str,
        presign_seconds: int,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.checksum = checksum
        self.presign_seconds = presign_seconds
        self.counters = StorageCounters()
        config = Config(
            region_name=region,
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            request_checksum_calculation=checksum,
            response_checksum_validation=checksum,
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url or None, config=config)
        self.transfer = TransferConfig(multipart_threshold=self.PART_SIZE, multipart_chunksize=self.PART_SIZE)

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        extra: dict[str, str] = {"ContentType": content_type}
        if self.checksum == "when_supported":
            # The server verifies each part and the whole object against SHA-256 (docs/reliability.md R15).
            extra["ChecksumAlgorithm"] = "SHA256"
        # On failure s3transfer aborts the multipart upload it started, so no orphaned parts are billed.
        self.client.upload_file(str(path), self.bucket, _safe_key(key), ExtraArgs=extra, Config=self.transfer)
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        if head["ContentLength"] != path.stat().st_size:
            raise OSError(f"size mismatch after upload of {key}")
        self.counters.writes += 1
        self.counters.bytes_written += head["ContentLength"]

    def fetch(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, _safe_key(key), str(dest))
        self.counters.reads += 1
        self.counters.bytes_read += dest.stat().st_size
        return dest

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=_safe_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def url(self, key: str) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": _safe_key(key)},
            ExpiresIn=self.presign_seconds,
        )
        return url

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=_safe_key(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix/` (a workspace's folder), a listed page at a time; returns how many."""
        paginator = self.client.get_paginator("list_objects_v2")
        count = 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=_safe_key(prefix.rstrip("/")) + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                # A listed page holds at most 1000 keys, DeleteObjects' own limit (S3 API reference).
                result = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if result.get("Errors"):
                    raise OSError(f"deleting under {prefix}: {result['Errors'][0]}")
                count += len(keys)
        return count


@functools.cache
def get_storage() -> Storage:
    if settings.AWS_STORAGE_BUCKET_NAME:
        return S3Storage(
            bucket=settings.AWS_STORAGE_BUCKET_NAME,
            endpoint_url=settings.AWS_S3_ENDPOINT_URL or None,
            region=settings.AWS_S3_REGION_NAME,
            checksum=settings.AWS_S3_CHECKSUM,
            presign_seconds=settings.AWS_PRESIGN_SECONDS,
        )
    return LocalStorage(Path(settings.MEDIA_ROOT), f"{settings.PUBLIC_BASE_URL}{settings.MEDIA_URL}")


# --- The worker-local cache of immutable objects -----------------------------------------------------------

# A partial download left by a killed process is removed once it is this old (seconds): no fetch of one
# object runs that long (S3 at a modest 100 MB/s moves the largest intermediate, ~120 MB, in ~1 s).
STALE_PARTIAL_S = 3600
# Eviction brings the cache down to this fraction of its bound, so it does not run again on every insert.
EVICT_TO = 0.9


@dataclasses.dataclass
class LocalCacheCounters:
    hits: int = 0
    misses: int = 0
    bytes_fetched: int = 0  # read from storage on misses


class LocalCache:
    """Immutable objects of one storage on this machine's disk, bounded in bytes, least recently used first
    out, shared by every process on the machine.

    Safe across processes without a server: an object is downloaded to a private temporary file (mkstemp,
    O_EXCL) and renamed into place, so no reader ever sees part of one; two processes fetching the same key
    both download it and the second rename wins (same bytes). Readers get a hard link, so a file evicted (or
    replaced) while a render uses it stays whole for that render. Recency is the file's mtime, touched on
    every hit; eviction runs under an exclusive `flock` so two processes do not both evict. Files are
    read-only (0444): the links handed out share the cache's inode.
    """

    def __init__(self, root: Path, max_bytes: int, namespace: str) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.objects = root / "objects" / namespace
        self.partials = root / "partials"
        self.work = root / "work"  # renders' work folders: on the cache's filesystem, so links work
        for folder in (self.objects, self.partials, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        self.counters = LocalCacheCounters()

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.objects / digest[:2] / f"{digest}{Path(key).suffix}"

    def get(self, key: str, dest: Path) -> bool:
        """Link the cached object to `dest`; False when it is not cached."""
        path = self._path(key)
        try:
            _link_or_copy(path, dest)
        except FileNotFoundError:  # not cached, or evicted by another process just now
            return False
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        self.counters.hits += 1
        return True

    def fetch(self, storage: Storage, key: str, dest: Path) -> Path:
        """`dest` linked to the cached object, fetched from `storage` first when not cached."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.get(key, dest):
            return dest
        self.counters.misses += 1
        with self._partial() as partial:
            storage.fetch(key, partial)
            self.counters.bytes_fetched += partial.stat().st_size
            _link_or_copy(partial, dest)
            self._insert(partial, key)
        self.evict()
        return dest

    def put(self, key: str, source: Path) -> None:
        """Keep a file this process just stored under `key` (so the next render here need not fetch it)."""
        with self._partial() as partial:
            partial.unlink()
            _link_or_copy(source, partial)
            self._insert(partial, key)
        self.evict()

    @contextlib.contextmanager
    def _partial(self) -> Any:
        fd, name = tempfile.mkstemp(dir=self.partials, prefix=f"{os.getpid()}-")
        os.close(fd)
        try:
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def _insert(self, partial: Path, key: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.chmod(0o444)
        os.replace(partial, path)  # atomic: the whole object appears at once

    def size(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, bytes, path) of every cached object, every storage's namespace included."""
        entries = []
        for path in (self.root / "objects").glob("*/*/*"):
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        return entries

    def evict(self) -> None:
        """Over the bound: remove least recently used objects down to EVICT_TO of it, and stale partials."""
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._entries()
            total = sum(size for _, size, _ in entries)
            if total > self.max_bytes:
                for _, size, path in sorted(entries):
                    path.unlink(missing_ok=True)
                    total -= size
                    if total <= self.max_bytes * EVICT_TO:
                        break
            for partial in self.partials.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                        partial.unlink()


def _link_or_copy(source: Path, dest: Path) -> bool:
    """Hard-link `source` at `dest` (replacing it); a copy where links cannot be made (another filesystem).
    True when linked. Raises FileNotFoundError when `source` does not exist."""
    with contextlib.suppress(FileNotFoundError):
        dest.unlink()
    try:
        os.link(source, dest)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    shutil.copyfile(source, dest)
    return False


@functools.cache
def get_local_cache() -> LocalCache | None:
    """This machine's cache in front of S3 storage (None for local storage, which is a disk already, or when
    REELSMITH_LOCAL_CACHE_BYTES is 0). One folder per bucket and endpoint, so two deployments (or two test
    sessions) sharing a machine never read each other's objects."""
    if not settings.AWS_STORAGE_BUCKET_NAME or settings.REELSMITH_LOCAL_CACHE_BYTES <= 0:
        return None
    identity = f"{settings.AWS_S3_ENDPOINT_URL}|{settings.AWS_STORAGE_BUCKET_NAME}"
    return LocalCache(
        Path(settings.REELSMITH_LOCAL_CACHE_DIR),
        settings.REELSMITH_LOCAL_CACHE_BYTES,
        namespace=hashlib.sha256(identity.encode()).hexdigest()[:16],
    )


def storage_fetch_shared(*, key: str, dest: Path) -> Path:
    """Fetch an object whose key names its content (it never changes) into `dest`: through this machine's
    cache in service mode, linked from the media folder in embedded mode."""
    storage, cache = get_storage(), get_local_cache()
    if cache is not None:
        return cache.fetch(storage, key, dest)
    if isinstance(storage, LocalStorage):
        return storage.link(key, dest)
    return storage.fetch(key, dest)


def storage_exists_shared(*, key: str) -> bool:
    """Whether an immutable object exists: a cached one is known to without asking storage."""
    cache = get_local_cache()
    if cache is not None and cache._path(key).is_file():
        return True
    return get_storage().exists(key)


def storage_put_bytes_once(*, key: str, data: bytes, content_type: str) -> None:
    """Store `data` under a key that names its content, unless it is there already (the same upload twice
    is one object)."""
    storage = get_storage()
    if storage.exists(key):
        return
    with tempfile.TemporaryDirectory(prefix="reelsmith-put-") as tmp:
        path = Path(tmp) / "object"
        path.write_bytes(data)
        storage.put_file(key, path, content_type=content_type)


def storage_put_shared(*, key: str, path: Path, content_type: str) -> None:
    """Store an immutable object, and keep it in this machine's cache."""
    get_storage().put_file(key, path, content_type=content_type)
    cache = get_local_cache()
    if cache is not None:
        cache.put(key, path)


def storage_work_dir() -> Path | None:
    """Where a render's work folder goes: beside the cache (one filesystem, so its objects are hard links),
    or None for the system's temporary folder."""
    cache = get_local_cache()
    return cache.work if cache is not None else None
