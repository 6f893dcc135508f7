"""The worker-local cache on real services: the second recipient of a campaign reads no byte from S3.

Service mode only: real `celery worker` processes (two pool processes on the cpu queue, so the two recipients
may well be composed by different processes: the cache is the machine's, not the process's), PostgreSQL,
Redis and SeaweedFS. What each compose read from storage is counted by the worker (core.storage counters) and
logged with the render ("render composed", render/services/composition.py); the test reads the worker's log.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.recipients import recipients_import
from campaigns.services import campaign_approve, campaign_create, campaign_launch, campaign_samples
from core.models import Brand
from core.queue import compose_shard_queue
from render.models import Render, RenderStatus
from templates.models import TemplateVersion
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _wait_campaign(campaign: Campaign, status: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        campaign.refresh_from_db()
        if campaign.status == status:
            return
        assert time.monotonic() < deadline, f"campaign stuck in {campaign.status}"
        time.sleep(0.25)


def _composed(log_path: Path) -> dict[str, dict[str, Any]]:
    """Every "render composed" line of a worker's (JSON) log, by render id."""
    lines = {}
    for raw in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "render composed":
            lines[event["render_id"]] = {**event["compose"], "queue": event.get("queue", "")}
    return lines


def test_the_second_recipient_of_a_campaign_reads_no_byte_from_s3(
    api: APIClient, service_workers: dict[str, Any]
) -> None:
    # A picture no other test asks for (a fresh prompt), moving under the greeting: the first recipient
    # fetches it from S3 and makes the moving background and the shared segment; the second finds all of
    # them in the machine's cache.
    spec = small_spec()
    spec["scenes"][0]["background"]["generate"]["prompt"] = (
        f"a sunlit storefront, cinematic {uuid.uuid4().hex}"
    )
    spec["scenes"][1]["layers"][1]["text"] = "Acme, let's talk."  # the second scene is the same for everyone
    template = make_template(api, spec)
    version = TemplateVersion.objects.get(template_id=uuid.UUID(template))
    brand = Brand.objects.get(pk=make_brand(api))
    campaign = campaign_create(workspace=brand.workspace, name="cache", template_version=version, brand=brand)
    recipients_import(campaign=campaign, recipients=[{"first_name": "Ann"}, {"first_name": "Łukasz"}])

    campaign_samples(campaign=campaign, count=1)  # the first recipient, alone
    _wait_campaign(campaign, Campaign.Status.AWAITING_APPROVAL)
    campaign_launch(campaign=campaign_approve(campaign=campaign, actor="test"))  # the second
    _wait_campaign(campaign, Campaign.Status.COMPLETED)

    first, second = (
        Render.objects.get(campaign_link__campaign=campaign, campaign_link__recipient__position=position)
        for position in (1, 2)
    )
    assert first.status == second.status == RenderStatus.SUCCEEDED
    deadline = time.monotonic() + 10  # the log line is written just after the render succeeds
    while str(second.pk) not in (lines := _composed(service_workers["cpu"].log_path)):
        assert time.monotonic() < deadline, "no 'render composed' line for the second render"
        time.sleep(0.2)
    assert lines[str(first.pk)]["storage_bytes_read"] > 0  # the picture, read from S3 once
    assert lines[str(first.pk)]["cache_misses"] >= 1
    assert lines[str(second.pk)]["storage_reads"] == 0
    assert lines[str(second.pk)]["storage_bytes_read"] == 0
    # The picture, its moving background and the shared segment (and its GIF frames) came from the cache.
    assert lines[str(second.pk)]["cache_hits"] >= 3
    # With compose shards on (infra/scripts/test.sh sets 2), both came off their template and brand's shard
    # queue: the one a warm worker consumes (render.services.transitions.compose_queue).
    shard = compose_shard_queue(f"{version.pk}:{brand.pk}")
    assert shard is not None, "service mode runs with REELSMITH_COMPOSE_SHARDS set"
    assert lines[str(first.pk)]["queue"] == lines[str(second.pk)]["queue"] == shard
