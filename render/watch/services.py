"""Watch pages: made, revoked, expired; engagement events recorded and counted (docs/watch-pages.md).

A succeeded render gets its page in the transaction that finishes it (`render.receivers`); the token is the
only secret. An event is one INSERT (its UNIQUE (page, session, kind) makes a repeated beacon a no-op) and
two counter updates by F() (the page's totals and the day's row), in one transaction, so the analytics read
counters, never events. Viewers are never stored: a hash of address and user agent with a salt that
changes every day and is never written to the database (Django's cache holds it; yesterday's is gone).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from render.models import Render, WatchDaily, WatchEvent, WatchEventKind, WatchPage
from render.signals import watch_engaged

# 24 random bytes: 192 bits, above the 128 the issue asks for (and OWASP's session-id guidance of 64 bits of
# entropy); token_urlsafe makes 32 URL-safe characters of them.
TOKEN_BYTES = 24
CACHE_PREFIX = "watch:page:"
SALT_PREFIX = "watch:salt:"
# The day's salt lives two days in the cache: long enough for requests straddling midnight, then it is gone.
SALT_SECONDS = 2 * 24 * 3600

COUNTERS: dict[str, str] = {
    WatchEventKind.VIEW: "views",
    WatchEventKind.PLAY: "plays",
    WatchEventKind.PROGRESS_25: "progress_25",
    WatchEventKind.PROGRESS_50: "progress_50",
    WatchEventKind.PROGRESS_75: "progress_75",
    WatchEventKind.PROGRESS_100: "progress_100",
    WatchEventKind.CTA: "cta_clicks",
}

# Link unfurlers, crawlers and preview fetchers, by the user-agent tokens their owners document: Slack
# ("Slackbot-LinkExpanding", api.slack.com/robots), Facebook/Messenger/Instagram ("facebookexternalhit",
# "Facebot"), X ("Twitterbot"), LinkedIn ("LinkedInBot"), Google ("Googlebot", "Google-InspectionTool",
# "GoogleOther", "AdsBot-Google", "Mediapartners-Google", "FeedFetcher-Google"), Bing ("bingbot",
# "BingPreview"), Apple ("Applebot"), Discord ("Discordbot"), Telegram ("TelegramBot"), WhatsApp
# ("WhatsApp/"), Microsoft Teams/Skype ("SkypeUriPreview", "MicrosoftPreview"), Pinterest, Reddit, Mastodon,
# Embedly, Iframely, Yahoo ("Slurp"), DuckDuckGo ("DuckDuckBot"), Yandex, Baidu ("Baiduspider"), plus any UA
# that says bot/crawler/spider ("AhrefsBot/7.0"; not a phone named "CUBOT"), and HTTP libraries and
# command-line clients, which never play a video.
BOT_USER_AGENTS = re.compile(
    r"\bbot\b|bot/|crawler|spider|slurp|facebookexternalhit|facebot|slackbot|twitterbot|linkedinbot"
    r"|googlebot|google-inspectiontool|googleother|adsbot-google|mediapartners-google|feedfetcher-google"
    r"|bingpreview|applebot|discordbot|telegrambot|whatsapp/|skypeuripreview|microsoftpreview|pinterest"
    r"|redditbot|mastodon|embedly|iframely|duckduckbot|yandex|baiduspider|curl/|wget/|python-requests"
    r"|python-urllib|go-http-client|okhttp",
    re.IGNORECASE,
)


def token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _cache_key(token: str) -> str:
    # A token is URL-safe base64 ([A-Za-z0-9_-]), a legal cache key in every backend.
    return CACHE_PREFIX + token


def watch_page_ensure(*, render_id: Any) -> WatchPage:
    """The render's watch page, made on first call (the render-finished receivers; anyone later gets the same)."""
    page, _created = WatchPage.objects.get_or_create(render_id=render_id, defaults={"token": token_new()})
    return page


