"""Render-farm metrics, read from the database at scrape time (see core.metrics for why)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from render.models import Generation, GenerationBatch, Render, RenderGeneration, RenderStatus

# The engine pads batches to these sizes (render.engine), so they are the natural histogram buckets.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class RenderCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        renders = GaugeMetricFamily("reelsmith_renders", "Renders by status.", labels=["status"])
        counts = dict(Render.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        for status in RenderStatus.values:
            renders.add_metric([status], counts.get(status, 0))
        yield renders

        runs = CounterMetricFamily(
            "reelsmith_generations",
            "Diffusion generations run (pipeline outputs kept), by model.",
            labels=["model"],
        )
        for model, total in (
            Generation.objects.values("model").annotate(total=Sum("runs")).values_list("model", "total")
        ):
            runs.add_metric([model], total or 0)
        yield runs

        hits = CounterMetricFamily(
            "reelsmith_generation_cache_hits",
            "Generations a render needed that already existed or were on their way.",
        )
        hits.add_metric([], RenderGeneration.objects.filter(cache_hit=True).count())
        yield hits

        # One aggregate query, not a row per batch: the table grows by one row per pipeline call.
        aggregates: dict[str, Any] = {f"le{le}": Count("pk", filter=Q(size__lte=le)) for le in BATCH_BUCKETS}
        totals = GenerationBatch.objects.aggregate(
            **aggregates, n=Count("pk"), images=Sum("size"), seconds=Sum("seconds")
        )
        buckets = [(str(le), totals[f"le{le}"]) for le in BATCH_BUCKETS]
        buckets.append(("+Inf", totals["n"]))
        yield HistogramMetricFamily(
            "reelsmith_generation_batch_size",
            "Generations per pipeline call.",
            buckets=buckets,
            sum_value=totals["images"] or 0,
        )
        seconds = CounterMetricFamily("reelsmith_generation_seconds", "Seconds spent in pipeline calls.")
        seconds.add_metric([], totals["seconds"] or 0.0)
        yield seconds

        # GPU memory: the worker records the peak torch allocated during each batch on its row (CUDA only);
        # the latest batch per model is the current figure.
        memory = GaugeMetricFamily(
            "reelsmith_generation_gpu_memory_peak_bytes",
            "Peak GPU memory allocated during the latest pipeline call, by model (CUDA workers only).",
            labels=["model"],
        )
        measured = GenerationBatch.objects.filter(peak_memory_bytes__isnull=False)
        for model in sorted(set(measured.values_list("model", flat=True))):
            peak = (
                measured.filter(model=model)
                .order_by("-created_at", "-pk")
                .values_list("peak_memory_bytes", flat=True)
                .first()
            )
            memory.add_metric([model], float(peak or 0))
        yield memory
