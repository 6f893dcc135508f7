"""What render does when one of its renders finishes (connected in `RenderConfig.ready`, render/apps.py).

Runs inside the transaction that finished the render (`render.signals.render_finished`), so the ledger rows
commit with the final status or not at all. A succeeded render's charge is captured at what actually ran
(cache hits free: `render.pricing.render_cost_actual`), the rest of its reservation given back; a failed or
canceled render's reservation is released whole. The ledger settles each charge once (docs/billing.md).
"""

from __future__ import annotations

from typing import Any

from core.billing.ledger import charge_capture, charge_release
from render.models import Render, RenderStatus
from render.pricing import render_cost_actual
from render.services.erasure import render_likeness_withdraw
from render.watch.services import watch_page_ensure


def on_render_finished(sender: Any, *, render_id: Any, status: str, **kwargs: Any) -> None:
    reference = str(render_id)
    if status != RenderStatus.SUCCEEDED:
        charge_release(reference=reference)
        return
    spec = Render.objects.select_related("template_version").get(pk=render_id).template_version.spec
    charge_capture(reference=reference, credits=render_cost_actual(render_id=render_id, spec=spec))


def on_render_succeeded_watch_page(sender: Any, *, render_id: Any, status: str, **kwargs: Any) -> None:
    """Every succeeded render has its watch page from the moment it succeeds, made in the same transaction
    (so the first webhook, results.csv and the API already carry its link). Receivers above may make it first
    (`watch_page_ensure` is get-or-create)."""
    if status == RenderStatus.SUCCEEDED:
        watch_page_ensure(render_id=render_id)


def on_likeness_withdrawn(
    sender: Any, *, asset_ids: list[Any], references: list[str], reason: str, **kwargs: Any
) -> None:
    """A consent was revoked or ran out (core.signals.likeness_withdrawn): cancel what still renders with its
    likeness, erase what was made with it (render.services.erasure)."""
    render_likeness_withdraw(asset_ids=asset_ids, references=references, reason=reason)
