"""Brands and brand assets through the public API."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from PIL import Image
from rest_framework.test import APIClient

from core import assets

pytestmark = pytest.mark.django_db


def png_bytes(size: tuple[int, int] = (64, 32), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, format=fmt)
    return buffer.getvalue()


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", (i * 97) % 2000) for i in range(int(seconds * rate))))
    return buffer.getvalue()


def create_brand(api: APIClient) -> dict:
    response = api.post(
        "/api/v1/brands/",
        {"name": "Acme", "colors": {"primary": "#112233", "secondary": "#445566", "text": "#ffffff"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def upload(api: APIClient, brand_id: str, kind: str, data: bytes, name: str = "file.bin"):
    return api.post(
        f"/api/v1/brands/{brand_id}/assets/",
        {"kind": kind, "file": _named(data, name)},
        format="multipart",
    )


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_create_brand_normalises_colours(api: APIClient) -> None:
    brand = create_brand(api)
    assert brand["colors"] == {"primary": "#112233", "secondary": "#445566", "text": "#FFFFFF"}
    listed = api.get("/api/v1/brands/").json()
    assert [b["id"] for b in listed["results"]] == [brand["id"]]
    assert "next" in listed


def test_bad_colour_names_the_field(api: APIClient) -> None:
    response = api.post(
        "/api/v1/brands/",
        {"name": "Acme", "colors": {"primary": "red", "secondary": "#445566", "text": "#FFFFFF"}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"]
    assert "colors.primary" in body["fields"]


def test_requests_without_a_key_are_refused(db: None) -> None:
    response = APIClient().get("/api/v1/brands/")
    assert response.status_code == 401
    assert response.json()["message"]
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer rsk_deadbeef_nope")
    assert bad.get("/api/v1/brands/").status_code == 401


def test_revoked_key_stops_working(api: APIClient, workspace) -> None:
    from core.models import ApiKey
    from core.services import api_key_revoke

    assert api.get("/api/v1/brands/").status_code == 200
    for key in ApiKey.objects.filter(workspace=workspace):
        api_key_revoke(api_key=key)
    assert api.get("/api/v1/brands/").status_code == 401


def test_keys_are_stored_hashed(workspace) -> None:
    from core.models import ApiKey
    from core.services import api_key_create

    key, raw = api_key_create(workspace=workspace, name="ci")
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.key_hash, stored.prefix)
    assert raw.startswith(f"rsk_{stored.prefix}_")


def test_logo_font_music_uploads_are_checked(api: APIClient) -> None:
    brand = create_brand(api)
    logo = upload(api, brand["id"], "logo", png_bytes(), "logo.png")
    assert logo.status_code == 201, logo.json()
    assert logo.json()["content_type"] == "image/png"
    assert logo.json()["details"] == {"width": 64, "height": 32}

    import fontpkg_noto_sans

    font_bytes = (fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf").read_bytes()
    font = upload(api, brand["id"], "font", font_bytes, "brand.ttf")
    assert font.status_code == 201, font.json()
    assert font.json()["details"]["family"] == "Noto Sans"

    music = upload(api, brand["id"], "music", wav_bytes(), "jingle.wav")
    assert music.status_code == 201, music.json()
    assert music.json()["details"]["duration"] == pytest.approx(0.5, abs=0.05)

    detail = api.get(f"/api/v1/brands/{brand['id']}/").json()
    assert set(detail["assets"]) == {"logo", "font", "music"}


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("logo", b"GIF89a" + b"\x00" * 100, assets.NOT_AN_IMAGE),
        ("logo", png_bytes(fmt="GIF"), assets.NOT_AN_IMAGE),
        ("logo", b"<svg xmlns='http://www.w3.org/2000/svg'/>", assets.NOT_AN_IMAGE),
        ("font", png_bytes(), assets.NOT_A_FONT),
        ("font", b"\x00\x01\x00\x00" + b"\x00" * 64, assets.NOT_A_FONT),
        ("music", png_bytes(), assets.NOT_AUDIO),
        ("music", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\nfile:///etc/passwd\n", assets.NOT_AUDIO),
        # "video" became a kind (issue 15): a picture uploaded as one is refused naming the file, and an
        # unknown kind still answers naming `kind`.
        ("video", png_bytes(), assets.NOT_VIDEO),
        ("sticker", png_bytes(), None),
    ],
)
def test_bad_uploads_answer_400_naming_the_field(
    api: APIClient, kind: str, data: bytes, message: str | None
) -> None:
    brand = create_brand(api)
    response = upload(api, brand["id"], kind, data)
    assert response.status_code == 400
    body = response.json()
    if message is None:
        assert "kind" in body["fields"]
    else:
        assert body["fields"] == {"file": [message]}


def test_oversized_logo_is_refused(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    brand = create_brand(api)
    monkeypatch.setitem(assets.MAX_BYTES, "logo", 1000)
    response = upload(api, brand["id"], "logo", png_bytes((400, 400)) + b"\x00" * 2000)
    assert response.status_code == 400
    assert response.json()["fields"]["file"] == [assets.TOO_LARGE.format(limit=0)]


def test_decompression_bomb_logo_is_refused(api: APIClient) -> None:
    brand = create_brand(api)
    # 5000 x 5000 of one colour compresses to a few KB but would decode to 75 MB.
    response = upload(api, brand["id"], "logo", png_bytes((5000, 5000)))
    assert response.status_code == 400
    assert response.json()["fields"]["file"] == [assets.TOO_MANY_PIXELS]
