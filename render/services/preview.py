"""A template's preview: a still of every scene in every format, made in seconds and charged nothing.

Each still is the scene's middle frame drawn by the compositor from the same plan a render makes
(`render.planning.composition_plan`), one ffmpeg run of one frame per scene (`render_still`), the runs in
parallel. A generated background is taken from the Generation cache when that picture (or clip) already
exists; otherwise the scene is drawn over its colour, gradient or brand picture (the primary colour when it
names none) and the still says "background not generated yet". Diffusion never runs, nothing is reserved or
charged, no Render or Generation row is written.

Stills are stored under `previews/<workspace>/<digest>/`, the digest covering everything that decides their
pixels (the compositor's still version, template version, values, format, brand colours and files, the
generated media found), so asking again for the same preview reads them back without running ffmpeg. They are
handed out as storage URLs (presigned, so short-lived, in service mode); a bucket lifecycle rule on
`previews/` may expire them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.consent import consent_use_record
from core.errors import ApplicationError, NotFoundError
from core.models import Brand, Workspace
from core.selectors import brand_get_for_workspace, brand_list
from core.storage import get_storage
from render.compose.compose import render_still
from render.compose.plan import CompositionPlan
from render.compose.probe import MediaInput
from render.compose.validate import check_plan, check_plan_inputs
from render.engine.registry import model_spec
from render.likeness import render_likeness_assets, render_likeness_check
from render.models import Generation, GenerationStatus
from render.planning import GeneratedClip, composition_plan, generation_specs, scenes_shown
from render.services.composition import brand_files_fetch
from render.services.plan import default_model
from templates.merge import variables_resolve
from templates.models import TemplateVersion
from templates.spec import spec_formats

NOT_GENERATED = "background not generated yet"
UNKNOWN_FORMAT = "This template has no format {name!r}; its formats are: {names}."
NO_BRAND = "A preview draws with a brand's colours and logo: create a brand first."
NO_SUCH_BRAND = "No such brand."
# Bumped when a change to the compositor or to this module changes the stills' pixels: old ones are not reused.
STILL_VERSION = "1"


@dataclass(frozen=True)
class Still:
    """One scene of one format: where its PNG is, and what it could not show yet."""

    format: str
    width: int
    height: int
    scene: int  # the scene's index in the spec
    key: str
    note: str = ""

    @property
    def url(self) -> str:
        return get_storage().url(self.key)


@dataclass(frozen=True)
class TemplatePreview:
    version: int
    values: dict[str, str]
    stills: list[Still]


def preview_brand_get(*, workspace: Workspace, brand_id: Any = None) -> Brand:
    """The brand a preview draws with: the one named, else the workspace's newest (400 naming `brand`)."""
    if brand_id is not None:
        try:
            return brand_get_for_workspace(workspace=workspace, brand_id=brand_id)
        except NotFoundError:
            raise ApplicationError(NO_SUCH_BRAND, fields={"brand": NO_SUCH_BRAND}) from None
    brand = brand_list(workspace=workspace).first()
    if brand is None:
        raise ApplicationError(NO_BRAND, fields={"brand": NO_BRAND})
    return brand


def preview_sample_values(*, template_version: TemplateVersion) -> dict[str, str]:
    """What a preview shows for each variable nobody gave a value: its declared default, else (a required
    one) its name, as a person would read it ("first_name" → "First Name"), cut to its length."""
    samples: dict[str, str] = {}
    for name, decl in template_version.variables.items():
        sample = decl.get("default") or name.replace("_", " ").title()
        samples[name] = sample[: int(decl.get("max_length", len(sample)))]
    return samples


