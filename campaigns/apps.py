from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import receivers, tasks  # noqa: F401  (tasks: registers them with the Celery app)
        from render.signals import render_finished

        render_finished.connect(receivers.on_render_finished, dispatch_uid="campaigns.on_render_finished")
