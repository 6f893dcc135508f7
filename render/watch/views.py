"""The public watch pages at `/w/<token>` (no sign-in; the token is the secret). docs/watch-pages.md.

A page is served from one cached lookup (`watch_snapshot`): a person's visit costs no database query while
the lookup is cached. The video, poster, GIF and logo are short-lived storage URLs minted at each serve, so
the page itself never expires; `/video`, `/poster` and `/gif` redirect to fresh ones for links that outlive
a page (an email's image, an unfurler's `og:video`). Events come from the page's script to `/events`.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import render as render_html
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from adspec.vocabulary import HEX_COLOR
from core.errors import ApplicationError
from core.parsers import json_parse
from core.storage import get_storage
from render.models import WatchEventKind
from render.watch.selectors import watch_snapshot, watch_sources, watch_url
from render.watch.services import (
    request_do_not_track,
    request_is_bot,
    viewer_hash,
    watch_bot_hit,
    watch_event_record,
    watch_rate_allows,
)

NOT_FOUND = "This link does not exist or was withdrawn."
EXPIRED = "This link has expired."
ERASED = "This video is no longer available."
# An event body is `{"kind": "progress_100", "session": "<32 hex>"}`: ~60 bytes; 1 KiB is room, not a door.
MAX_EVENT_BYTES = 1024
SESSION = re.compile(r"[A-Za-z0-9_-]{8,64}")
KIND_CHOICES = "Must be one of: " + ", ".join(WatchEventKind.values) + "."
SESSION_FORMAT = "Must be 8 to 64 letters, digits, - or _ (the page's script makes one per viewing)."
# Captions are text the page reads from its own origin (a <track> from another origin needs CORS on the
# bucket); cached by storage key, which names an immutable object.
CAPTIONS_CACHE_SECONDS = 3600
# Pages and redirects hold URLs that live AWS_PRESIGN_SECONDS (24 h by default): a browser may keep them a
# few minutes, never long enough to hold a dead one.
PAGE_CACHE_CONTROL = "private, max-age=300"


def _luminance(color: str) -> float:
    """WCAG 2 relative luminance of `#RRGGBB`."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(one: str, other: str) -> float:
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _text_on(background: str, preferred: str) -> str:
    """The brand's text colour on `background` if a person can read it (WCAG AA, 4.5:1), else black or white,
    whichever reads better (one of the two always reaches 4.5:1)."""
    if _contrast(preferred, background) >= 4.5:  # WCAG 2.1 SC 1.4.3, normal text
        return preferred
    return max(("#000000", "#FFFFFF"), key=lambda c: _contrast(c, background))