def template_preview(
    *,
    template_version: TemplateVersion,
    brand: Brand,
    values: dict[str, Any] | None = None,
    format_name: str | None = None,
) -> TemplatePreview:
    """Stills of every scene in every format (or the one named), with `values` over the samples. A value
    the template would refuse is a 400 naming `values.<name>`; an unknown format names `format`."""
    spec = template_version.spec
    given = {name: value for name, value in (values or {}).items() if value not in (None, "")}
    resolved = variables_resolve(
        declared=template_version.variables,
        values={**preview_sample_values(template_version=template_version), **given},
        path="values",
    )
    formats = spec_formats(spec)
    if format_name is not None:
        formats = [fmt for fmt in formats if fmt["name"] == format_name]
        if not formats:
            message = UNKNOWN_FORMAT.format(
                name=format_name, names=", ".join(f["name"] for f in spec_formats(spec))
            )
            raise ApplicationError(message, fields={"format": message})
    # A portrait, voice or presenter clip of the brand's needs its person's consent (400 naming `brand`).
    likeness = render_likeness_assets(spec=spec, brand=brand)
    render_likeness_check(template_version=template_version, brand=brand)
    media_keys = _generated_media(spec, resolved)
    digest = _digest(template_version, brand, resolved, formats, media_keys)
    folder = f"previews/{brand.workspace_id}/{digest}"
    shown = scenes_shown(spec, resolved)
    stills = [
        Still(
            format=fmt["name"],
            width=fmt["width"],
            height=fmt["height"],
            scene=index,
            key=f"{folder}/{fmt['name'].replace(':', 'x')}-scene{index}.png",
            note=NOT_GENERATED if index in media_keys and media_keys[index] is None else "",
        )
        for fmt in formats
        for index in shown
    ]
    storage = get_storage()
    for _path, asset in likeness:  # stills that show a likeness are erased with it (docs/trust.md)
        for still in stills:
            consent_use_record(consent_ids=[asset.consent_id], reference=f"still:{still.key}")
    if not all(storage.exists(still.key) for still in stills):
        _draw(template_version, brand, resolved, formats, media_keys, stills)
    return TemplatePreview(version=template_version.version, values=resolved, stills=stills)


def _generated_media(spec: dict[str, Any], values: dict[str, str]) -> dict[int, tuple[str, str, int] | None]:
    """Per scene with a generated background: (storage key, kind suffix, clip fps or 0) of the picture or
    clip when the Generation cache holds it, else None. One query; never creates a Generation."""
    specs = generation_specs(spec, values, default_model())
    wanted = {index: gen for index, gen in enumerate(specs) if gen is not None}
    found = dict(
        Generation.objects.filter(
            pk__in=[gen.key for gen in wanted.values()], status=GenerationStatus.SUCCEEDED
        ).values_list("key", "output_key")
    )
    out: dict[int, tuple[str, str, int] | None] = {}
    for index, gen in wanted.items():
        key = found.get(gen.key)
        if not key:
            out[index] = None
            continue
        fps = (model_spec(gen.model).fps or 0) if gen.num_frames is not None else 0
        out[index] = (key, Path(key).suffix, fps)
    return out


def _digest(
    template_version: TemplateVersion,
    brand: Brand,
    values: dict[str, str],
    formats: list[dict[str, Any]],
    media: dict[int, tuple[str, str, int] | None],
) -> str:
    # The newest of each kind wins, as in a render (`Brand.current_asset`).
    current = dict(brand.assets.order_by("created_at").values_list("kind", "sha256"))
    canonical = json.dumps(
        [STILL_VERSION, str(template_version.pk), values, formats, brand.colors, current, media],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _draw(
    template_version: TemplateVersion,
    brand: Brand,
    values: dict[str, str],
    formats: list[dict[str, Any]],
    media_keys: dict[int, tuple[str, str, int] | None],
    stills: list[Still],
) -> None:
    """Fetch the brand's files and the cached media, plan each format, draw every still in parallel."""
    storage = get_storage()
    spec = template_version.spec
    with tempfile.TemporaryDirectory(prefix="reelsmith-preview-") as tmp:
        workdir = Path(tmp)
        brand_files = brand_files_fetch(brand, workdir, spec)
        media: list[Path | GeneratedClip | None] = []
        for index in range(len(spec["scenes"])):
            found = media_keys.get(index)
            if found is None:
                media.append(None)
                continue
            key, suffix, fps = found
            path = storage.fetch(key, workdir / f"scene-{index}{suffix}")
            media.append(GeneratedClip(path, fps) if fps else path)
        jobs: list[tuple[CompositionPlan, int, Still, dict[Path, MediaInput]]] = []
        for fmt in formats:
            plan = composition_plan(
                spec=spec, values=values, brand=brand_files, scene_media=media, metadata={}, output=fmt
            )
            check_plan(plan)
            inputs = check_plan_inputs(plan)
            mine = [still for still in stills if still.format == fmt["name"]]
            jobs += [(plan, position, still, inputs) for position, still in enumerate(mine)]

        def draw(number: int) -> None:
            plan, position, still, inputs = jobs[number]
            out = workdir / f"still-{number}.png"
            render_still(plan, position, out, workdir=workdir / f"work-{number}", inputs=inputs)
            storage.put_file(still.key, out, content_type="image/png")

        # One ffmpeg per still; as many at once as there are cores (each run is mostly single-threaded).
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            list(pool.map(draw, range(len(jobs))))
