"""The whole loop on a dataset the package was not tuned on: card statements exported with the
public "default of credit card clients" headers (upper case, dots, a space), whole-number
features with no missing value anywhere, categories with numeric codes and a bool.

Through the real DAGs (dag.test): nightly ingestion of 7 days, a first champion from
weekly_retraining, the champion scoring curated rows exactly as read, hourly drift monitoring
through a credit-limit increase with Evidently's report, the sensor triggering retraining, and
the triggered run's champion.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from tests.support.airflow_runs import dag_from_file, finish_left_over_retraining_runs, task_states

NAME = "card_defaults"
DAYS = [date(2026, 7, 1) + timedelta(days=n) for n in range(7)]
ONSET = datetime.combine(DAYS[-1] + timedelta(days=1), time(0), tzinfo=UTC)


def _champion_scores_curated_rows(s, day: date):
    import mlflow
    import pandas as pd

    from include import contract, registry
    from include.ingestion.partition import read_curated

    registry.use(s)
    rows = read_curated(NAME, day, settings=s)
    inputs = rows[list(contract.load(NAME).features)]  # as read: nullable Int64, boolean, text codes
    assert str(inputs["limit_bal"].dtype) == "Int64" and str(inputs["autopay"].dtype) == "boolean"
    scored = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(inputs)
    assert len(scored) == len(rows) and scored["score"].between(0, 1).all()
    assert set(scored["decision"]) <= {"approve", "decline"} and (scored["reason_1"] != "").any()
    return pd.Series(scored["score"])


@pytest.mark.integration
def test_ingest_train_monitor_and_retrain_on_card_statements(tmp_path, use_env):
    from airflow.utils import db

    from include import registry, storage
    from include.ingestion.partition import read_curated
    from include.monitoring import history

    s = use_env(
        MLOPS_LOCAL_DIR=str(tmp_path / "local"),
        MLOPS_DATASET=NAME,
        MLOPS_SIMULATOR_ROWS_PER_DAY="2400",
        MLOPS_SIMULATOR_DEFECT_RATE="0",
        MLOPS_SIMULATOR_SCENARIO="stable",
        MLOPS_SIMULATOR_ONSET="",
    )
    db.initdb()
    finish_left_over_retraining_runs()

    ingestion = dag_from_file("nightly_ingestion")
    for day in DAYS:
        run = ingestion.test(logical_date=datetime.combine(day + timedelta(days=1), time(2), tzinfo=UTC))
        assert str(run.state) == "success", task_states(run)
    (landed,) = storage.list_files(storage.partition("landing", NAME, DAYS[0], settings=s))
    header = next(csv.reader(io.StringIO(storage.read_bytes(landed).decode().split("\n", 1)[0])))
    assert header[:3] == ["ID", "Statement Time", "LIMIT_BAL"] and "default.payment.next.month" in header
    curated = read_curated(NAME, DAYS[0], settings=s)
    assert len(curated) == 2400 and not curated.isna().any().any()  # no missing value anywhere
    assert {"limit_bal", "autopay", "defaulted"} <= set(
        curated.columns
    ) and "LIMIT_BAL" not in curated.columns

    first = dag_from_file("weekly_retraining").test(
        logical_date=datetime.combine(DAYS[-1] + timedelta(days=1), time(3), tzinfo=UTC),
        run_conf={"reason": "first card model", "window_days": 7},
    )
    states = task_states(first)
    assert str(first.state) == "success" and states["promote"] == "success", states
    client = registry.client(s)
    assert registry.by_alias(client, NAME, registry.CHAMPION).version == "1"
    _champion_scores_curated_rows(s, DAYS[-1])

    # The daily decision monitors on the last day: groups coded 1/2, outcomes inline (maturity 0).
    from include import contract
    from include.monitoring import attribution, bias, daily, estimated
    from include.monitoring.performance import realized

    run = dag_from_file("decision_monitoring").test(
        logical_date=datetime.combine(DAYS[-1] + timedelta(days=1), time(4, 45), tzinfo=UTC)
    )
    assert str(run.state) == "success", task_states(run)
    fair = daily.stored(NAME, bias.DECISIONS, DAYS[-1], s)
    assert fair["status"] == "judged" and fair["joined"] == 2400, fair
    assert [g["group"] for g in fair["checks"][0]["groups"]] == ["1", "2"]
    matured = daily.stored(NAME, bias.OUTCOMES, DAYS[-1], s)
    assert matured["status"] == "judged" and matured["labelled"] == 2400, matured
    assert daily.stored(NAME, attribution.MONITOR, DAYS[-1], s)["status"] == "judged"
    estimate = daily.stored(NAME, estimated.MONITOR, DAYS[-1], s)
    assert estimate["status"] == "estimated" and estimate["rows"] == 2400, estimate
    judged = realized(contract.load(NAME), DAYS[-1], settings=s)  # inline labels: judged the next morning
    assert judged["status"] == "judged" and judged["labelled"] == 2400, judged

    use_env(MLOPS_SIMULATOR_SCENARIO="income_shift", MLOPS_SIMULATOR_ONSET=ONSET.isoformat())
    monitoring, triggered, reports = dag_from_file("drift_monitoring"), None, []
    for hours in range(0, 13):
        hour = ONSET + timedelta(hours=hours)
        run = monitoring.test(logical_date=hour + timedelta(minutes=5))
        states = task_states(run)
        assert states["check_drift"] == "success", states
        record = history.read_record(NAME, hour, s)
        assert record["status"] == "judged", record
        if hours == 0:  # six hours before the onset: the stable traffic raises nothing
            assert not record["alert"], record["result"]["drifted_columns"]
        if record["alert"]:
            reports.append(record["report"])
        if states.get("trigger_retraining") == "success":
            triggered = hour
            break
    assert triggered is not None, "no retraining triggered within 12 hours of the limit increase"
    assert (
        "limit_bal" in record["result"]["drifted_columns"] and not record["result"]["data_quality_incident"]
    )
    assert reports and all(
        Path(r.removeprefix("file://")).read_text().lstrip().startswith("<") for r in reports
    )

    from airflow.models import DagRun

    from include.demo.runner import run as run_queued

    (retraining,) = [
        r for r in DagRun.find(dag_id="weekly_retraining") if r.run_id.startswith(f"drift__{NAME}__")
    ]
    # The triggered run itself, under its own id: only that run may carry the monitor's request.
    second = run_queued(dag_from_file("weekly_retraining"), queued_run_id=retraining.run_id)
    states = task_states(second)
    assert str(second.state) == "success" and states["train_challenger"] == "success", states
    assert registry.by_alias(client, NAME, registry.CHALLENGER).version == "2"
    _champion_scores_curated_rows(s, DAYS[-1])
