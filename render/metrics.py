"""Render-farm metrics, read from the database at scrape time (see core.metrics for why)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Sum
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

        sizes = list(GenerationBatch.objects.values_list("size", "seconds"))
        buckets = [(str(le), sum(1 for size, _ in sizes if size <= le)) for le in BATCH_BUCKETS]
        buckets.append(("+Inf", len(sizes)))
        yield HistogramMetricFamily(
            "reelsmith_generation_batch_size",
            "Generations per pipeline call.",
            buckets=buckets,
            sum_value=sum(size for size, _ in sizes),
        )
        seconds = CounterMetricFamily("reelsmith_generation_seconds", "Seconds spent in pipeline calls.")
        seconds.add_metric([], sum(s for _, s in sizes))
        yield seconds
