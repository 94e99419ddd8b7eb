"""weekly_retraining through dag.test(): auto promotion, a rejected rerun, and a refused trigger."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"
RUN_AFTER = datetime(2026, 4, 6, 3, tzinfo=timezone.utc)  # a Monday: trains on partitions up to 2026-04-05
DAYS = [date(2026, 4, 5) - timedelta(days=n) for n in range(13, -1, -1)]


@pytest.fixture(scope="module")
def curated():
    """Fourteen ingested days in the session's storage at the default 3,000 applications a day
    (smaller holdouts make the fairness gaps too noisy to pass reliably)."""
    from airflow.utils import db

    from include import contract, settings
    from include.ingestion.partition import ingest_partition
    from include.simulator.land import land_day

    db.initdb()
    s = settings.load({**os.environ, "MLOPS_SIMULATOR_ROWS_PER_DAY": "3000"})
    credit = contract.load("credit_applications")
    for day in DAYS:
        land_day(credit, day, settings=s)
        for feed in credit.feeds():
            ingest_partition(credit, feed.name, day, settings=s)
    return credit


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS / "weekly_retraining.py")).dags["weekly_retraining"]


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


@pytest.mark.integration
def test_auto_promotion_then_a_rerun_that_cannot_improve_is_rejected(curated):
    from include import audit, registry, settings

    conf = {"reason": "first model for the credit team", "window_days": 14}
    first = _dag().test(logical_date=RUN_AFTER, run_conf=conf)
    states = _states(first)
    assert str(first.state) == "success", states
    assert states["promote"] == "success" and states["record_rejection"] == "skipped"
    client = registry.client(settings.get())
    champion = registry.by_alias(client, "credit_applications", registry.CHAMPION)
    assert champion is not None and champion.tags["promotion_reason"] == "first model for the credit team"

    second = _dag().test(logical_date=RUN_AFTER + timedelta(hours=1), run_conf=conf | {"reason": "rerun"})
    states = _states(second)
    assert str(second.state) == "success", states  # a rejection is a normal outcome
    assert states["record_rejection"] == "success" and states["promote"] == "skipped"
    assert registry.by_alias(client, "credit_applications", registry.CHAMPION).version == champion.version
    events = audit.read(DAYS[-1], DAYS[-1])
    kinds = [e["type"] for e in events]
    assert kinds.count("promoted") == 1 and kinds.count("rejected") == 1
    rejected = next(e for e in events if e["type"] == "rejected")
    assert rejected["failed_gates"] == ["min_improvement"] and rejected["actor"].startswith("user:")


@pytest.mark.integration
def test_a_manual_run_without_a_reason_fails_before_training(curated):
    run = _dag().test(logical_date=RUN_AFTER + timedelta(hours=2), run_conf={"window_days": 14})
    states = _states(run)
    assert str(run.state) == "failed"
    assert states["resolve_request"] == "failed" and states["train_challenger"] == "upstream_failed"


@pytest.mark.parametrize("params, message", [
    ({"reason": "x", "window_days": 3}, "from 7 to 365"),
    ({"reason": "x", "promotion_mode": "yolo"}, "promotion_mode"),
    ({"reason": "x", "force": "yes"}, "true or false"),
    ({"reason": "x", "dataset": "../etc"}, "not a known dataset"),
    ({"reason": "  "}, "'reason' is required"),
])
def test_request_resolution_refuses_bad_values(params, message):
    from include.run_target import RunParamsError
    from include.training.request import resolve

    with pytest.raises(RunParamsError, match=message):
        resolve(params, run_type="manual", interval_end=RUN_AFTER)


def test_scheduled_runs_train_up_to_the_sunday_before_and_need_no_reason():
    from include.training.request import resolve

    request = resolve({}, run_type="scheduled", interval_end=RUN_AFTER)
    assert (request.end, request.actor, request.reason, request.window_days) == (
        "2026-04-05", "schedule", "weekly schedule", 28)
