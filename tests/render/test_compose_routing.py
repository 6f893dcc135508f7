"""Where compose tasks are sent (docs/architecture.md "Campaign renders meet warm caches"): with compose
shards on, every render of a campaign goes to its template version and brand's shard, a person's render to
the first free cpu worker; the reconciler's re-send of a render that waited past its lease goes to `cpu`."""

from __future__ import annotations

from typing import Any

import pytest
from celery.app.task import Task
from rest_framework.test import APIClient

from campaigns.models import Campaign
from core.queue import compose_shard_queue
from render.models import Render, RenderStatus
from render.services.reconcile import render_reconcile
from render.services.transitions import TASK_COMPOSE
from tests.campaigns.helpers import make_campaign, upload_json
from tests.render.test_api_renders import request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[tuple[str, str | None]]:
    """Each compose task sent: (render id, the queue it was sent to; None = the task's own, `cpu`)."""
    settings.REELSMITH_COMPOSE_SHARDS = 4
    calls: list[tuple[str, str | None]] = []
    original = Task.apply_async

    def spy(self: Task, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if self.name == TASK_COMPOSE:
            calls.append((str(args[0]), options.get("queue")))
        return original(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", spy)
    return calls


def test_a_campaigns_renders_go_to_their_shard_and_a_persons_to_cpu(
    api: APIClient, sent: list[tuple[str, str | None]]
) -> None:
    campaign = make_campaign(api)
    upload_json(api, campaign["id"], [{"first_name": name} for name in ("Ann", "Bo", "Cy")])
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {}, format="json").status_code == 202
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/approve/").status_code == 200
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/launch/").status_code == 202
    row = Campaign.objects.get(pk=campaign["id"])
    shard = compose_shard_queue(f"{row.template_version_id}:{row.brand_id}")
    campaign_renders = {
        str(pk) for pk in Render.objects.filter(campaign_link__campaign=row).values_list("pk", flat=True)
    }
    assert len(campaign_renders) == 3
    assert {queue for render_id, queue in sent if render_id in campaign_renders} == {shard}

    interactive = request_render(api, campaign["template"], campaign["brand"], {"first_name": "Dee"})
    assert interactive.status_code == 202
    assert (interactive.json()["id"], None) in sent


def test_a_render_that_waited_past_its_lease_is_resent_to_cpu(
    api: APIClient, sent: list[tuple[str, str | None]], settings: Any
) -> None:
    campaign = make_campaign(api)
    upload_json(api, campaign["id"], [{"first_name": "Ann"}])
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {}, format="json").status_code == 202
    render = Render.objects.get(campaign_link__campaign_id=campaign["id"])
    assert render.status == RenderStatus.SUCCEEDED
    # As if its shard's message were still waiting: composing, unleased, not touched for longer than a lease.
    stale = render.updated_at.replace(year=render.updated_at.year - 1)
    Render.objects.filter(pk=render.pk).update(
        status=RenderStatus.COMPOSING, lease_owner="", updated_at=stale
    )
    sent.clear()
    render_reconcile()
    assert (str(render.pk), None) in sent
