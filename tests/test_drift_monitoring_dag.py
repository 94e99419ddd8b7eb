"""drift_monitoring through dag.test(): an income shift is judged, becomes sustained, triggers
retraining exactly once; a data-quality incident alerts without retraining; no champion skips.

Each test has its own storage root and MLflow store (environment + fresh settings), with
6,000 applications a day so that a 3-hour window (the contract's look-back) holds about 750.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.airflow_runs import dag_from_file, finish_left_over_retraining_runs, task_states
from tests.support.data import simulate_days

DAYS = [date(2026, 5, 1) + timedelta(days=n) for n in range(14)]
ONSET = datetime(2026, 5, 15, 0, tzinfo=UTC)  # the day after the last ingested one


@pytest.fixture
def world(tmp_path, use_env):
    """A storage root with 14 ingested days and a champion trained on them; yields a function
    that switches the simulator's scenario (from ONSET) for the hourly capture."""
    from airflow.utils import db

    from include import contract, registry
    from include.training.challenger import train_challenger

    s = use_env(MLOPS_LOCAL_DIR=str(tmp_path / "local"), MLOPS_SIMULATOR_ROWS_PER_DAY="6000")
    db.initdb()
    finish_left_over_retraining_runs()
    credit = contract.load("credit_applications")
    simulate_days(credit, DAYS, settings=s)
    outcome = train_challenger(
        credit,
        end=DAYS[-1],
        window_days=14,
        force=False,
        reason="first",
        actor="schedule",
        dag_run_id="setup",
        created=f"{DAYS[-1]}T03:00:00+00:00",
        settings=s,
    )
    assert outcome.gates_passed, [g["message"] for g in outcome.gates if not g["passed"]]
    registry.promote(registry.client(s), credit.name, outcome.version, actor="schedule", reason="first")

    def scenario(name: str):
        return use_env(MLOPS_SIMULATOR_SCENARIO=name, MLOPS_SIMULATOR_ONSET=ONSET.isoformat())

    return credit, scenario


def _hourly(hour: datetime):
    """The run due 5 minutes past ``hour``: its window is the 3 hours before ``hour``."""
    run = dag_from_file("drift_monitoring").test(logical_date=hour + timedelta(minutes=5))
    return run, task_states(run)


def _retraining_runs() -> list:
    from airflow.models import DagRun

    return DagRun.find(dag_id="weekly_retraining")


@pytest.mark.integration
def test_sustained_income_shift_triggers_retraining_once(world):
    from include import audit, notify
    from include.monitoring import history

    credit, scenario = world
    s = scenario("income_shift")
    before = len(_retraining_runs())
    # 03:00: the window 00:00-03:00 is all shifted -> drift, not yet sustained.
    first, states = _hourly(ONSET + timedelta(hours=3))
    assert states["check_drift"] == "success" and states["sustained_drift"] == "skipped", states
    record = history.read_record(credit.name, ONSET + timedelta(hours=3), s)
    assert record["status"] == "judged" and "annual_income" in record["result"]["drifted_columns"]
    assert record["report"] and Path(
        record["report"].removeprefix("file://")
    ).read_text().lstrip().startswith("<")
    # 04:00: the second drifted window in a row -> the sensor fires, retraining is triggered.
    second, states = _hourly(ONSET + timedelta(hours=4))
    assert states["sustained_drift"] == "success" and states["trigger_retraining"] == "success", states
    runs = _retraining_runs()
    assert len(runs) == before + 1
    triggered = next(r for r in runs if r.run_id.startswith("drift__credit_applications__"))
    assert triggered.conf["evidence"]["source"] == "monitor" and "annual_income" in triggered.conf["reason"]
    # Keyed by the window, not the wall clock: the retraining's data interval ends where the window did.
    window_end = ONSET + timedelta(hours=4, minutes=5)
    assert triggered.data_interval_end == window_end and triggered.run_after == window_end, (
        triggered.data_interval_end,
        triggered.run_after,
    )
    # A rerun of the same hour (retry, backfill) finds the run and does not trigger again.
    again, states = _hourly(ONSET + timedelta(hours=4))
    assert states["trigger_retraining"] in ("skipped", "success") and len(_retraining_runs()) == before + 1
    # 05:00: still drifted, but within the 24 h cooldown.
    third, states = _hourly(ONSET + timedelta(hours=5))
    assert states["sustained_drift"] == "skipped" and len(_retraining_runs()) == before + 1
    day = ONSET.date()
    kinds = [e["type"] for e in audit.read(day, day, by="data", settings=s)]
    assert kinds.count("retrain_triggered") == 1 and kinds.count("drift_detected") == 3
    sent = [n["kind"] for n in notify.read_outbox(day, day, settings=s)]
    assert sent.count("retrain_triggered") == 1 and sent.count("drift_alert") == 3
    plot = Path(f"{s.storage_root.removeprefix('file://')}/monitoring/credit_applications/drift_scores.png")
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.integration
def test_a_data_quality_incident_alerts_and_never_triggers_retraining(world):
    from include import notify
    from include.monitoring import history

    credit, scenario = world
    s = scenario("data_quality_incident")
    before = len(_retraining_runs())
    for hours in (3, 4, 5):
        run, states = _hourly(ONSET + timedelta(hours=hours))
        assert states["check_drift"] == "success" and states["sustained_drift"] == "skipped", states
    record = history.read_record(credit.name, ONSET + timedelta(hours=5), s)
    checks = {(q["column"], q["check"]) for q in record["result"]["quality"]}
    assert ("annual_income", "scale_change") in checks and record["result"]["data_quality_incident"]
    assert len(_retraining_runs()) == before
    sent = [n["kind"] for n in notify.read_outbox(ONSET.date(), ONSET.date(), settings=s)]
    assert sent.count("data_quality_alert") == 3 and "retrain_triggered" not in sent


@pytest.mark.integration
def test_stable_traffic_is_judged_without_alerts(world):
    from include.monitoring import history

    credit, scenario = world
    s = scenario("stable")
    for hours in (3, 4):
        run, states = _hourly(ONSET + timedelta(hours=hours))
        assert states["sustained_drift"] == "skipped", states
    record = history.read_record(credit.name, ONSET + timedelta(hours=4), s)
    assert record["status"] == "judged" and not record["alert"] and record["report"] is None
    # Triggered with no logical date (the CLI's default): the window ends at the run's run_after.
    run = dag_from_file("drift_monitoring").test(logical_date=None, run_after=ONSET + timedelta(hours=5))
    assert run.data_interval_end is None and str(run.state) == "success"
    assert history.read_record(credit.name, ONSET + timedelta(hours=5), s)["status"] == "judged"
