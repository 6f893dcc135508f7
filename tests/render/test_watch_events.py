"""Engagement events on a watch page: one per viewing session and kind however often the beacon comes, bots and
unfurlers counted apart, no address stored, Do-Not-Track honoured, a budget per page, bad bodies named."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from render.models import WatchDaily, WatchEvent, WatchPage
from render.watch import services
from tests.render.test_watch_pages import BROWSER, watched_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

SESSION = "9f86d081884c7d659a2feaa0c55ad015"
ADDRESS = "203.0.113.7"
# User agents of the unfurlers people paste links into, as their owners document them.
UNFURLERS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0",
    "TelegramBot (like TwitterBot)",
]


def page_path(api: APIClient) -> tuple[str, str]:
    render = watched_render(api)
    return render["id"], urlsplit(render["watch_url"]).path


def beacon(path: str, kind: str, session: str | None = SESSION, **headers: Any) -> Any:
    """What navigator.sendBeacon sends: a text/plain JSON string, no cookies needed."""
    body = {"kind": kind, **({"session": session} if session is not None else {})}
    client = Client(HTTP_USER_AGENT=headers.pop("HTTP_USER_AGENT", BROWSER), REMOTE_ADDR=ADDRESS)
    return client.post(f"{path}/events", json.dumps(body), content_type="text/plain;charset=UTF-8", **headers)


def engagement(api: APIClient, render_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/renders/{render_id}/").json()["engagement"]
    return body


def test_each_kind_counts_once_per_viewing_however_often_it_is_sent(api: APIClient) -> None:
    render_id, path = page_path(api)
    kinds = ["view", "play", "progress_25", "progress_50", "progress_75", "progress_100", "cta"]
    for _ in range(2):  # every beacon twice (a retry, a second tab of the same viewing)
        for kind in kinds:
            assert beacon(path, kind).status_code == 204
    counts = engagement(api, render_id)
    assert {k: counts[k] for k in ("views", "unique_viewers", "plays", "completions", "cta_clicks")} == {
        "views": 1,
        "unique_viewers": 1,
        "plays": 1,
        "completions": 1,
        "cta_clicks": 1,
    }
    assert counts["avg_watch_percent"] == 100.0
    assert counts["play_rate"] == counts["completion_rate"] == counts["click_rate"] == 1.0
    assert counts["first_viewed_at"] is not None
    assert WatchEvent.objects.count() == len(kinds)

    # A second viewing by the same person (a reload makes a new session): a view, not a viewer.
    assert beacon(path, "view", session="second-viewing-0001").status_code == 204
    assert beacon(path, "play", session="second-viewing-0001").status_code == 204
    assert beacon(path, "progress_25", session="second-viewing-0001").status_code == 204
    counts = engagement(api, render_id)
    assert (counts["views"], counts["unique_viewers"], counts["plays"]) == (2, 1, 2)
    # Two plays: one reached the end, one a quarter: (100 + 25) / 2.
    assert counts["avg_watch_percent"] == 62.5
    [today] = WatchDaily.objects.all()
    assert (today.day, today.views, today.plays, today.progress_100) == (timezone.now().date(), 2, 2, 1)


def test_unfurlers_head_and_prefetch_are_bots_never_views(api: APIClient) -> None:
    render_id, path = page_path(api)
    for agent in UNFURLERS:
        page = Client(HTTP_USER_AGENT=agent).get(path)
        assert page.status_code == 200, agent  # they still get the page and its meta tags
        assert b'property="og:image"' in page.content
        assert beacon(path, "view", HTTP_USER_AGENT=agent).status_code == 204
    assert Client(HTTP_USER_AGENT=BROWSER).head(path).status_code == 200
    assert Client(HTTP_USER_AGENT=BROWSER, HTTP_PURPOSE="prefetch").get(path).status_code == 200
    assert Client(HTTP_USER_AGENT=BROWSER, HTTP_SEC_PURPOSE="prefetch;prerender").get(path).status_code == 200
    counts = engagement(api, render_id)
    assert counts["views"] == 0
    assert counts["unique_viewers"] == 0
    assert counts["bot_hits"] == 2 * len(UNFURLERS) + 3
    assert not WatchEvent.objects.exists()
    # A person's visit to the page itself counts nothing: the view is the script's beacon.
    assert Client(HTTP_USER_AGENT=BROWSER).get(path).status_code == 200
    assert engagement(api, render_id)["bot_hits"] == 2 * len(UNFURLERS) + 3


def test_no_address_is_stored_and_the_salt_changes_daily(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    render_id, path = page_path(api)
    beacon(path, "view")
    [event] = WatchEvent.objects.all()
    assert event.session == SESSION
    assert len(event.viewer or "") == 32
    assert ADDRESS not in (event.viewer or "")
    stored = json.dumps(list(WatchEvent.objects.values()), default=str)
    assert ADDRESS not in stored
    assert BROWSER not in stored

    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(services.timezone, "now", lambda: tomorrow)
    beacon(path, "view", session="next-day-viewing-1")
    first, second = WatchEvent.objects.order_by("created_at")
    assert first.viewer != second.viewer  # the same person, unlinkable across days
    assert cache.get(services.SALT_PREFIX + tomorrow.date().isoformat()) is not None
    monkeypatch.undo()
    counts = engagement(api, render_id)
    assert (counts["views"], counts["unique_viewers"]) == (2, 2)
    assert WatchDaily.objects.count() == 2


@pytest.mark.parametrize("header", [{"HTTP_DNT": "1"}, {"HTTP_SEC_GPC": "1"}])
def test_do_not_track_counts_the_event_anonymously(api: APIClient, header: dict[str, str]) -> None:
    render_id, path = page_path(api)
    assert beacon(path, "view", **header).status_code == 204
    assert beacon(path, "play", session=None, **header).status_code == 204  # no session needed either
    assert set(WatchEvent.objects.values_list("session", "viewer")) == {(None, None)}
    counts = engagement(api, render_id)
    assert (counts["views"], counts["plays"], counts["unique_viewers"]) == (1, 1, 0)


def test_each_page_has_an_event_budget(api: APIClient, settings: Any) -> None:
    settings.REELSMITH_WATCH_EVENT_RATE = "3/minute"
    render_id, path = page_path(api)
    for n in range(3):
        assert beacon(path, "view", session=f"viewing-number-{n}").status_code == 204
    refused = beacon(path, "view", session="viewing-number-4")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["message"].startswith("Too many events")
    assert engagement(api, render_id)["views"] == 3
    # Another page's budget is its own.
    _other_id, other_path = page_path(api)
    assert beacon(other_path, "view").status_code == 204


def test_bad_events_are_refused_naming_the_field(api: APIClient) -> None:
    render_id, path = page_path(api)
    client = Client(HTTP_USER_AGENT=BROWSER)
    cases = [
        ('{"kind": "like", "session": "abcdefgh"}', 400, "kind"),
        ('{"kind": "view", "session": "../../etc"}', 400, "session"),
        ('{"kind": "view", "session": 12345678}', 400, "session"),
        ('{"kind": "view"}', 400, "session"),
        ('{"kind": "view", "session": "abcdefgh", "ip": "1.2.3.4"}', 400, "ip"),
        ("[1, 2]", 400, "body"),
        ("{not json", 400, "body"),
        ('{"kind": "view", "session": "' + "a" * 2000 + '"}', 413, "body"),
    ]
    for body, status, field in cases:
        answer = client.post(f"{path}/events", body, content_type="text/plain")
        assert answer.status_code == status, body
        assert field in answer.json()["fields"], (body, answer.json())
    assert client.get(f"{path}/events").status_code == 405
    assert client.post(f"{path}/events", b"\xff\xfe", content_type="text/plain").status_code == 400
    assert engagement(api, render_id)["views"] == 0


def test_the_database_refuses_a_second_event_of_a_viewing(api: APIClient) -> None:
    from django.db import IntegrityError, transaction

    _render_id, path = page_path(api)
    beacon(path, "view")
    page = WatchPage.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        WatchEvent.objects.create(page=page, kind="view", session=SESSION)
    # Anonymous (DNT) events have no session, so the constraint lets them be.
    WatchEvent.objects.create(page=page, kind="view", session=None)
    WatchEvent.objects.create(page=page, kind="view", session=None)