def _plain(request: HttpRequest, status: int, message: str) -> HttpResponse:
    response = render_html(request, "render/watch_gone.html", {"message": message}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _live(token: str) -> tuple[dict[str, Any] | None, int, str]:
    """The page's lookup, or the status and message that answer instead: 404 for a token that names no page
    or a revoked one (the two look alike), 410 for an expired page or a render whose files were erased."""
    snapshot = watch_snapshot(token)
    if snapshot is None or snapshot["revoked"]:
        return None, 404, NOT_FOUND
    if snapshot["erased"] or not snapshot["outputs"]:
        return None, 410, ERASED
    if snapshot["expires_at"] is not None and snapshot["expires_at"] <= time.time():
        return None, 410, EXPIRED
    return snapshot, 200, ""


def _headers(response: HttpResponseBase) -> HttpResponseBase:
    # The token is in the URL: never send it on as a Referer (to the CTA's site, a CDN), nor let search
    # engines index a person's page.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = PAGE_CACHE_CONTROL
    return response


@require_safe
def watch_page(request: HttpRequest, token: str) -> HttpResponseBase:
    snapshot, status, message = _live(token)
    if snapshot is None:
        return _plain(request, status, message)
    if request_is_bot(request):
        watch_bot_hit(page_id=snapshot["page_id"])  # an unfurler still gets the page: it reads the meta tags
    storage = get_storage()
    main = snapshot["outputs"][0]
    sources = [
        {"url": storage.url(output["video_key"]), "media": media, "format": output["format"]}
        for output, media in watch_sources(snapshot["outputs"])
    ]
    logo_key = snapshot["brand"]["logo_key"]
    page_url = watch_url(token)
    brand = snapshot["brand"]
    colors = {
        name: brand[name] if HEX_COLOR.fullmatch(brand[name]) else fallback
        for name, fallback in (("primary", "#222222"), ("secondary", "#444444"), ("text", "#FFFFFF"))
    }
    colors["header_text"] = _text_on(colors["primary"], colors["text"])
    colors["button_text"] = _text_on(colors["secondary"], colors["text"])
    context = {
        "snapshot": snapshot,
        "brand": brand,
        # Brand colours are checked when saved (core); checked again here, as they go into CSS.
        "colors": colors,
        "main": main,
        "sources": sources,
        "poster_url": storage.url(main["poster_key"]) if main["poster_key"] else "",
        "logo_url": storage.url(logo_key) if logo_key else "",
        "captions": bool(main["captions_key"]),
        "page_url": page_url,
        "og_image": f"{page_url}/poster" if main["poster_key"] else "",
        "og_video": f"{page_url}/video",
        "cta": snapshot["cta"],
        "credits": snapshot.get("credits", []),  # a snapshot cached before credits were added has none
    }
    return _headers(render_html(request, "render/watch.html", context))


def _redirect_to(request: HttpRequest, token: str, kind: str) -> HttpResponseBase:
    snapshot, status, message = _live(token)
    if snapshot is None:
        return _plain(request, status, message)
    outputs = snapshot["outputs"]
    wanted = request.GET.get("format")
    output = next((o for o in outputs if o["format"] == wanted), outputs[0])
    key = output[f"{kind}_key"]
    if not key:
        return _plain(request, 404, NOT_FOUND)
    return _headers(HttpResponseRedirect(get_storage().url(key)))


@require_safe
def watch_video(request: HttpRequest, token: str) -> HttpResponseBase:
    """302 to a fresh URL of the MP4 (`?format=<name>` for another of the render's formats)."""
    return _redirect_to(request, token, "video")


@require_safe
def watch_poster(request: HttpRequest, token: str) -> HttpResponseBase:
    return _redirect_to(request, token, "poster")


@require_safe
def watch_gif(request: HttpRequest, token: str) -> HttpResponseBase:
    return _redirect_to(request, token, "gif")


@require_safe
def watch_captions(request: HttpRequest, token: str) -> HttpResponseBase:
    """The WebVTT captions, from the page's own origin (a cross-origin <track> needs CORS on the bucket)."""
    snapshot, status, message = _live(token)
    if snapshot is None:
        return _plain(request, status, message)
    key = snapshot["outputs"][0]["captions_key"]
    if not key:
        return _plain(request, 404, NOT_FOUND)
    text: bytes | None = cache.get(f"watch:vtt:{key}")
    if text is None:
        with tempfile.TemporaryDirectory() as folder:
            text = get_storage().fetch(key, Path(folder) / "captions.vtt").read_bytes()
        cache.set(f"watch:vtt:{key}", text, CAPTIONS_CACHE_SECONDS)
    response = HttpResponse(text, content_type="text/vtt; charset=utf-8")
    return _headers(response)


def _error(status: int, message: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    return JsonResponse({"message": message, **({"fields": fields} if fields else {})}, status=status)


def _event_body(request: HttpRequest) -> tuple[str, str | None]:
    """(kind, session) from `{"kind", "session"}`; ApplicationError naming the field otherwise. Any content
    type: `navigator.sendBeacon` with a string sends text/plain (no CORS preflight)."""
    raw = request.read(MAX_EVENT_BYTES + 1)
    if len(raw) > MAX_EVENT_BYTES:
        raise ApplicationError(
            f"An event is at most {MAX_EVENT_BYTES} bytes.", fields={"body": "Too large."}, status_code=413
        )
    data = json_parse(raw)
    if not isinstance(data, dict):
        raise ApplicationError("The event is invalid.", fields={"body": "Must be a JSON object."})
    unknown = {key: ["Unknown key."] for key in data if key not in ("kind", "session")}
    kind = data.get("kind")
    session = data.get("session")
    problems: dict[str, list[str]] = dict(unknown)
    if kind not in WatchEventKind.values:
        problems["kind"] = [KIND_CHOICES]
    if session is not None and not (isinstance(session, str) and SESSION.fullmatch(session)):
        problems["session"] = [SESSION_FORMAT]
    if problems:
        raise ApplicationError("The event is invalid.", fields=problems)
    return str(kind), session


@csrf_exempt
@require_POST
def watch_events(request: HttpRequest, token: str) -> HttpResponseBase:
    """POST one event: 204 when taken (a repeat of this viewing's event, or a bot's, changes no count)."""
    snapshot, status, message = _live(token)
    if snapshot is None:
        return _error(status, message)
    wait = watch_rate_allows(token=token)
    if wait is not None:
        response = _error(429, "Too many events for this page; try again later.")
        response["Retry-After"] = str(wait)
        return response
    try:
        kind, session = _event_body(request)
    except ApplicationError as exc:
        return _error(exc.status_code, exc.message, exc.fields)
    if request_is_bot(request):
        watch_bot_hit(page_id=snapshot["page_id"])
        return HttpResponse(status=204)
    if request_do_not_track(request):
        session, viewer = None, None
    else:
        if session is None:
            return _error(400, "The event is invalid.", {"session": ["This field is required."]})
        # Only a view needs its viewer (unique viewers); other events keep no pseudonym at all.
        viewer = viewer_hash(request, page_id=snapshot["page_id"]) if kind == WatchEventKind.VIEW else None
    watch_event_record(
        page_id=snapshot["page_id"],
        render_id=snapshot["render_id"],
        workspace_id=snapshot["workspace_id"],
        kind=kind,
        session=session,
        viewer=viewer,
    )
    return HttpResponse(status=204)
