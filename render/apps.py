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
        # A succeeded render gets its watch page (render/watch) in the transaction that finishes it.
        render_finished.connect(receivers.on_render_succeeded_watch_page, dispatch_uid="render.watch_page")
        # A consent revoked or run out (core.consent): what uses its likeness is canceled and erased.
        from core.signals import likeness_withdrawn

        likeness_withdrawn.connect(receivers.on_likeness_withdrawn, dispatch_uid="render.likeness_withdrawn")
        # Render's part of a workspace's export and deletion (core.workspace_data).
        from core.workspace_data import workspace_data_register
        from render.workspace_data import renders_export, renders_purge

        workspace_data_register(name="render", height=2, export=renders_export, purge=renders_purge)
