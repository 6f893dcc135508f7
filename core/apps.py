from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Reelsmith core"

    def ready(self) -> None:
        from core import schema  # noqa: F401  (registers the OpenAPI extension for API keys)
        from core.logs import task_context_connect
        from core.metrics import QueueDepthCollector, register

        register(QueueDepthCollector())
        # Sign-ins and failed sign-ins go to the audit log (core.audit), whichever page or client signed in.
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from core.audit import on_user_logged_in, on_user_login_failed

        user_logged_in.connect(on_user_logged_in, dispatch_uid="core.audit.signed_in")
        user_login_failed.connect(on_user_login_failed, dispatch_uid="core.audit.sign_in_failed")
        # Every task's log lines carry its ids and the request id of whoever enqueued it (core.logs).
        task_context_connect()
