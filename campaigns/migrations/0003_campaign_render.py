"""Campaigns own the link between a recipient and its render (render forgets campaigns).

Creates CampaignRender and carries every existing campaign render over from Render.campaign/recipient;
render's 0005 then drops those columns. Reversible: going back copies the links onto the render rows.
"""

import django.db.models.deletion
from django.db import migrations, models

# Rows copied per bulk_create: bounded memory on a table of millions of renders.
BATCH = 2000


def links_from_renders(apps, schema_editor):
    Render = apps.get_model("render", "Render")
    CampaignRender = apps.get_model("campaigns", "CampaignRender")
    rows = (
        Render.objects.filter(campaign__isnull=False)
        .order_by("pk")
        .values_list("pk", "campaign_id", "recipient_id")
    )
    batch = []
    for render_id, campaign_id, recipient_id in rows.iterator(chunk_size=BATCH):
        batch.append(CampaignRender(render_id=render_id, campaign_id=campaign_id, recipient_id=recipient_id))
        if len(batch) >= BATCH:
            CampaignRender.objects.bulk_create(batch)
            batch = []
    CampaignRender.objects.bulk_create(batch)


def renders_from_links(apps, schema_editor):
    Render = apps.get_model("render", "Render")
    CampaignRender = apps.get_model("campaigns", "CampaignRender")
    for link in CampaignRender.objects.order_by("pk").iterator(chunk_size=BATCH):
        Render.objects.filter(pk=link.render_id).update(
            campaign_id=link.campaign_id, recipient_id=link.recipient_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_campaigns_at_scale"),
        ("render", "0004_generation_output_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignRender",
            fields=[
                (
                    "render",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="campaign_link",
                        serialize=False,
                        to="render.render",
                    ),
                ),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="render_links",
                        to="campaigns.campaign",
                    ),
                ),
                (
                    "recipient",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="render_links",
                        to="campaigns.recipient",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("recipient__isnull", False)),
                        fields=("campaign", "recipient"),
                        name="campaign_render_one_per_recipient",
                    )
                ],
            },
        ),
        migrations.RunPython(links_from_renders, renders_from_links),
    ]
