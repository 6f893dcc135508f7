from django.apps import AppConfig


class RenderConfig(AppConfig):
    name = "render"

    def ready(self) -> None:
        # Imported here, not at module level: they import models, which need the app registry ready.
        from core.metrics import register
        from render import receivers
        from render.metrics import RenderCollector
        from render.signals import render_finished

        register(RenderCollector())
        # Render settles its own charges (capture or release) in the transaction that finishes a render.
        render_finished.connect(receivers.on_render_finished, dispatch_uid="render.settle_charges")
