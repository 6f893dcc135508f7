"""Which of a brand's likeness assets a spec shows or plays, and whether their consents allow it (docs/trust.md).

A spec names brand assets by word, never by id: `brand.portrait` (a background or image layer, or an image
variable's fallback), `brand.video` (a clip background) and `"audio": {"music": "brand.voice"}`; the brand's
newest asset of that kind is the one used. A portrait and a voice are always someone's likeness; footage only
when flagged `shows_person`. A render, a preview or a campaign whose brand would supply such an asset is
refused (400 naming `brand`) unless the asset's consent holds for that brand and use; the compositor asks again
before it composes and records the use (`core.models.ConsentUse`), so a consent withdrawn meanwhile stops the
render, and what it made can be found and erased later.
"""

from __future__ import annotations

from typing import Any

from core.consent import asset_consent_problem, consent_use_record
from core.errors import ApplicationError
from core.models import Brand, BrandAsset
from templates.models import TemplateVersion

LIKENESS_REFUSED = "The brand's {kind} ({where}) cannot be used: {problem}"
# The spec word for each likeness kind.
WORDS = {"portrait": "brand.portrait", "video": "brand.video", "voice": "brand.voice"}


def likeness_kinds(spec: dict[str, Any]) -> dict[str, str]:
    """{asset kind: the first spec path that names it} for the kinds that can hold a likeness."""
    found: dict[str, str] = {}
    for name, decl in (spec.get("variables") or {}).items():
        if isinstance(decl, dict) and decl.get("fallback") == WORDS["portrait"]:
            found.setdefault("portrait", f"spec.variables.{name}.fallback")
    for index, scene in enumerate(spec.get("scenes") or []):
        background = scene.get("background") or {}
        path = f"spec.scenes[{index}].background"
        if background.get("image") == WORDS["portrait"]:
            found.setdefault("portrait", f"{path}.image")
        if background.get("video") == WORDS["video"]:
            found.setdefault("video", f"{path}.video")
        for layer_index, layer in enumerate(scene.get("layers") or []):
            if layer.get("type") == "image" and layer.get("source") == WORDS["portrait"]:
                found.setdefault("portrait", f"spec.scenes[{index}].layers[{layer_index}].source")
    if (spec.get("audio") or {}).get("music") == WORDS["voice"]:
        found["voice"] = "spec.audio.music"
    return found


def render_likeness_assets(*, spec: dict[str, Any], brand: Brand) -> list[tuple[str, BrandAsset]]:
    """(spec path, asset) for every likeness this spec would take from this brand now."""
    used: list[tuple[str, BrandAsset]] = []
    for kind, path in likeness_kinds(spec).items():
        asset = brand.current_asset(kind)
        if asset is not None and asset.likeness_use is not None:
            used.append((path, asset))
    return used


def _refusal(used: list[tuple[str, BrandAsset]]) -> str | None:
    for path, asset in used:
        problem = asset_consent_problem(asset)
        if problem is not None:
            return LIKENESS_REFUSED.format(kind=asset.likeness_use, where=path, problem=problem)
    return None


def render_likeness_problem(*, template_version: TemplateVersion, brand: Brand) -> str | None:
    """Why rendering this version with this brand would show a likeness without consent, or None."""
    return _refusal(render_likeness_assets(spec=template_version.spec, brand=brand))


def render_likeness_check(*, template_version: TemplateVersion, brand: Brand, field: str = "brand") -> None:
    """400 naming `field` (the brand the likeness would come from) when `render_likeness_problem` finds one."""
    problem = render_likeness_problem(template_version=template_version, brand=brand)
    if problem is not None:
        raise ApplicationError(problem, fields={field: problem})


def render_likeness_claim(
    *, render_id: Any, template_version: TemplateVersion, brand: Brand
) -> tuple[list[BrandAsset], str | None]:
    """Before composing: (the likeness assets this render will use, None), their use recorded against their
    consents; or ([], why) when a consent no longer holds."""
    used = render_likeness_assets(spec=template_version.spec, brand=brand)
    problem = _refusal(used)
    if problem is not None:
        return [], problem
    consent_use_record(
        consent_ids=[asset.consent_id for _path, asset in used if asset.consent_id],
        reference=f"render:{render_id}",
    )
    return [asset for _path, asset in used], None
