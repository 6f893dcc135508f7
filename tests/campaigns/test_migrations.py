"""Forward migration of campaign renders: campaigns 0003 + render 0005 carry Render.campaign/recipient over to
the campaigns-owned CampaignRender link, on a database that already holds campaign renders."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from campaigns.models import CampaignRender
from render.models import Render

BEFORE = [
    ("campaigns", "0002_campaigns_at_scale"),
    ("render", "0004_generation_output_key"),
    ("ad_templates", "0003_template_archived_at"),  # before TemplateVersion.authors
]
AFTER = [("campaigns", "0003_campaign_render"), ("render", "0005_campaign_render")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_campaign_renders_move_to_the_campaign_link() -> None:
    old = _migrate(BEFORE)
    workspace = old.get_model("core", "Workspace").objects.create(name="before")
    brand = old.get_model("core", "Brand").objects.create(workspace=workspace, name="Acme")
    template = old.get_model("ad_templates", "AdTemplate").objects.create(workspace=workspace, name="t")
    version = old.get_model("ad_templates", "TemplateVersion").objects.create(
        template=template, version=1, spec={}, variables={}
    )
    campaign = old.get_model("campaigns", "Campaign").objects.create(
        workspace=workspace, name="c", template_version=version, brand=brand
    )
    Recipient = old.get_model("campaigns", "Recipient")
    OldRender = old.get_model("render", "Render")
    made = {
        "api": OldRender.objects.create(
            workspace=workspace, template_version=version, brand=brand, variables={}
        )
    }
    for position in (1, 2):
        recipient = Recipient.objects.create(campaign=campaign, variables={}, position=position)
        made[f"r{position}"] = OldRender.objects.create(
            workspace=workspace,
            template_version=version,
            brand=brand,
            variables={},
            campaign=campaign,
            recipient=recipient,
            priority=6,
        )
    # A render whose recipient was removed (SET_NULL) still belongs to its campaign.
    made["orphan"] = OldRender.objects.create(
        workspace=workspace, template_version=version, brand=brand, variables={}, campaign=campaign
    )

    _migrate(AFTER)
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    links = {link.render_id: link for link in CampaignRender.objects.all()}
    assert set(links) == {made[k].pk for k in ("r1", "r2", "orphan")}
    positions = {link.recipient.position for link in links.values() if link.recipient is not None}
    assert positions == {1, 2}
    assert links[made["orphan"].pk].recipient_id is None
    assert all(link.campaign_id == campaign.pk for link in links.values())
    # What render keeps: whether the plan's in-flight limit counts it.
    assert set(Render.objects.filter(batch=True).values_list("pk", flat=True)) == set(links)
    assert Render.objects.get(pk=made["api"].pk).batch is False
