from django.apps import AppConfig


class RenderConfig(AppConfig):
    name = "render"

    def ready(self) -> None:
        from core.metrics import register
        from render.metrics import RenderCollector

        register(RenderCollector())
