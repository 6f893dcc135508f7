"""Reads for watch pages: the cached lookup a page is served from, links, and engagement from the counters
(never from the events, so an analytics read costs the same at 10 thousand events as at a million)."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from math import sqrt
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from adspec.vocabulary import MERGE_FIELD
from core.models import BrandAsset
from render.models import Render, RenderStatus, WatchDaily, WatchPage
from render.watch.services import CACHE_PREFIX
from templates.merge import merge

# The counters every engagement answer is made of (WatchPage and WatchDaily hold the same ones).
COUNTS = (
    "views",
    "unique_viewers",
    "plays",
    "progress_25",
    "progress_50",
    "progress_75",
    "progress_100",
    "cta_clicks",
    "bot_hits",
)
# The funnel of a group of renders: how many pages got at least one of each (docs/watch-pages.md).
FUNNEL = {"viewed": "views", "played": "plays", "completed": "progress_100", "clicked": "cta_clicks"}
# What a token that matches no page is cached as (a miss must not cost a query per request either).
MISSING: dict[str, Any] = {}


def watch_url(token: str) -> str:
    """The page's absolute address: `PUBLIC_BASE_URL` + `/w/<token>`."""
    return f"{settings.PUBLIC_BASE_URL}/w/{token}"


def _page_of(render: Render) -> WatchPage | None:
    try:
        page: WatchPage = render.watch_page
    except WatchPage.DoesNotExist:
        return None
    return page


def render_watch_url(render: Render) -> str | None:
    """A succeeded render's watch page link; None before it succeeded and once the page is revoked."""
    if render.status != RenderStatus.SUCCEEDED:
        return None
    page = _page_of(render)
    if page is None or page.revoked_at is not None:
        return None
    return watch_url(page.token)


def render_watch_links(render: Render) -> dict[str, str | None]:
    """Links that never expire for an email (docs/watch-pages.md): the page, and its poster and GIF preview,
    each a redirect to a fresh short-lived storage URL, plus an HTML snippet: the GIF (else the poster)
    linking to the page."""
    url = render_watch_url(render)
    if url is None:
        return {"watch_url": None, "poster_url": None, "gif_url": None, "email_html": None}
    has_gif = any(output.get("gif_key") for output in render.outputs or [])
    gif_url = f"{url}/gif" if has_gif else None
    poster_url = f"{url}/poster"
    width = min(render.width or 320, 320)  # an email column is 600 px; half of it for a preview
    image = gif_url or poster_url
    email_html = (
        f'<a href="{url}"><img src="{image}" alt="Play the video" width="{width}" '
        f'style="display:block;border:0;max-width:100%;height:auto"></a>'
    )
    return {"watch_url": url, "poster_url": poster_url, "gif_url": gif_url, "email_html": email_html}


# --- the page's lookup ------------------------------------------------------------------------------------------


def _cta(spec: dict[str, Any], values: dict[str, Any]) -> dict[str, str] | None:
    """The template's button for this recipient: the label merged as text, the URL with each value
    percent-encoded (a value can change the path or query, never the host: templates/spec_checks.py)."""
    cta = spec.get("cta")
    if not isinstance(cta, dict):
        return None
    text_values = {name: str(value) for name, value in values.items()}
    label = merge(str(cta.get("label", "")), text_values).strip()
    url = MERGE_FIELD.sub(lambda m: quote(text_values.get(m.group(1), ""), safe=""), str(cta.get("url", "")))
    if not label or urlsplit(url).scheme not in ("http", "https"):
        return None
    return {"label": label, "url": url}


def _outputs(render: Render) -> list[dict[str, Any]]:
    outputs = [
        {
            "format": o.get("format", ""),
            "width": int(o.get("width") or 0),
            "height": int(o.get("height") or 0),
            **{f"{kind}_key": o.get(f"{kind}_key") or "" for kind in ("video", "poster", "gif", "captions")},
        }
        for o in render.outputs or []
        if o.get("video_key")
    ]
    if outputs or not render.video_key:
        return outputs
    # A render from before formats: its one video and thumbnail.
    return [
        {
            "format": f"{render.width}x{render.height}",
            "width": render.width or 0,
            "height": render.height or 0,
            "video_key": render.video_key,
            "poster_key": render.thumbnail_key,
            "gif_key": "",
            "captions_key": "",
        }
    ]


