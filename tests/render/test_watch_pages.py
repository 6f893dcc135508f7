"""A render's watch page at /w/<token>: what a recipient (and an unfurler) gets without a key, its links that
never expire, revocation, expiry and erased outputs, and the render API's watch fields."""

from __future__ import annotations

import html
import re
import urllib.request
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from render.models import Render, RenderStatus, WatchPage
from render.watch.selectors import watch_sources
from render.watch.services import watch_page_forget
from tests.core.test_api_brands import png_bytes, upload
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render

# What Chrome on Linux sends; the test client sends no user agent at all, which reads as a bot.
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
CTA = {
    "label": "Book a call, {{first_name}}",
    "url": "https://cal.example.com/acme?name={{first_name}}&c={{company}}",
}


def watch_spec(**changes: Any) -> dict[str, Any]:
    """The small test template without diffusion (a flat background), with subtitles-free captions, a CTA."""
    spec = small_spec(cta=CTA, **changes)
    spec["scenes"][0]["background"] = {"color": "brand.secondary", "motion": "none"}
    return spec


def watched_render(
    api: APIClient, *, spec: dict[str, Any] | None = None, logo: bool = False
) -> dict[str, Any]:
    """A real succeeded render (composed by ffmpeg) through the API, as its detail answers it."""
    brand = make_brand(api)
    if logo:
        assert upload(api, brand, "logo", png_bytes(), "logo.png").status_code == 201
    variables = {"first_name": "Zoë", "company": "A&B Co"}
    render_id = request_render(api, make_template(api, spec or watch_spec()), brand, variables).json()["id"]
    body: dict[str, Any] = api.get(f"/api/v1/renders/{render_id}/").json()
    assert body["status"] == "succeeded", body
    return body


class Head(HTMLParser):
    """The page's meta tags, <source>s, <track>s and links, as an unfurler or a player reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            self.meta[values.get("property") or values["name"]] = values.get("content", "")
        self.tags.append((tag, values))

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(text: str) -> Head:
    head = Head()
    head.feed(text)
    return head


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def fetch(url: str) -> tuple[int, bytes]:
    """What a browser gets from a media URL: Django's own signed /media/ route (embedded mode), or the S3
    endpoint's presigned URL (service mode; SeaweedFS on loopback)."""
    if url.startswith(settings.PUBLIC_BASE_URL):
        response = Client(HTTP_USER_AGENT=BROWSER).get(path_of(url))
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        response.close()
        return response.status_code, body
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310  (a loopback URL the test made)
        return int(answer.status), bytes(answer.read())


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def test_the_page_plays_unfurls_and_links_without_a_key(
    api: APIClient, django_assert_num_queries: Any
) -> None:
    render = watched_render(api, logo=True)
    watch_url = render["watch_url"]
    token = urlsplit(watch_url).path.rsplit("/", 1)[1]
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
    anonymous = Client(HTTP_USER_AGENT=BROWSER)

    page = anonymous.get(urlsplit(watch_url).path)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    assert "noindex" in page["X-Robots-Tag"]
    text = page.content.decode()
    head = parse(text)
    # Unfurling: title, the poster as the image, the video through the page's own redirect.
    assert head.meta["og:title"] == "Hello"
    assert head.meta["og:image"] == f"{watch_url}/poster"
    assert head.meta["og:video"] == f"{watch_url}/video"
    assert head.meta["og:video:type"] == "video/mp4"
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["twitter:image"] == f"{watch_url}/poster"
    # Brand colours and logo.
    assert "--primary: #1F3A93" in text
    assert "--secondary: #FF7A00" in text
    # Text colours people can read (WCAG AA): the brand's white on its blue, black on its orange button.
    assert "--header-text: #FFFFFF" in text
    assert "--button-text: #000000" in text
    [logo] = [img for img in head.all("img") if img.get("alt") == "Acme"]
    assert fetch(logo["src"]) == (200, png_bytes())
    # The player: the MP4 (a short-lived URL that works now), the poster, the captions from the page's origin.
    [video] = head.all("video")
    [source] = head.all("source")
    assert source["type"] == "video/mp4"
    assert "media" not in source
    status, mp4 = fetch(source["src"])
    assert status == 200
    assert mp4[4:8] == b"ftyp"
    assert video["poster"]
    [track] = head.all("track")
    assert track["kind"] == "captions"
    assert track["src"] == f"/w/{token}/captions.vtt"
    captions = anonymous.get(track["src"])
    assert captions.status_code == 200
    assert captions.content.startswith(b"WEBVTT")
    assert captions["Content-Type"].startswith("text/vtt")
    # The CTA: merged for this recipient, values percent-encoded into the URL, the label as text.
    [cta] = [a for a in head.all("a") if a.get("id") == "cta"]
    assert cta["href"] == "https://cal.example.com/acme?name=Zo%C3%AB&c=A%26B%20Co"
    assert "Book a call, Zoë" in html.unescape(text)
    # The beacon script is there; the page needs no framework.
    assert "navigator.sendBeacon" in text
    assert f'data-events="/w/{token}/events"' in text
    assert "<script src" not in text

    # Redirects that never expire: each answers a fresh storage URL.
    for suffix in ("video", "poster", "gif"):
        redirect = anonymous.get(f"/w/{token}/{suffix}")
        assert redirect.status_code == 302, suffix
        assert (
            redirect["Location"]
            .split("?")[0]
            .endswith({"video": "video.mp4", "poster": "thumbnail.jpg", "gif": "preview.gif"}[suffix])
        )

    # Served again from the cached lookup: no database query for a person's visit.
    with django_assert_num_queries(0):
        assert anonymous.get(urlsplit(watch_url).path).status_code == 200


