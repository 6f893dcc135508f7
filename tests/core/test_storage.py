"""Storage: local disk in embedded mode, S3 (SeaweedFS, signatures checked) in service mode."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from core.storage import LocalStorage, S3Storage, get_storage


def test_local_storage_round_trip_and_refuses_escaping_keys(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media", "http://testserver/media/")
    source = tmp_path / "a.bin"
    source.write_bytes(b"reelsmith" * 1000)
    storage.put_file("renders/w/r/video.mp4", source, content_type="video/mp4")
    assert storage.exists("renders/w/r/video.mp4")
    # Served through a signed, expiring URL (core.media, docs/reliability.md R20).
    assert storage.url("renders/w/r/video.mp4").startswith(
        "http://testserver/media/renders/w/r/video.mp4?sig="
    )
    fetched = storage.fetch("renders/w/r/video.mp4", tmp_path / "out" / "b.bin")
    assert fetched.read_bytes() == source.read_bytes()
    for key in ("../etc/passwd", "/abs", "a//b", "a/./b", ""):
        with pytest.raises(ValueError, match="unsafe storage key"):
            storage.put_file(key, source, content_type="text/plain")


@pytest.mark.services
def test_s3_multipart_upload_with_checksum_content_type_and_presigned_url(tmp_path: Path) -> None:
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(S3Storage.PART_SIZE + 1024 * 1024))  # two parts
    storage.put_file("tests/big.mp4", big, content_type="video/mp4")
    head = storage.client.head_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key="tests/big.mp4", ChecksumMode="ENABLED"
    )
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == big.stat().st_size
    assert head["ChecksumSHA256"].endswith("-2")  # a composite checksum over the two parts
    with urllib.request.urlopen(storage.url("tests/big.mp4"), timeout=30) as response:  # noqa: S310  (presigned http URL we minted)
        assert response.read() == big.read_bytes()
    assert storage.exists("tests/big.mp4")
    storage.delete("tests/big.mp4")
    assert not storage.exists("tests/big.mp4")
