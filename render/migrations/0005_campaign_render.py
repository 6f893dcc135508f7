"""Render forgets campaigns: the link now lives in campaigns.CampaignRender (campaigns 0003 copies it first).

What render still needs to know is whether a render was asked for as part of a batch (the plan's in-flight
limit does not count those): `batch`, set here for every render that had a campaign.
"""

from django.db import migrations, models


def batch_from_campaign(apps, schema_editor):
    Render = apps.get_model("render", "Render")
    Render.objects.filter(campaign__isnull=False).update(batch=True)


def noop(apps, schema_editor):
    """Going back, campaigns 0003's reverse copies the links onto the render rows."""


class Migration(migrations.Migration):
    dependencies = [
        ("render", "0004_generation_output_key"),
        ("campaigns", "0003_campaign_render"),
    ]

    operations = [
        migrations.AddField(
            model_name="render",
            name="batch",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(batch_from_campaign, noop),
        migrations.RemoveConstraint(
            model_name="render",
            name="render_one_per_recipient",
        ),
        migrations.RemoveField(
            model_name="render",
            name="campaign",
        ),
        migrations.RemoveField(
            model_name="render",
            name="recipient",
        ),
        migrations.AlterField(
            model_name="render",
            name="priority",
            field=models.PositiveSmallIntegerField(choices=[(0, "Interactive"), (6, "Batch")], default=0),
        ),
    ]