def test_the_api_hands_out_the_watch_url_and_an_email_snippet(api: APIClient, other_api: APIClient) -> None:
    render = watched_render(api)
    page = WatchPage.objects.get(render_id=render["id"])
    assert render["watch_url"] == f"{settings.PUBLIC_BASE_URL}/w/{page.token}"
    assert render["watch"]["poster_url"] == f"{render['watch_url']}/poster"
    assert render["watch"]["gif_url"] == f"{render['watch_url']}/gif"
    # The email hand-off: the GIF preview links to the page.
    snippet = render["watch"]["email_html"]
    assert snippet.startswith(f'<a href="{render["watch_url"]}"><img src="{render["watch_url"]}/gif"')
    assert render["engagement"]["views"] == 0
    assert render["engagement"]["bot_hits"] == 0
    listed = api.get("/api/v1/renders/").json()["results"]
    assert [r["watch_url"] for r in listed] == [render["watch_url"]]
    # Another workspace can neither see nor revoke it.
    assert other_api.get(f"/api/v1/renders/{render['id']}/").status_code == 404
    assert other_api.post(f"/api/v1/renders/{render['id']}/watch/revoke/").status_code == 404
    assert Client(HTTP_USER_AGENT=BROWSER).get(urlsplit(render["watch_url"]).path).status_code == 200


def test_revoked_unknown_expired_and_erased_pages_answer_plainly(api: APIClient) -> None:
    render = watched_render(api)
    path = urlsplit(render["watch_url"]).path
    anonymous = Client(HTTP_USER_AGENT=BROWSER)
    assert anonymous.get(path).status_code == 200  # cached now: revoking must drop it

    unknown = anonymous.get("/w/" + "A" * 32)
    assert unknown.status_code == 404
    assert b"This link does not exist" in unknown.content
    assert b"<video" not in unknown.content
    assert anonymous.get("/w/short").status_code == 404  # not even a token's shape

    expired_at = timezone.now() - timedelta(minutes=1)
    WatchPage.objects.filter(render_id=render["id"]).update(expires_at=expired_at)
    watch_page_forget(render_id=render["id"])
    gone = anonymous.get(path)
    assert gone.status_code == 410
    assert b"This link has expired." in gone.content
    assert anonymous.get(f"{path}/video").status_code == 410
    WatchPage.objects.filter(render_id=render["id"]).update(expires_at=None)
    watch_page_forget(render_id=render["id"])
    assert anonymous.get(path).status_code == 200

    Render.objects.filter(pk=render["id"]).update(
        outputs_erased_at=timezone.now(), outputs_erased_reason="test"
    )
    watch_page_forget(render_id=render["id"])
    erased = anonymous.get(path)
    assert erased.status_code == 410
    assert b"no longer available" in erased.content
    Render.objects.filter(pk=render["id"]).update(outputs_erased_at=None)
    watch_page_forget(render_id=render["id"])

    revoked = api.post(f"/api/v1/renders/{render['id']}/watch/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["watch_url"] is None
    assert revoked.json()["watch"] is None
    for suffix in ("", "/video", "/poster", "/captions.vtt"):
        answer = anonymous.get(f"{path}{suffix}")
        assert answer.status_code == 404, suffix
    assert anonymous.post(
        f"{path}/events", '{"kind": "view", "session": "abcdefgh12"}', "text/plain"
    ).json() == {"message": "This link does not exist or was withdrawn."}
    assert Render.objects.get(pk=render["id"]).status == RenderStatus.SUCCEEDED  # the render stays


def test_several_formats_each_screen_gets_the_nearest_shape() -> None:
    portrait = {"format": "9:16", "width": 1080, "height": 1920}
    square = {"format": "1:1", "width": 1080, "height": 1080}
    landscape = {"format": "16:9", "width": 1920, "height": 1080}
    sources = watch_sources([portrait, square, landscape])
    assert [(o["format"], media) for o, media in sources] == [
        ("16:9", "(min-aspect-ratio: 4/3)"),  # sqrt(16/9 * 1) = 4/3
        ("1:1", "(min-aspect-ratio: 3/4)"),  # sqrt(1 * 9/16) = 3/4
        ("9:16", ""),
    ]

    def chosen(screen: float) -> str:
        for output, media in sources:
            match = re.fullmatch(r"\(min-aspect-ratio: (\d+)/(\d+)\)", media)
            if match is None or screen >= int(match[1]) / int(match[2]):
                return str(output["format"])
        raise AssertionError

    assert chosen(1440 / 900) == "16:9"  # a laptop
    assert chosen(1024 / 1024) == "1:1"
    assert chosen(390 / 844) == "9:16"  # a phone held upright
    assert watch_sources([square]) == [(square, "")]


def test_a_render_with_several_formats_offers_each_by_media_query(api: APIClient) -> None:
    spec = watch_spec()
    spec.pop("format")
    spec["formats"] = [
        {"name": "9:16", "width": 180, "height": 320, "fps": 10},
        {"name": "16:9", "width": 320, "height": 180, "fps": 10},
    ]
    render = watched_render(api, spec=spec)
    head = parse(Client(HTTP_USER_AGENT=BROWSER).get(urlsplit(render["watch_url"]).path).content.decode())
    sources = head.all("source")
    assert [s.get("media", "") for s in sources] == ["(min-aspect-ratio: 1/1)", ""]
    outputs = {o["format"]: urlsplit(o["video_url"]).path for o in render["outputs"]}
    assert [urlsplit(s["src"]).path for s in sources] == [outputs["16:9"], outputs["9:16"]]
    for name in ("16:9", "9:16"):
        redirect = Client(HTTP_USER_AGENT=BROWSER).get(
            f"{urlsplit(render['watch_url']).path}/video", {"format": name}
        )
        assert redirect.status_code == 302
        assert urlsplit(redirect["Location"]).path == outputs[name]
