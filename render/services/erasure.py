"""Erasing what a render made (docs/trust.md): its outputs when a likeness's consent is withdrawn, and, for a
recipient who asked to be forgotten, everything personal besides.

`render_erase` deletes every object a render can have written, whatever its status: each format's video
(C2PA manifest inside), poster, GIF and captions, at the keys recorded in `Render.outputs` and at the keys
composing would write (render.services.composition), so a render canceled while it uploaded leaves nothing.
The row stays, with `outputs_erased_at` and the reason, so its watch page answers 410 and the API says why.
`forget_personal` also clears the recipient's values from the row, deletes the watch page with its events,
the pictures generated for this render alone (their prompts held the values) and the recipient's pictures
(image variables). Each step is conditional or idempotent: a second run finds nothing more to do.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from adspec.vocabulary import IMAGE_UPLOAD, IMAGE_URL
from core.audit import audit_record
from core.errors import ConflictError
from core.models import BrandAsset
from core.storage import get_storage
from render.likeness import likeness_kinds
from render.models import (
    ACTIVE_RENDER_STATUSES,
    Generation,
    GenerationStatus,
    Render,
    RenderGeneration,
    RenderStatus,
    WatchPage,
)
from render.services.composition import OUTPUT_FILES, output_prefix
from render.services.images import _pointer_key, uploaded_image_delete
from render.services.requests import render_cancel
from render.watch.services import watch_page_forget
from templates.spec import spec_formats

logger = logging.getLogger(__name__)

OUTPUT_KEY_FIELDS = ("video_key", "poster_key", "gif_key", "captions_key")


def _cancel(render: Render, reason: str) -> bool:
    """Cancel a render in progress with the reason, audited; False when it finished first (then it is
    erased like any finished one). Refreshes `render`."""
    try:
        render_cancel(render=render, reason=reason)
    except ConflictError:
        return False
    audit_record(
        "render.canceled",
        workspace=render.workspace_id,
        object_type="render",
        object_id=render.pk,
        after={"status": RenderStatus.CANCELED, "reason": reason[:200]},
    )
    return True


def render_output_keys(render: Render) -> set[str]:
    """Every storage key the render's outputs live at, or would (all formats of its template version)."""
    keys = {key for key in (render.video_key, render.thumbnail_key) if key}
    for output in render.outputs or []:
        keys |= {output[field] for field in OUTPUT_KEY_FIELDS if output.get(field)}
    for position, fmt in enumerate(spec_formats(render.template_version.spec)):
        prefix = output_prefix(render, position=position, name=fmt["name"])
        keys |= {f"{prefix}/{name}" for name in OUTPUT_FILES}
    return keys


def render_erase(
    *, render: Render, reason: str, forget_personal: bool = False, keep_uploads: frozenset[str] = frozenset()
) -> int:
    """Cancel the render if it is still running, delete its outputs from storage and mark it erased (with
    `reason`); `forget_personal` also removes the recipient's data from it, except the uploaded pictures in
    `keep_uploads` (ones the caller knows someone else still names). Returns the objects deleted."""
    if render.status in ACTIVE_RENDER_STATUSES:
        _cancel(render, reason)
    storage = get_storage()
    keys = sorted(render_output_keys(render))
    deleted = 0
    for key in keys:
        if storage.exists(key):
            storage.delete(key)
            deleted += 1
    outputs = [
        {k: v for k, v in output.items() if k not in OUTPUT_KEY_FIELDS} for output in render.outputs or []
    ]
    fields: dict[str, Any] = {"video_key": "", "thumbnail_key": "", "outputs": outputs}
    if forget_personal:
        deleted += _forget_personal(render, keep_uploads)
        fields |= {"variables": {}, "external_id": "", "callback_url": "", "error": reason[:2000]}
    with transaction.atomic():
        first = Render.objects.filter(pk=render.pk, outputs_erased_at__isnull=True).update(
            outputs_erased_at=timezone.now(), outputs_erased_reason=reason[:200], **fields
        )
        if not first:
            Render.objects.filter(pk=render.pk).update(**fields)
        watch_page_forget(render_id=render.pk)  # the page answers 410 now, not when its cache runs out
        if forget_personal:
            WatchPage.objects.filter(render_id=render.pk).delete()  # its events go with it
        if first:
            audit_record(
                "render.outputs_erased",
                workspace=render.workspace_id,
                object_type="render",
                object_id=render.pk,
                after={"reason": reason[:200], "objects_deleted": deleted},
            )
    return deleted


