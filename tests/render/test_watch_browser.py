"""A recipient's watch page in a real Chromium (Debian's, tests/dashboard/browser.py): the video plays to the
end, the CTA is clicked, and the analytics API counts the view, the play, the completion and the click
exactly once each, also when every beacon is sent again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from core.storage import get_storage
from tests.campaigns.test_analytics import EVERYTHING, sampled_campaign
from tests.dashboard.browser import PHONE, WIDE, page_check
from tests.dashboard.conftest import browser, page  # noqa: F401  (the fixtures: Chromium, a page)
from tests.render.test_watch_pages import watch_spec

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("run_tasks_inline"),
]


@pytest.fixture
def watch_server(live_server: Any, settings: Any) -> Iterator[str]:
    """The live server is the public base URL: watch links (and, embedded, signed media URLs) point at it."""
    settings.PUBLIC_BASE_URL = live_server.url
    get_storage.cache_clear()
    yield str(live_server.url)
    get_storage.cache_clear()


def analytics_when(api: APIClient, campaign_id: str, done: Any) -> dict[str, Any]:
    """The campaign's analytics once `done(body)` holds: beacons are sent without waiting for an answer."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = api.get(f"/api/v1/campaigns/{campaign_id}/analytics/").json()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_a_viewer_plays_to_the_end_and_clicks_each_counted_once(
    api: APIClient,
    watch_server: str,
    page: Page,  # noqa: F811  (the fixture imported above)
) -> None:
    spec = watch_spec()
    # The CTA leads back to this server (tests reach no other host).
    spec["cta"] = {
        "label": "Book a call, {{first_name}}",
        "url": f"{watch_server}/healthz?who={{{{first_name}}}}",
    }
    campaign_id, pages = sampled_campaign(api, recipients=1, spec=spec)
    [path] = pages.values()

    page.set_viewport_size(PHONE)
    page.goto(f"{watch_server}{path}")
    expect(page).to_have_title("Hello · Acme")
    page_check(page)  # axe-core: nothing serious; nothing scrolls sideways on a phone
    page.set_viewport_size(WIDE)
    video = page.locator("#player")
    page.wait_for_function("document.getElementById('player').readyState >= 3")
    assert page.evaluate("document.querySelector('#player track').track.mode") == "showing"
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }")
    page.wait_for_function("document.getElementById('player').ended", timeout=60_000)
    assert video.evaluate("v => v.currentTime > 0 && v.currentTime === v.duration")
    session = page.locator("#watch").get_attribute("data-session")
    assert session
    assert len(session) == 32

    page.get_by_role("link", name="Book a call, Zoë0").click()
    page.wait_for_url(f"{watch_server}/healthz?who=Zo%C3%AB0")
    body = analytics_when(api, campaign_id, lambda b: b["cta_clicks"] and b["completions"])
    once = {"views": 1, "unique_viewers": 1, "plays": 1, "completions": 1, "cta_clicks": 1, "bot_hits": 0}
    assert {k: body[k] for k in once} == once
    assert body["funnel"] == {"sent": 1, "viewed": 1, "played": 1, "completed": 1, "clicked": 1}

    # Every beacon of that viewing again, twice, as a flaky network would resend it (the same request the
    # page's script makes; keepalive is what sendBeacon uses underneath), each answered before we look.
    statuses = page.evaluate(
        """async ([url, session, kinds]) => {
            const out = [];
            for (let round = 0; round < 2; round++) {
                for (const kind of kinds) {
                    const r = await fetch(url, {method: 'POST', keepalive: true, credentials: 'omit',
                                                body: JSON.stringify({kind, session})});
                    out.push(r.status);
                }
            }
            return out;
        }""",
        [f"{path}/events", session, EVERYTHING],
    )
    assert statuses == [204] * (2 * len(EVERYTHING))
    again = api.get(f"/api/v1/campaigns/{campaign_id}/analytics/").json()
    assert {k: again[k] for k in once} == once
    assert again["avg_watch_percent"] == 100.0
