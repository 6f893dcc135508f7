"""Structured logs: one JSON object per line in service mode, readable lines in embedded mode, each carrying
the ids of what it is about.

Every module keeps logging through the standard library (`logging.getLogger(__name__)`); structlog's
`ProcessorFormatter` renders those records, merged with the context bound in `contextvars`:

- a request's `request_id` (`X-Request-ID` when the caller sent a sane one, else a fresh one; echoed on the
  response) is bound by `core.request_context.RequestContextMiddleware`, which also logs one line per
  request and feeds the HTTP metrics (`core.metrics`);
- a task binds its name, its id, the request id of whoever enqueued it (a message header), and every
  argument named `*_id` (`render_id`, `campaign_id`, `delivery_id`, ...), from Celery's task signals
  (connected in `CoreConfig.ready`), so a render's compose and a campaign's fan-out log their ids without
  any task saying so.
"""

from __future__ import annotations

import inspect
import re
import threading
import uuid
from contextvars import Token
from typing import Any

import structlog
from celery.signals import before_task_publish, task_postrun, task_prerun
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars, reset_contextvars

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's own id is kept only if it is short and plain (it is echoed in a header and written to logs).
_REQUEST_ID_OK = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TASK_HEADER = "reelsmith_request_id"


def _pre_chain() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def logging_config(*, json: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING: every record through structlog, JSON (service mode) or console text (embedded)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    processors: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": processors,
                "foreign_pre_chain": _pre_chain(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        # One line per request in JSON; in embedded mode runserver prints its own.
        "loggers": {"reelsmith.request": {"level": "INFO" if json else "WARNING"}},
    }


def structlog_configure() -> None:
    """structlog's own loggers (`structlog.get_logger()`) hand their events to the same handlers."""
    structlog.configure(
        processors=[*_pre_chain(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def request_id_from(header: str | None) -> str:
    """The caller's `X-Request-ID` if it is short and plain, else a fresh id."""
    if header and _REQUEST_ID_OK.fullmatch(header):
        return header
    return uuid.uuid4().hex


# --- tasks ----------------------------------------------------------------------------------------------------

_task_tokens: dict[str, dict[str, Token[Any]]] = {}
_task_tokens_lock = threading.Lock()


def _id_arguments(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The task's arguments named `*_id`, by name (tasks take ids only: docs/architecture.md)."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return {}
    return {name: str(value) for name, value in bound.arguments.items() if name.endswith("_id")}


def task_context_bind(
    sender: Any = None, task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    """Celery's `task_prerun`: bind the task's ids; `task_context_reset` restores what was bound before
    (a task run inline inside a request keeps the request's id afterwards)."""
    if task is None:
        return
    context: dict[str, Any] = {"task": task.name, "task_id": task_id}
    delivery = getattr(task.request, "delivery_info", None) or {}
    if delivery.get("routing_key"):  # the queue it came from (a compose shard, say); none when run inline
        context["queue"] = delivery["routing_key"]
    enqueued_by = getattr(task.request, _TASK_HEADER, None)
    if enqueued_by and "request_id" not in get_contextvars():
        context["request_id"] = enqueued_by
    context.update(_id_arguments(task, args, kwargs))
    tokens = bind_contextvars(**context)
    with _task_tokens_lock:
        _task_tokens[task_id] = dict(tokens)


def task_context_reset(sender: Any = None, task_id: str = "", **_: Any) -> None:
    """Celery's `task_postrun`."""
    with _task_tokens_lock:
        tokens = _task_tokens.pop(task_id, None)
    if tokens:
        try:
            reset_contextvars(**tokens)
        except ValueError:  # bound in another context (cannot happen with Celery's pools; never fatal)
            clear_contextvars()


def task_headers_add(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Celery's `before_task_publish`: the request id travels with the message to the worker."""
    request_id = get_contextvars().get("request_id")
    if headers is not None and request_id:
        headers[_TASK_HEADER] = request_id


def task_context_connect() -> None:
    task_prerun.connect(task_context_bind, dispatch_uid="core.logs.task_context_bind", weak=False)
    task_postrun.connect(task_context_reset, dispatch_uid="core.logs.task_context_reset", weak=False)
    before_task_publish.connect(task_headers_add, dispatch_uid="core.logs.task_headers_add", weak=False)