def _forget_personal(render: Render, keep_uploads: frozenset[str] = frozenset()) -> int:
    """The recipient's pictures and the pictures generated for this render alone. Returns objects deleted."""
    storage = get_storage()
    deleted = 0
    # Generated for this render only (no other render links it, no variant builds on it), finished: a running
    # one is left to its worker, which would write it back.
    personal = (
        Generation.objects.filter(render_links__render=render)
        .annotate(linked=Count("render_links"))
        .filter(
            linked=1, variants__isnull=True, status__in=[GenerationStatus.SUCCEEDED, GenerationStatus.FAILED]
        )
    )
    for generation in list(personal):
        if generation.output_key and storage.exists(generation.output_key):
            storage.delete(generation.output_key)
            deleted += 1
        RenderGeneration.objects.filter(generation=generation).delete()
        Generation.objects.filter(pk=generation.pk).delete()
    declared = render.template_version.variables
    for name, value in (render.variables or {}).items():
        if (declared.get(name) or {}).get("type") != "image" or not isinstance(value, str):
            continue
        if IMAGE_UPLOAD.fullmatch(value):
            if value in keep_uploads:
                continue
            others = Render.objects.filter(workspace_id=render.workspace_id, **{f"variables__{name}": value})
            if not others.exclude(pk=render.pk).exists():
                deleted += uploaded_image_delete(workspace_id=render.workspace_id, reference=value)
        elif IMAGE_URL.fullmatch(value):
            deleted += _remote_image_forget(value)
    return deleted


def _remote_image_forget(url: str) -> int:
    """The stored copy of a picture fetched from `url` and the pointer to it. Another URL with the same bytes
    fetches them again (render.services.images refetches when a pointer's picture is gone)."""
    storage = get_storage()
    pointer = _pointer_key(url)
    if not storage.exists(pointer):
        return 0
    with tempfile.TemporaryDirectory(prefix="reelsmith-erase-") as tmp:
        record = json.loads(storage.fetch(pointer, Path(tmp) / "pointer.json").read_text())
    deleted = 0
    for key in (str(record.get("key") or ""), pointer):
        if key and storage.exists(key):
            storage.delete(key)
            deleted += 1
    return deleted


# --- consent withdrawn (core.signals.likeness_withdrawn, connected in RenderConfig.ready) -----------------------


def _renders_using_current(asset: BrandAsset) -> list[Render]:
    """Renders still in progress that would take `asset` when they compose: their brand's current asset of its
    kind is this one and their spec names that kind."""
    if asset.brand.current_asset(asset.kind) != asset:
        return []
    renders = Render.objects.filter(
        brand_id=asset.brand_id, status__in=ACTIVE_RENDER_STATUSES
    ).select_related("template_version")
    return [render for render in renders if asset.kind in likeness_kinds(render.template_version.spec)]


def render_likeness_withdraw(*, asset_ids: list[Any], references: list[str], reason: str) -> dict[str, int]:
    """Cancel every render still in progress that uses these assets and erase what every render (and
    template preview) made with them; each step audited. Returns counts."""
    render_ids = {ref.removeprefix("render:") for ref in references if ref.startswith("render:")}
    for asset in BrandAsset.objects.filter(pk__in=asset_ids).select_related("brand"):
        render_ids |= {str(render.pk) for render in _renders_using_current(asset)}
    counts = {"canceled": 0, "erased": 0, "stills": 0}
    renders = Render.objects.filter(pk__in=render_ids).select_related("template_version")
    for render in renders:
        if render.status in ACTIVE_RENDER_STATUSES and _cancel(render, reason):
            counts["canceled"] += 1
        if render.outputs_erased_at is None:
            render_erase(render=render, reason=reason)
            counts["erased"] += 1
    storage = get_storage()
    for ref in references:
        if ref.startswith("still:") and storage.exists(ref.removeprefix("still:")):
            storage.delete(ref.removeprefix("still:"))
            counts["stills"] += 1
    logger.info("likeness withdrawn: %s", counts)
    return counts