def _forget_after_commit(tokens: list[str]) -> None:
    """Drop cached lookups once the change is visible (and again now, so this process sees it at once)."""
    keys = [_cache_key(t) for t in tokens]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def watch_page_forget(*, render_id: Any) -> None:
    """Drop the cached lookup of a render's page: call after changing the render behind the page's back (its
    outputs erased, `Render.outputs_erased_at`), so the page answers 410 now, not when the cache runs out."""
    _forget_after_commit(list(WatchPage.objects.filter(render_id=render_id).values_list("token", flat=True)))


def watch_page_revoke(*, render: Render) -> WatchPage:
    """The link stops working for good (404, like a token that never existed); the render stays."""
    page = watch_page_ensure(render_id=render.pk)
    if page.revoked_at is None:
        WatchPage.objects.filter(pk=page.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        page.refresh_from_db()
    _forget_after_commit([page.token])
    return page


def watch_pages_expire(*, renders: QuerySet[Render] | Iterable[Any], expires_at: datetime | None) -> int:
    """Set (or clear, with None) when the pages of these renders stop answering (410). `renders`: a queryset of
    renders or their ids; the caller (a campaign) chooses which."""
    pages = WatchPage.objects.filter(render__in=renders)
    tokens = list(pages.values_list("token", flat=True))
    updated = pages.update(expires_at=expires_at)
    _forget_after_commit(tokens)
    return updated


# --- who is looking ---------------------------------------------------------------------------------------------


def request_is_bot(request: HttpRequest) -> bool:
    """A fetch that is not a person watching: HEAD, a prefetch/prerender hint, or a known bot's user agent."""
    if request.method == "HEAD":
        return True
    purpose = f"{request.headers.get('Purpose', '')},{request.headers.get('Sec-Purpose', '')}".lower()
    if "prefetch" in purpose:
        return True
    agent = request.headers.get("User-Agent", "")
    return not agent or bool(BOT_USER_AGENTS.search(agent))


def request_do_not_track(request: HttpRequest) -> bool:
    """`DNT: 1` or Global Privacy Control (`Sec-GPC: 1`): the viewer asked not to be followed."""
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


# Today's salt, once read from the cache, for this process (it changes only with the date).
_salt_memo: dict[str, str] = {}


def _daily_salt() -> str | None:
    day = timezone.now().date().isoformat()
    if day in _salt_memo:
        return _salt_memo[day]
    key = SALT_PREFIX + day
    try:
        cache.add(key, secrets.token_hex(16), SALT_SECONDS)  # the first process of the day sets it
        salt: str | None = cache.get(key)
    except (
        redis.RedisError,
        ValueError,
    ):  # a cache that does not answer costs the unique count, not the event
        return None
    if salt is not None:
        _salt_memo.clear()  # yesterday's goes: nothing may keep it
        _salt_memo[day] = salt
    return salt


def viewer_hash(request: HttpRequest, *, page_id: int) -> str | None:
    """Who is watching, as a pseudonym that lives one day and one page: SHA-256 over the day's salt, the page,
    the address and the user agent. None when there is no salt (the cache is down)."""
    salt = _daily_salt()
    if salt is None:
        return None
    address = str(request.META.get("REMOTE_ADDR") or "")
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha256(f"{salt}|{page_id}|{address}|{agent}".encode()).hexdigest()[:32]


# --- counting ---------------------------------------------------------------------------------------------------


def _bump_day(page_id: int, day: Any, **fields: int) -> None:
    """Add to the day's counters: UPDATE, or INSERT when the day has no row yet (a lost race: UPDATE again)."""
    increments = {name: F(name) + n for name, n in fields.items()}
    if WatchDaily.objects.filter(page_id=page_id, day=day).update(**increments):
        return
    try:
        with transaction.atomic():
            WatchDaily.objects.create(page_id=page_id, day=day, **fields)
    except IntegrityError:
        WatchDaily.objects.filter(page_id=page_id, day=day).update(**increments)


def watch_bot_hit(*, page_id: int) -> None:
    """A bot, unfurler or prefetch fetched the page or sent an event: counted apart, never a view."""
    with transaction.atomic():
        WatchPage.objects.filter(pk=page_id).update(bot_hits=F("bot_hits") + 1)
        _bump_day(page_id, timezone.now().date(), bot_hits=1)


def _event_insert(*, page_id: int, kind: str, session: str | None, viewer: str | None, at: Any) -> bool:
    """INSERT the event unless its (page, session, kind) is there already: True if this call stored it. One
    statement (`ON CONFLICT DO NOTHING … RETURNING`, PostgreSQL and SQLite ≥ 3.35), not a savepoint and an
    exception per repeated beacon; the ORM's bulk_create(ignore_conflicts=True) cannot say which it did."""
    table = connection.ops.quote_name(WatchEvent._meta.db_table)
    created_at = WatchEvent._meta.get_field("created_at").get_db_prep_value(at, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (page_id, kind, session, viewer, created_at) "  # noqa: S608  (names from the model)
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            [page_id, kind, session, viewer, created_at],
        )
        return cursor.fetchone() is not None


def watch_event_record(
    *,
    page_id: int,
    render_id: Any,
    workspace_id: Any,
    kind: str,
    session: str | None,
    viewer: str | None,
) -> bool:
    """Record one event; False when this viewing session sent it already (nothing changes). `session` and
    `viewer` are None for a viewer who asked not to be tracked: the event is counted, anonymously, and
    cannot be told from a repeat (the page's script sends each kind once per viewing)."""
    counter = COUNTERS[kind]
    now = timezone.now()
    with transaction.atomic():
        new_viewer = (
            kind == WatchEventKind.VIEW
            and viewer is not None
            and not WatchEvent.objects.filter(page_id=page_id, viewer=viewer, kind=kind).exists()
        )
        if not _event_insert(page_id=page_id, kind=kind, session=session, viewer=viewer, at=now):
            return False  # UNIQUE (page, session, kind): this viewing sent it already
        fields = {counter: 1, **({"unique_viewers": 1} if new_viewer else {})}
        WatchPage.objects.filter(pk=page_id).update(
            last_event_at=now, **{name: F(name) + n for name, n in fields.items()}
        )
        _bump_day(page_id, now.date(), **fields)
        if kind in (WatchEventKind.VIEW, WatchEventKind.CTA):
            first_field = "first_viewed_at" if kind == WatchEventKind.VIEW else "first_clicked_at"
            first = bool(
                WatchPage.objects.filter(pk=page_id, **{f"{first_field}__isnull": True}).update(
                    **{first_field: now}
                )
            )
            watch_engaged.send(
                sender=WatchPage, render_id=render_id, workspace_id=workspace_id, kind=str(kind), first=first
            )
    return True


def watch_rate_allows(*, token: str) -> int | None:
    """Per-page event budget (`REELSMITH_WATCH_EVENT_RATE`): None when this event may go in, else the seconds
    to wait. A sliding window of event times in Django's cache, as DRF's SimpleRateThrottle keeps them for the
    API (core/throttling.py; shared through Redis in service mode); a cache that does not answer lets the
    event through, as the API's throttle does."""
    rate: str = settings.REELSMITH_WATCH_EVENT_RATE
    if rate in ("", "off"):
        return None
    count_text, _, period = rate.partition("/")
    # DRF's rate syntax: only the period's first letter counts.
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[:1]]
    key = f"watch:rate:{token}"
    now = time.time()
    try:
        history: list[float] = [t for t in cache.get(key, []) if t > now - seconds]
        if len(history) >= int(count_text):
            return max(1, math.ceil(seconds - (now - history[0])))
        history.append(now)
        cache.set(key, history, seconds)
    except redis.RedisError:
        return None
    return None
