"""Render and Generation state machines, by concern:

- `transitions`: the one conditional status update every stage goes through, and failing a render;
- `requests`: accepting (idempotently, with credits reserved) and canceling a render;
- `plan`: one Generation per generated background, then on to generate or compose;
- `generation`: the GPU worker's claim → run → record loop and the fan-in to compose;
- `composition`: fetch, compose every format, upload, succeed (or retry with back-off);
- `reconcile`: re-queue work whose task was lost.

Tasks carry ids; these functions re-read the database. A stage that starts more than
REELSMITH_MAX_ATTEMPTS times is failed with a reason (docs/reliability.md R3). The names below are the
package's public surface for the API, campaigns and tasks.
"""

from render.services.composition import COMPOSE_GAVE_UP, render_compose
from render.services.generation import (
    GENERATION_GAVE_UP,
    LINGER_POLL_MS,
    generation_claim_batch,
    generation_drain,
    generation_linger,
    generation_record_results,
    generation_release,
    generation_run_batch,
    generation_urgent_shapes,
    renders_advance,
)
from render.services.plan import default_model, render_plan
from render.services.reconcile import STUCK_GAVE_UP, render_reconcile
from render.services.requests import (
    ALREADY_FINISHED,
    IDEMPOTENCY_CONFLICT,
    render_cancel,
    render_refuse,
    render_request,
)
from render.services.transitions import TASK_COMPOSE, TASK_GENERATE, TASK_PLAN, render_fail, render_transition

__all__ = [
    "ALREADY_FINISHED",
    "COMPOSE_GAVE_UP",
    "GENERATION_GAVE_UP",
    "IDEMPOTENCY_CONFLICT",
    "LINGER_POLL_MS",
    "STUCK_GAVE_UP",
    "TASK_COMPOSE",
    "TASK_GENERATE",
    "TASK_PLAN",
    "default_model",
    "generation_claim_batch",
    "generation_drain",
    "generation_linger",
    "generation_record_results",
    "generation_release",
    "generation_run_batch",
    "generation_urgent_shapes",
    "render_cancel",
    "render_compose",
    "render_fail",
    "render_plan",
    "render_reconcile",
    "render_refuse",
    "render_request",
    "render_transition",
    "renders_advance",
]
