from django.apps import AppConfig


class AdTemplatesConfig(AppConfig):
    """The ad-template app. Its label is `ad_templates`: `templates` would read as Django's HTML templates."""

    name = "templates"
    label = "ad_templates"
    verbose_name = "Ad templates"
