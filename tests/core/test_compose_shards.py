"""Compose shards (docs/architecture.md "Campaign renders meet warm caches"): the shard a piece of work goes
to is stable and spread over every shard; a cpu worker consumes the shards it is told to, all by default, and
a misconfigured list stops it at start, not silently."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from core.celery import compose_shards_consume, worker_compose_shards
from core.queue import compose_shard_queue


def test_a_key_always_lands_on_the_same_shard_and_keys_spread_over_all(settings: Any) -> None:
    settings.REELSMITH_COMPOSE_SHARDS = 4
    assert compose_shard_queue("version-1:brand-1") == compose_shard_queue("version-1:brand-1")
    spread = Counter(compose_shard_queue(f"version-{n}:brand") for n in range(400))
    assert set(spread) == {"compose.0", "compose.1", "compose.2", "compose.3"}
    assert min(spread.values()) > 50  # 100 expected each; a hash that clumps would leave a shard idle
    settings.REELSMITH_COMPOSE_SHARDS = 0
    assert compose_shard_queue("version-1:brand-1") is None


@pytest.mark.parametrize(
    ("shards", "selection", "queues"),
    [
        (3, "all", ["compose.0", "compose.1", "compose.2"]),
        (3, "2, 0", ["compose.0", "compose.2"]),
        (3, "", []),
        (0, "all", []),
    ],
)
def test_a_worker_consumes_the_shards_it_is_given(shards: int, selection: str, queues: list[str]) -> None:
    assert worker_compose_shards(shards=shards, selection=selection) == queues


@pytest.mark.parametrize("selection", ["3", "-1", "one"])
def test_a_shard_list_that_names_no_shard_stops_the_worker(selection: str) -> None:
    with pytest.raises(ValueError, match=r"REELSMITH_WORKER_COMPOSE_SHARDS|invalid literal"):
        worker_compose_shards(shards=3, selection=selection)


class _Queues:
    def __init__(self, names: list[str]) -> None:
        self.consume_from = {name: object() for name in names}

    def select_add(self, name: str) -> None:
        self.consume_from[name] = object()


@pytest.mark.parametrize(("given", "added"), [(["cpu"], {"compose.0", "compose.1"}), (["gpu"], set())])
def test_only_a_cpu_worker_adds_the_shard_queues(settings: Any, given: list[str], added: set[str]) -> None:
    settings.REELSMITH_COMPOSE_SHARDS = 2
    settings.REELSMITH_WORKER_COMPOSE_SHARDS = "all"
    queues = _Queues(given)
    compose_shards_consume(instance=SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=queues))))
    assert set(queues.consume_from) == set(given) | added
