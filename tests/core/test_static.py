"""Static files (the admin's styles) are served by WhiteNoise with DEBUG off: straight from the apps where
collectstatic has not run (embedded mode, tests), and as the API image serves them, hashed and compressed
from STATIC_ROOT once it has (infra/docker/api.Dockerfile)."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client


def _body(response: Any) -> bytes:
    """The whole body, and the file WhiteNoise opened for it closed."""
    try:
        return b"".join(response.streaming_content) if response.streaming else bytes(response.content)
    finally:
        response.close()


@pytest.mark.django_db
def test_admin_styles_are_served_with_debug_off() -> None:
    assert not settings.DEBUG
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in _body(response)
    # The admin's pages link to it by that name (no manifest here).
    assert 'href="/static/admin/css/base.css"' in Client().get("/admin/login/").content.decode()


@pytest.mark.django_db
def test_collected_static_files_are_served_hashed(settings: Any, tmp_path: Path) -> None:
    """What the API image does: collectstatic with the manifest storage (it must succeed on every app's files),
    then the admin links to hashed names that WhiteNoise serves from STATIC_ROOT, compressed, cached forever."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", "--noinput", stdout=io.StringIO())
    assert (tmp_path / "staticfiles.json").is_file()

    client = Client()  # a new client: WhiteNoise reads its settings when its middleware is made
    page = client.get("/admin/login/").content.decode()
    match = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert match, "the admin does not link to the hashed stylesheet"
    response = client.get(match.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert (
        gzip.decompress(_body(response)) == (tmp_path / match.group(1).removeprefix("/static/")).read_bytes()
    )
