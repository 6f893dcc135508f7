"""Where outputs and assets live: local disk (embedded mode) or S3 through boto3 (service mode).

Every boto3 call in Reelsmith is in this file. Keys are deterministic (a render's video key is derived from
its id), so a task that runs twice overwrites the same object instead of leaving two (docs/reliability.md R2).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings


class Storage(Protocol):
    def put_file(self, key: str, path: Path, *, content_type: str) -> None: ...

    def fetch(self, key: str, dest: Path) -> Path: ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...


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
    """Files under MEDIA_ROOT, served by Django at MEDIA_URL (embedded mode)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url

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

    def fetch(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(key), dest)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        return f"{self.base_url}{_safe_key(key)}"

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


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

    def fetch(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, _safe_key(key), str(dest))
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
