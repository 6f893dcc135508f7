from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Reelsmith core"

    def ready(self) -> None:
        from core import schema  # noqa: F401  (registers the OpenAPI extension for API keys)
        from core.logs import task_context_connect
        from core.metrics import QueueDepthCollector, register

        register(QueueDepthCollector())
        # Every task's log lines carry its ids and the request id of whoever enqueued it (core.logs).
        task_context_connect()
