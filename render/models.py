"""Renders (one personalised video) and Generations (one content-addressed diffusion output).

State changes are conditional updates (`UPDATE … WHERE status = expected`) made by `render.services`; the
database is the source of truth and tasks only carry ids.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from core.models import Brand, Workspace
from templates.models import TemplateVersion


class RenderStatus(models.TextChoices):
    QUEUED = "queued"
    GENERATING = "generating"
    COMPOSING = "composing"
    UPLOADING = "uploading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINAL_RENDER_STATUSES = (RenderStatus.SUCCEEDED, RenderStatus.FAILED, RenderStatus.CANCELED)
ACTIVE_RENDER_STATUSES = (
    RenderStatus.QUEUED,
    RenderStatus.GENERATING,
    RenderStatus.COMPOSING,
    RenderStatus.UPLOADING,
)


class Priority(models.IntegerChoices):
    """Lower runs first (Redis/kombu priority order). Single API renders go ahead of batches."""

    INTERACTIVE = 0
    BATCH = 6


class Render(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="renders")
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="renders")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="renders")
    variables = models.JSONField()  # every declared variable's final value (defaults applied)
    status = models.CharField(max_length=16, choices=RenderStatus.choices, default=RenderStatus.QUEUED)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.INTERACTIVE)
    # Requested for a batch (a campaign's recipients), not by a caller waiting on this one render: the
    # plan's in-flight limit counts only the others (batches have their own cap, docs/billing.md).
    batch = models.BooleanField(default=False)
    # Starts of the current stage's task; a stage that starts more than REELSMITH_MAX_ATTEMPTS times is poison.
    attempts = models.PositiveSmallIntegerField(default=0)
    # The task (its Celery id) composing this render now; with `updated_at`, renewed by its heartbeat, the
    # render's lease (render/services/lease.py). "" while no task holds it.
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True)
    callback_url = models.URLField(max_length=2000, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # NULL, not "", when absent: the partial UNIQUE constraint below must ignore renders without a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True)
    video_key = models.CharField(max_length=300, blank=True)
    thumbnail_key = models.CharField(max_length=300, blank=True)
    # One entry per output format when the template lists several: {format, width, height, video_key,
    # poster_key, gif_key, captions_key, duration}. video_key/thumbnail_key above stay the first format's.
    outputs = models.JSONField(default=list, blank=True)
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when the render's output files were deleted (erasure, consent withdrawn): the render row stays, its
    # watch page answers 410.
    outputs_erased_at = models.DateTimeField(null=True, blank=True)
    outputs_erased_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="render_idempotency_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["workspace", "external_id"]),
        ]

    def __str__(self) -> str:
        return f"render {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RENDER_STATUSES


class GenerationStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class GenerationKind(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"


class Generation(models.Model):
    """One picture (or clip), keyed by the hash of everything that determines it. Made once, reused by every render."""

    key = models.CharField(max_length=64, primary_key=True)
    kind = models.CharField(max_length=8, choices=GenerationKind.choices, default=GenerationKind.IMAGE)
    model = models.CharField(max_length=64)
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    seed = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    steps = models.PositiveSmallIntegerField()
    guidance = models.FloatField()
    scheduler = models.CharField(max_length=64, default="default")
    # img2img: a personalised variant of a shared base picture, costing `strength` of a full generation.
    base = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="variants")
    strength = models.FloatField(null=True, blank=True)
    num_frames = models.PositiveIntegerField(null=True, blank=True)  # video generations only
    # Requests with the same shape key can share one batched pipeline call.
    shape_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=GenerationStatus.choices, default=GenerationStatus.PENDING
    )
    priority = models.PositiveSmallIntegerField(default=Priority.INTERACTIVE)
    attempts = models.PositiveSmallIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)  # pipeline executions that produced this picture (metrics)
    error = models.TextField(blank=True)
    # The stored result: `generations/<key[:2]>/<key>.png` for a picture, `.mp4` (H.264) for a clip.
    output_key = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "shape_key", "priority", "created_at"])]

    def __str__(self) -> str:
        return f"generation {self.key[:12]} ({self.status})"


class RenderGeneration(models.Model):
    """A render waits on these. `cache_hit`: the picture already existed or was already on its way."""

    render = models.ForeignKey(Render, on_delete=models.CASCADE, related_name="generation_links")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="render_links")
    cache_hit = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["render", "generation"], name="render_generation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.render_id} waits on {self.generation_id[:12]}"


class GenerationBatch(models.Model):
    """One pipeline call: its size (for the batch-size histogram) and how long it took."""

    model = models.CharField(max_length=64)
    size = models.PositiveSmallIntegerField()
    seconds = models.FloatField()
    # Peak GPU memory torch allocated during the call (CUDA only; NULL on CPU). /metrics reads the
    # latest per model: the scraping web process cannot see the GPU worker's device.
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.model} batch of {self.size}"


# --- Watch pages (docs/watch-pages.md) ------------------------------------------------------------------------


class WatchCounters(models.Model):
    """The engagement counters a watch page keeps in total (WatchPage) and per day (WatchDaily)."""

    views = models.PositiveIntegerField(default=0)
    unique_viewers = models.PositiveIntegerField(default=0)
    plays = models.PositiveIntegerField(default=0)
    progress_25 = models.PositiveIntegerField(default=0)
    progress_50 = models.PositiveIntegerField(default=0)
    progress_75 = models.PositiveIntegerField(default=0)
    progress_100 = models.PositiveIntegerField(default=0)
    cta_clicks = models.PositiveIntegerField(default=0)
    bot_hits = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class WatchPage(WatchCounters):
    """The stable link a recipient gets for one render: `/w/<token>`. Made when the render succeeds.

    The token is the only secret (≥128 bits from `secrets`, render/watch/services.py); revoking or expiring a
    page makes `/w/<token>` answer 404/410 while the render and its files stay. The engagement counters are the
    page's totals, kept by F() updates as events arrive; `WatchDaily` holds the same counters per day.
    """

    render = models.OneToOneField(Render, on_delete=models.CASCADE, related_name="watch_page")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Set once, by the first view / first CTA click (a conditional update: `video.viewed` and `cta.clicked`
    # are told once per render).
    first_viewed_at = models.DateTimeField(null=True, blank=True)
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"watch page of {self.render_id}"


class WatchEventKind(models.TextChoices):
    VIEW = "view"
    PLAY = "play"
    PROGRESS_25 = "progress_25"
    PROGRESS_50 = "progress_50"
    PROGRESS_75 = "progress_75"
    PROGRESS_100 = "progress_100"
    CTA = "cta"


class WatchEvent(models.Model):
    """One thing a viewer did on a watch page. No IP: `viewer` is a hash of address and user agent with a salt
    that rotates daily; `session` is the random id the page's script made for this viewing. Both are NULL when
    the browser asked not to be tracked (DNT / Sec-GPC): the event is counted, anonymously."""

    page = models.ForeignKey(WatchPage, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=WatchEventKind.choices)
    session = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001  NULL: not deduplicated
    viewer = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["page", "session", "kind"],
                condition=models.Q(session__isnull=False),
                name="watch_event_once_per_session",
            ),
        ]
        indexes = [
            models.Index(fields=["page", "viewer"]),
            models.Index(fields=["page", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.page_id}"


class WatchDaily(WatchCounters):
    """A watch page's counters for one UTC day: what the analytics read (never the events)."""

    page = models.ForeignKey(WatchPage, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "day"], name="watch_daily_unique")]

    def __str__(self) -> str:
        return f"{self.page_id} on {self.day}"
