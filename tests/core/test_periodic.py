"""Embedded mode's beat (core/periodic.py): the beat's own table, run in-process on the same intervals."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from django.conf import settings

from core import periodic
from core.periodic import PeriodicEntry, periodic_entries, periodic_start, periodic_tick

BEAT: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE


def test_the_entries_are_the_beats() -> None:
    entries = {entry.task: entry.every for entry in periodic_entries()}
    assert entries == {entry["task"]: float(entry["schedule"]) for entry in BEAT.values()}
    assert set(entries) >= {
        "render.reconcile",
        "campaigns.tick",
        "webhooks.dispatch_due",
        "billing.report_usage",
    }


def test_one_interval_for_every_entry_when_asked(settings: Any) -> None:
    settings.REELSMITH_EMBEDDED_PERIODIC_EVERY = 2.0
    assert {entry.every for entry in periodic_entries()} == {2.0}


def test_every_entry_runs_at_once_then_each_on_its_interval_never_twice_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []
    running: dict[str, Future[None]] = {}

    def run(task: str) -> Future[None]:
        sent.append(task)
        running[task] = Future()
        return running[task]

    monkeypatch.setattr(periodic, "embedded_run", run)
    entries = [PeriodicEntry("fast", "t.fast", every=15.0), PeriodicEntry("slow", "t.slow", every=60.0)]
    assert periodic_tick(entries, now=100.0) == ["fast", "slow"]  # at start: what a crash left is picked up
    assert periodic_tick(entries, now=110.0) == []
    assert periodic_tick(entries, now=115.0) == []  # due, but its last run has not finished
    running["t.fast"].set_result(None)
    assert periodic_tick(entries, now=116.0) == ["fast"]
    running["t.fast"].set_result(None)
    running["t.slow"].set_result(None)
    assert periodic_tick(entries, now=131.0) == ["fast"]
    assert periodic_tick(entries, now=160.0) == ["slow"]
    assert sent == ["t.fast", "t.slow", "t.fast", "t.fast", "t.slow"]


def test_it_starts_only_embedded_and_when_switched_on(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(periodic, "_started", False)
    monkeypatch.setattr(periodic, "_periodic_loop", lambda entries: None)  # no thread work in this test
    settings.REELSMITH_EMBEDDED_PERIODIC = False
    assert periodic_start() is False
    settings.REELSMITH_EMBEDDED_PERIODIC = True
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"  # service mode: beat's job
    assert periodic_start() is False
    settings.CELERY_BROKER_URL = ""
    assert periodic_start() is True
    assert periodic_start() is False  # once per process
