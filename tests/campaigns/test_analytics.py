"""A campaign's engagement: the analytics API (totals, funnel, days), results.csv's watch links and engagement
columns, `video.viewed` / `cta.clicked` webhooks, the CRM engagement write-back, the watch pages' expiry, and
another workspace seeing none of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from render.models import Render
from tests.campaigns.helpers import upload_json
from tests.campaigns.servers import receiver
from tests.campaigns.test_crm import EVENT, hubspot_post, make_integration
from tests.campaigns.test_webhooks import make_endpoint, verify
from tests.render.test_api_renders import make_brand, make_template
from tests.render.test_watch_events import beacon
from tests.render.test_watch_pages import BROWSER, watch_spec

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

EVERYTHING = ["view", "play", "progress_25", "progress_50", "progress_75", "progress_100", "cta"]


def sampled_campaign(
    api: APIClient, recipients: int = 2, spec: dict[str, Any] | None = None, **extra: Any
) -> tuple[str, dict[str, str]]:
    """A campaign whose first `recipients` recipients are rendered as samples: {email: watch page path}."""
    template = make_template(api, spec or watch_spec())
    created = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": template, "brand": make_brand(api), **extra},
        format="json",
    )
    assert created.status_code == 201, created.json()
    campaign_id = created.json()["id"]
    people = [{"first_name": f"Zoë{n}", "email": f"p{n}@example.com"} for n in range(recipients)]
    upload_json(api, campaign_id, people)
    samples = api.post(f"/api/v1/campaigns/{campaign_id}/samples/", {"count": recipients}, format="json")
    assert samples.status_code == 202
    renders = samples.json()["samples"]
    assert {r["status"] for r in renders} == {"succeeded"}
    pages = {f"p{n}@example.com": urlsplit(r["watch_url"]).path for n, r in enumerate(renders)}
    return campaign_id, pages


def test_analytics_funnel_days_and_results_csv(api: APIClient, other_api: APIClient) -> None:
    campaign_id, pages = sampled_campaign(api)
    first, second = pages["p0@example.com"], pages["p1@example.com"]
    for _ in range(2):  # every beacon twice: still once each
        for kind in EVERYTHING:
            assert beacon(first, kind).status_code == 204
    assert beacon(second, "view", session="another-viewing-1").status_code == 204
    Client(HTTP_USER_AGENT="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)").get(second)

    answer = api.get(f"/api/v1/campaigns/{campaign_id}/analytics/")
    assert answer.status_code == 200
    body = answer.json()
    assert {k: body[k] for k in ("views", "unique_viewers", "plays", "completions", "cta_clicks")} == {
        "views": 2,
        "unique_viewers": 2,  # one per page: a viewer is never linked across pages
        "plays": 1,
        "completions": 1,
        "cta_clicks": 1,
    }
    assert (body["play_rate"], body["completion_rate"], body["click_rate"]) == (0.5, 1.0, 0.5)
    assert body["avg_watch_percent"] == 100.0
    assert body["bot_hits"] == 1
    assert body["funnel"] == {"sent": 2, "viewed": 2, "played": 1, "completed": 1, "clicked": 1}
    [today] = body["days"]
    assert today["day"] == timezone.now().date().isoformat()
    assert (today["views"], today["plays"], today["cta_clicks"]) == (2, 1, 1)

    # Another workspace's key sees none of it.
    assert other_api.get(f"/api/v1/campaigns/{campaign_id}/analytics/").status_code == 404
    assert api.get("/api/v1/campaigns/not-a-uuid/analytics/").status_code == 404

    results = api.get(f"/api/v1/campaigns/{campaign_id}/results.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(results.streaming_content).decode())))  # type: ignore[attr-defined]
    by_email = {row["email"]: row for row in rows}
    assert {email: urlsplit(row["watch_url"]).path for email, row in by_email.items()} == pages
    row = by_email["p0@example.com"]
    assert (row["views"], row["plays"], row["avg_watch_percent"], row["completions"], row["cta_clicks"]) == (
        "1",
        "1",
        "100.0",
        "1",
        "1",
    )
    assert row["gif_url"] == row["watch_url"] + "/gif"
    assert row["poster_url"] == row["watch_url"] + "/poster"
    assert by_email["p1@example.com"]["views"] == "1"
    assert by_email["p1@example.com"]["plays"] == "0"
    # The link a recipient gets answers without a key.
    assert Client(HTTP_USER_AGENT=BROWSER).get(urlsplit(row["watch_url"]).path).status_code == 200


def test_viewed_and_clicked_webhooks_once_per_render_signed(api: APIClient) -> None:
    with receiver() as hook:
        endpoint = make_endpoint(api, hook.url, events=["video.viewed", "cta.clicked"])
        campaign_id, pages = sampled_campaign(api)
        first, second = pages["p0@example.com"], pages["p1@example.com"]
        for session in ("viewing-one-0001", "viewing-two-0002"):  # two viewings of the first page
            beacon(first, "view", session=session)
            beacon(first, "cta", session=session)
        beacon(second, "view")
        payloads = [verify(endpoint["secret"], request) for request in hook.requests]
    assert sorted(p["type"] for p in payloads) == ["cta.clicked", "video.viewed", "video.viewed"]
    renders = {r.pk: r for r in Render.objects.filter(campaign_link__campaign_id=campaign_id)}
    clicked = next(p for p in payloads if p["type"] == "cta.clicked")["data"]
    assert clicked["campaign"] == campaign_id
    assert clicked["engagement_event"] == "cta"
    assert urlsplit(clicked["watch_url"]).path == first
    assert clicked["video_url"] == clicked["watch_url"] + "/video"  # never a storage URL that expires
    assert {p["data"]["id"] for p in payloads if p["type"] == "video.viewed"} == {str(pk) for pk in renders}


def test_crm_writeback_records_views_and_clicks(api: APIClient) -> None:
    with receiver() as hubspot:
        integration = make_integration(
            api,
            template=make_template(api, watch_spec()),
            writeback={
                "enabled": True,
                "field": "reelsmith_video",
                "views_field": "reelsmith_views",
                "clicks_field": "reelsmith_clicks",
                "token": "pat-test",
                "base_url": f"http://127.0.0.1:{hubspot.port}",
            },
        )
        assert integration["writeback"]["views_field"] == "reelsmith_views"
        assert hubspot_post(APIClient(), integration, EVENT).status_code == 202
        render = Render.objects.get()
        [link_call] = hubspot.requests
        watch_url = json.loads(link_call.body)["properties"]["reelsmith_video"]
        assert urlsplit(watch_url).path == f"/w/{render.watch_page.token}"  # the page, not a storage URL
        path = urlsplit(watch_url).path
        beacon(path, "view")
        cache.delete(f"crm:engagement:{render.pk}")  # the next write-back window
        beacon(path, "cta")
        calls = [json.loads(c.body)["properties"] for c in hubspot.requests[1:]]
    assert calls == [
        {"reelsmith_views": 1, "reelsmith_clicks": 0},
        {"reelsmith_views": 1, "reelsmith_clicks": 1},
    ]
    assert all(c.path == "/crm/v3/objects/contacts/901" for c in hubspot.requests)


def test_watch_pages_expire_with_their_campaign(api: APIClient) -> None:
    later = timezone.now() + timedelta(days=30)
    campaign_id, pages = sampled_campaign(api, recipients=1, watch_expires_at=later.isoformat())
    [path] = pages.values()
    visitor = Client(HTTP_USER_AGENT=BROWSER)
    assert visitor.get(path).status_code == 200  # made with the campaign's expiry, still ahead
    detail = api.get(f"/api/v1/campaigns/{campaign_id}/").json()
    assert detail["watch_expires_at"].startswith(later.date().isoformat())

    past = timezone.now() - timedelta(minutes=1)
    patched = api.patch(
        f"/api/v1/campaigns/{campaign_id}/", {"watch_expires_at": past.isoformat()}, format="json"
    )
    assert patched.status_code == 200
    assert visitor.get(path).status_code == 410
    assert beacon(path, "view").status_code == 410
    assert (
        api.patch(f"/api/v1/campaigns/{campaign_id}/", {"watch_expires_at": None}, format="json").status_code
        == 200
    )
    assert visitor.get(path).status_code == 200
    bad = api.patch(f"/api/v1/campaigns/{campaign_id}/", {"watch_expires_at": "soon"}, format="json")
    assert bad.status_code == 400
    assert "watch_expires_at" in bad.json()["fields"]
