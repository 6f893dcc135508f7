from django.db import migrations, models


def member_to_editor(apps, schema_editor):
    # "member" was the only non-owner role; it did the marketing work, which is what an editor does.
    apps.get_model("core", "Membership").objects.filter(role="member").update(role="editor")


def editor_to_member(apps, schema_editor):
    apps.get_model("core", "Membership").objects.exclude(role="owner").update(role="member")


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_brand_image_asset"),
    ]

    operations = [
        migrations.AlterField(
            model_name="membership",
            name="role",
            field=models.CharField(
                choices=[("owner", "Owner"), ("editor", "Editor"), ("viewer", "Viewer")],
                default="editor",
                max_length=16,
            ),
        ),
        migrations.RunPython(member_to_editor, editor_to_member),
        migrations.AddField(
            model_name="brand",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
