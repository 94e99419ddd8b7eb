"""The demo's in-process runs carry the facts of what they are (run type, who triggered them, real
durations, task logs where the UI reads them), and a queued run is executed under its own id."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.airflow_runs import dag_from_file


def _log_lines(ti) -> list[dict]:
    from include.demo.runner import _log_path

    return [json.loads(line) for line in _log_path(ti).read_text().splitlines()]


@pytest.mark.integration
def test_a_demo_run_is_a_manual_run_by_the_user_with_its_real_duration_and_task_logs():
    from airflow.utils import db

    from include.demo.runner import run, task_logs_captured

    db.initdb()
    due = datetime(2026, 1, 6, 2, tzinfo=UTC)  # the 02:00 run that ingests 2026-01-05
    before = datetime.now(UTC)
    with task_logs_captured():
        dag_run = run(
            dag_from_file("nightly_ingestion"),
            run_after=due,
            conf={"dataset": "breast_cancer", "date": "2026-01-05", "dry_run": True},
        )
    assert str(dag_run.state) == "success"
    # Where the scheduler's run of that interval stands: logical date = the interval's start.
    assert (
        dag_run.logical_date,
        dag_run.data_interval_start,
        dag_run.data_interval_end,
        dag_run.run_after,
    ) == (due - timedelta(days=1), due - timedelta(days=1), due, due)
    assert (dag_run.run_type, dag_run.triggered_by.value, dag_run.triggering_user_name) == (
        "manual",
        "cli",
        getpass.getuser(),
    )
    assert before <= dag_run.start_date <= dag_run.end_date <= datetime.now(UTC)  # not the logical date
    summary = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "summarize")
    events = [e["event"] for e in _log_lines(summary)]
    assert any(str(e).startswith("breast_cancer dt=2026-01-05 breast_cancer: landed") for e in events), events


@pytest.mark.integration
def test_a_queued_run_is_executed_under_its_own_id_and_trigger():
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils import db
    from airflow.utils.types import DagRunTriggeredByType

    from include.demo.runner import run

    db.initdb()
    dag = dag_from_file("nightly_ingestion")
    run(
        dag,
        run_after=datetime(2026, 1, 8, 2, tzinfo=UTC),  # writes the DAG to the database
        conf={"dataset": "breast_cancer", "date": "2026-01-07", "dry_run": True},
    )
    logical = datetime(2026, 1, 9, 2, tzinfo=UTC)
    queued = trigger_dag(
        "nightly_ingestion",
        run_id="replay__breast_cancer__2026-01-08",
        logical_date=logical,
        run_after=logical + timedelta(minutes=1),
        triggered_by=DagRunTriggeredByType.OPERATOR,
        conf={"dataset": "breast_cancer", "date": "2026-01-08", "dry_run": True},
    )
    dag_run = run(dag, queued_run_id=queued.run_id)
    assert (dag_run.run_id, str(dag_run.state), dag_run.triggered_by.value) == (
        "replay__breast_cancer__2026-01-08",
        "success",
        "operator",
    )
    assert dag_run.conf["date"] == "2026-01-08"