def watch_snapshot(token: str) -> dict[str, Any] | None:
    """Everything a page needs, from one query, cached for `REELSMITH_WATCH_CACHE_SECONDS` (dropped at once by
    revoke and expiry changes, render/watch/services.py). None for a token that names no page."""
    key = CACHE_PREFIX + token
    cached: dict[str, Any] | None = cache.get(key)
    if cached is not None:
        return cached or None
    logo = BrandAsset.objects.filter(brand=OuterRef("render__brand"), kind=BrandAsset.Kind.LOGO).order_by(
        "-created_at"
    )
    page = (
        WatchPage.objects.select_related("render__brand", "render__template_version__template")
        .annotate(logo_key=Subquery(logo.values("storage_key")[:1]))
        .filter(token=token)
        .first()
    )
    if page is None:
        cache.set(key, MISSING, settings.REELSMITH_WATCH_CACHE_SECONDS)
        return None
    render = page.render
    version = render.template_version
    brand = render.brand
    snapshot = {
        "page_id": page.pk,
        "token": page.token,
        "render_id": str(render.pk),
        "workspace_id": str(render.workspace_id),
        "revoked": page.revoked_at is not None,
        "expires_at": page.expires_at.timestamp() if page.expires_at else None,
        "erased": render.outputs_erased_at is not None or render.status != RenderStatus.SUCCEEDED,
        "title": str(version.spec.get("name") or version.template.name),
        "brand": {
            "name": brand.name,
            "primary": brand.color_primary,
            "secondary": brand.color_secondary,
            "text": brand.color_text,
            "logo_key": page.logo_key or "",  # annotated above
        },
        "duration": render.duration,
        "outputs": _outputs(render),
        "cta": _cta(version.spec, render.variables or {}),
        # The template version's authors, credited under the video (docs/trust.md "Credit").
        "credits": [{"name": a["name"], "role": a["role"]} for a in version.authors],
    }
    cache.set(key, snapshot, settings.REELSMITH_WATCH_CACHE_SECONDS)
    return snapshot


def watch_sources(outputs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each output with the `<source media>` query that picks it: the one whose shape is nearest the screen's.
    Widest first; each takes screens at least as wide as the geometric mean of its ratio and the next
    narrower one's; the narrowest takes the rest (no query). One output: no query."""
    ordered = sorted(
        (o for o in outputs if o["width"] and o["height"]),
        key=lambda o: o["width"] / o["height"],
        reverse=True,
    )
    if len(ordered) < 2:
        return [(o, "") for o in ordered or outputs[:1]]
    sources = []
    for wider, narrower in pairwise(ordered):
        cut = Fraction(sqrt(wider["width"] / wider["height"] * narrower["width"] / narrower["height"]))
        cut = cut.limit_denominator(1000)
        sources.append((wider, f"(min-aspect-ratio: {cut.numerator}/{cut.denominator})"))
    sources.append((ordered[-1], ""))
    return sources


# --- engagement -------------------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def engagement_from_counts(counts: dict[str, int]) -> dict[str, Any]:
    """The figures people read, from the counters. `avg_watch_percent`: how far plays got, in quarters (a play
    that passed 50 % sent 25 and 50, so 25 * the progress marks / plays)."""
    plays = counts["plays"]
    marks = sum(counts[f"progress_{q}"] for q in (25, 50, 75, 100))
    return {
        "views": counts["views"],
        "unique_viewers": counts["unique_viewers"],
        "plays": plays,
        "play_rate": _ratio(plays, counts["views"]),
        "avg_watch_percent": min(100.0, round(25 * marks / plays, 1)) if plays else 0.0,
        "completions": counts["progress_100"],
        "completion_rate": _ratio(counts["progress_100"], plays),
        "cta_clicks": counts["cta_clicks"],
        "click_rate": _ratio(counts["cta_clicks"], counts["views"]),
        "bot_hits": counts["bot_hits"],
    }


def render_engagement(render: Render) -> dict[str, Any] | None:
    """A render's engagement (its page's counters); None when it has no page."""
    page = _page_of(render)
    if page is None:
        return None
    return {
        **engagement_from_counts({name: getattr(page, name) for name in COUNTS}),
        "first_viewed_at": page.first_viewed_at,
        "last_event_at": page.last_event_at,
    }


def watch_engagement_summary(*, renders: QuerySet[Render]) -> dict[str, Any]:
    """Engagement of a group of renders (a campaign's: the caller filters), totals and funnel in one query over
    their pages, and the per-day series in one over their daily rows."""
    pages = WatchPage.objects.filter(render__in=renders)
    # Aliases differ from the fields' names: an aggregate named like a field would shadow it in the filters.
    totals = pages.aggregate(
        pages=Count("pk"),
        **{f"sum_{name}": Coalesce(Sum(name), 0) for name in COUNTS},
        **{f"funnel_{step}": Count("pk", filter=Q(**{f"{field}__gt": 0})) for step, field in FUNNEL.items()},
    )
    days = (
        WatchDaily.objects.filter(page__render__in=renders)
        .values("day")
        .annotate(**{f"sum_{name}": Coalesce(Sum(name), 0) for name in COUNTS})
        .order_by("day")
    )
    return {
        **engagement_from_counts({name: totals[f"sum_{name}"] for name in COUNTS}),
        "funnel": {"sent": totals["pages"], **{step: totals[f"funnel_{step}"] for step in FUNNEL}},
        "days": [
            {"day": row["day"], **engagement_from_counts({name: row[f"sum_{name}"] for name in COUNTS})}
            for row in days
        ],
    }


def watch_engagement_many(*, render_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """Engagement per render for a page of renders (results.csv): one query."""
    rows = WatchPage.objects.filter(render_id__in=render_ids).values("render_id", *COUNTS)
    return {row["render_id"]: engagement_from_counts(row) for row in rows}
