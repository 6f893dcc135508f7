from django.apps import AppConfig


class AdTemplatesConfig(AppConfig):
    """The ad-template app. Its label is `ad_templates`: `templates` would read as Django's HTML templates."""

    name = "templates"
    label = "ad_templates"
    verbose_name = "Ad templates"

    def ready(self) -> None:
        from templates.moderation import moderator

        moderator()  # a REELSMITH_MODERATOR that cannot be loaded stops the start, naming the variable
        # Templates' part of a workspace's export and deletion (core.workspace_data).
        from core.workspace_data import workspace_data_register
        from templates.workspace_data import templates_export, templates_purge

        workspace_data_register(name="templates", height=1, export=templates_export, purge=templates_purge)
