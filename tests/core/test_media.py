"""Embedded mode's media: only through the owning workspace's signed, expiring URLs, and never a generated
picture (docs/reliability.md R20)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from core.media import media_query
from core.storage import get_storage
from tests.conftest import SERVICES

# Service mode hands out S3's presigned URLs and serves no /media/ route at all.
embedded_only = pytest.mark.skipif(SERVICES, reason="embedded mode serves media itself")


@pytest.fixture
def stored(tmp_path: Path) -> dict[str, str]:
    source = tmp_path / "file.bin"
    source.write_bytes(b"reelsmith media")
    keys = {
        "video": "renders/w1/r1/video.mp4",
        "logo": "brands/w1/b1/logo-abc.png",
        "picture": "generations/ab/abcdef.png",
        "segment": "segments/0123.mp4",
    }
    for key in keys.values():
        get_storage().put_file(key, source, content_type="application/octet-stream")
    return keys


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@embedded_only
def test_a_signed_url_serves_the_file(stored: dict[str, str]) -> None:
    for key in ("video", "logo"):
        url = get_storage().url(stored[key])
        response = Client().get(_path(url))
        assert response.status_code == 200, key
        assert b"".join(response.streaming_content) == b"reelsmith media"  # type: ignore[attr-defined]


@embedded_only
def test_without_a_good_signature_nothing_is_served(stored: dict[str, str]) -> None:
    url = _path(get_storage().url(stored["video"]))
    plain = url.split("?", 1)[0]
    other = _path(get_storage().url(stored["logo"]))
    assert Client().get(plain).status_code == 403
    assert Client().get(plain + "?sig=1xYz:forged").status_code == 403
    # A signature is for its own key only.
    assert Client().get(plain + "?" + other.split("?", 1)[1]).status_code == 403


@embedded_only
def test_signed_urls_expire(stored: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = _path(get_storage().url(stored["video"]))
    later = time.time() + settings.AWS_PRESIGN_SECONDS + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert Client().get(url).status_code == 403


def test_generated_pictures_and_segments_are_never_served(stored: dict[str, str]) -> None:
    """Their keys are hashes of a prompt, shared by every workspace: a URL to one would tell anyone who can
    guess a prompt that some workspace generated it. Not even a correctly signed URL serves them."""
    for key in ("picture", "segment"):
        signed = f"/media/{stored[key]}?{media_query(stored[key])}"
        assert Client().get(signed).status_code == 404, key
        assert Client().get(f"/media/{stored[key]}").status_code == 404, key


def test_escaping_paths_are_refused(stored: dict[str, str]) -> None:
    key = "renders/../generations/ab/abcdef.png"
    assert Client().get(f"/media/{key}?{media_query(key)}").status_code == 404
