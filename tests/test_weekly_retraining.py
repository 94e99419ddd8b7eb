"""weekly_retraining and model_rollback through dag.test(): auto promotion, a rejected rerun,
a forced promotion, a rollback to the previous champion, and refused triggers."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.airflow_runs import dag_from_file, task_states
from tests.support.data import simulate_days

RETRAINING, ROLLBACK = "weekly_retraining", "model_rollback"
RUN_AFTER = datetime(2026, 4, 6, 3, tzinfo=UTC)  # a Monday: trains on partitions up to 2026-04-05
DAYS = [date(2026, 4, 5) - timedelta(days=n) for n in range(13, -1, -1)]


@pytest.fixture(scope="module")
def curated():
    """Fourteen ingested days in the session's storage at the default 3,000 applications a day
    (smaller holdouts make the fairness gaps too noisy to pass reliably)."""
    from airflow.utils import db

    from include import contract, settings

    db.initdb()
    s = settings.load({**os.environ, "MLOPS_SIMULATOR_ROWS_PER_DAY": "3000"})
    credit = contract.load("credit_applications")
    simulate_days(credit, DAYS, settings=s)
    return credit


@pytest.mark.integration
def test_promotion_rejection_forced_promotion_and_rollback(curated):
    from include import audit, notify, registry, settings

    conf = {"reason": "first model for the credit team", "window_days": 14}
    first = dag_from_file(RETRAINING).test(logical_date=RUN_AFTER, run_conf=conf)
    states = task_states(first)
    assert str(first.state) == "success", states
    assert states["promote"] == "success" and states["record_rejection"] == "skipped"
    client = registry.client(settings.get())
    champion = registry.by_alias(client, "credit_applications", registry.CHAMPION)
    assert champion is not None and champion.tags["promotion_reason"] == "first model for the credit team"

    second = dag_from_file(RETRAINING).test(
        logical_date=RUN_AFTER + timedelta(hours=1), run_conf=conf | {"reason": "rerun"}
    )
    states = task_states(second)
    assert str(second.state) == "success", states  # a rejection is a normal outcome
    assert states["record_rejection"] == "success" and states["promote"] == "skipped"
    assert registry.by_alias(client, "credit_applications", registry.CHAMPION).version == champion.version
    events = audit.read(DAYS[-1], DAYS[-1], by="data")
    kinds = [e["type"] for e in events]
    assert kinds.count("promoted") == 1 and kinds.count("rejected") == 1
    rejected = next(e for e in events if e["type"] == "rejected")
    assert rejected["failed_gates"] == ["min_improvement"] and rejected["actor"].startswith("user:")
    sent = [(n["kind"], n["facts"]["version"]) for n in notify.read_outbox(DAYS[-1], DAYS[-1])]
    assert sorted(sent) == [("promoted", champion.version), ("rejected", str(int(champion.version) + 1))]

    # Forced: the same model again, promoted without the margin; the first champion becomes previous.
    forced = dag_from_file(RETRAINING).test(
        logical_date=RUN_AFTER + timedelta(hours=3),
        run_conf=conf | {"reason": "forced for the rollback drill", "force": True},
    )
    assert str(forced.state) == "success" and task_states(forced)["promote"] == "success"
    newest = registry.by_alias(client, "credit_applications", registry.CHAMPION)
    assert registry.by_alias(client, "credit_applications", registry.PREVIOUS).version == champion.version

    rollback = dag_from_file(ROLLBACK).test(
        run_conf={"target": "previous", "reason": "drill: restore the first model"}
    )
    assert str(rollback.state) == "success", task_states(rollback)
    assert registry.by_alias(client, "credit_applications", registry.CHAMPION).version == champion.version
    assert registry.by_alias(client, "credit_applications", registry.PREVIOUS).version == newest.version
    day = rollback.run_after.date()
    (event,) = [e for e in audit.read(day, day) if e["type"] == "rollback"]
    assert (event["version"], event["replaced_version"], event["reason"]) == (
        champion.version,
        newest.version,
        "drill: restore the first model",
    )


@pytest.mark.integration
def test_a_manual_run_without_a_reason_fails_before_training_and_is_notified(curated):
    from include import notify

    # Triggered as `airflow dags trigger` does: no logical date, so no data interval.
    run = dag_from_file(RETRAINING).test(
        logical_date=None, run_after=RUN_AFTER + timedelta(hours=2), run_conf={"window_days": 14}
    )
    states = task_states(run)
    assert str(run.state) == "failed"
    assert states["resolve_request"] == "failed" and states["train_challenger"] == "upstream_failed"
    (failure,) = [
        n
        for n in notify.read_outbox(RUN_AFTER.date(), RUN_AFTER.date())
        if n["kind"] == "run_failed" and n["facts"]["dag_run_id"] == run.run_id
    ]
    assert (
        failure["facts"]["task_id"] == "resolve_request"
        and "'reason' is required" in failure["facts"]["error"]
    )


@pytest.mark.integration
def test_a_window_without_matured_labels_fails_naming_the_window(curated):
    from include import notify

    later = datetime(2026, 6, 1, 3, tzinfo=UTC)  # a Monday far past the ingested days
    run = dag_from_file(RETRAINING).test(
        logical_date=later, run_conf={"reason": "catch up", "window_days": 14}
    )
    assert str(run.state) == "failed" and task_states(run)["train_challenger"] == "failed"
    (failure,) = [n for n in notify.read_outbox(later.date(), later.date()) if n["kind"] == "run_failed"]
    assert "2026-05-18" in failure["facts"]["error"] and "2026-05-31" in failure["facts"]["error"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"reason": "x", "window_days": 3}, "from 7 to 365"),
        ({"reason": "x", "promotion_mode": "yolo"}, "promotion_mode"),
        ({"reason": "x", "force": "yes"}, "true or false"),
        ({"reason": "x", "dataset": "../etc"}, "not a known dataset"),
        (
            {"reason": "x", "window_days": 7},
            "holds no matured labels: credit_applications outcomes mature after 7 days",
        ),
        ({"reason": "  "}, "'reason' is required"),
        (
            {"reason": "x", "evidnce": {}},
            r"unknown param\(s\) 'evidnce'; accepted: dataset, window_days, promotion_mode, force, reason",
        ),
        ({"reason": "x", "promotion_mode": "m" * 1_000_000}, r"\(1,000,002 characters\) must be one of"),
        # A person cannot make a run the monitor's by typing its evidence.
        (
            {"reason": "x", "evidence": {"source": "monitor"}},
            "a run started by a person cannot carry monitor",
        ),
        ({"reason": "x", "evidence": "monitor"}, "'evidence'='monitor' must be an object"),
        ({"reason": "x", "schema_change_reason": ["new column"]}, "'schema_change_reason'=.* must be text"),
    ],
)
def test_request_resolution_refuses_bad_values(params, message):
    from include.run_target import RunParamsError
    from include.training.request import resolve

    with pytest.raises(RunParamsError, match=message) as refused:
        resolve(params, run_type="manual", interval_end=RUN_AFTER, triggered_by="alice", run_id="manual__x")
    assert len(str(refused.value)) < 400  # whatever was typed, the refusal stays readable


def test_a_monitors_run_resolves_with_the_forms_defaults_merged_in(tmp_path, use_env):
    """Airflow merges the DAG's Param defaults into a triggered run's conf: every default must
    equal what the monitor's recorded request says (or leaves out), or its run is refused."""
    from include import contract
    from include.training.request import monitor_request, monitor_run_id, record, resolve
    from tests.support.airflow_runs import dag_from_file

    s = use_env(MLOPS_LOCAL_DIR=str(tmp_path))
    conf = monitor_request(
        contract.load("credit_applications"),
        kind="drift",
        reason="drift: sustained",
        window_days=28,
        evidence={
            "window_end": "2026-04-06T02:00:00+00:00",
            "windows": [],
            "drifted_features": [],
            "reports": [],
        },
    )
    record(conf, s)
    params = {**dag_from_file("weekly_retraining").params.dump(), **conf}
    assert params["schema_change_reason"] is None  # the form's empty default
    request = resolve(
        params, run_type="manual", interval_end=RUN_AFTER, run_id=monitor_run_id(conf), settings=s
    )
    assert (request.actor, request.schema_change_reason) == ("monitor", "")


def test_a_schema_change_reason_is_kept_trimmed_and_cut():
    from include.training.request import resolve

    def request(text):
        return resolve(
            {"reason": "x", "schema_change_reason": text},
            run_type="manual",
            interval_end=RUN_AFTER,
            triggered_by="alice",
            run_id="manual__x",
        )

    assert request("  new bureau feature  ").schema_change_reason == "new bureau feature"
    assert len(request("y" * 2000).schema_change_reason) == 500
    assert resolve({"reason": "x"}, run_type="manual", interval_end=RUN_AFTER).schema_change_reason == ""


def test_scheduled_runs_train_up_to_the_sunday_before_and_need_no_reason():
    from airflow.sdk.api.datamodels._generated import DagRunType

    from include.training.request import resolve

    request = resolve({}, run_type=DagRunType.SCHEDULED, interval_end=RUN_AFTER)  # what a task receives
    assert (request.end, request.actor, request.reason, request.window_days) == (
        "2026-04-05",
        "schedule",
        "weekly schedule",
        28,
    )


@pytest.mark.integration
def test_a_rollback_to_a_version_that_does_not_exist_fails_naming_it(curated, capfd):
    run = dag_from_file(ROLLBACK).test(run_conf={"target": "999", "reason": "typo drill"})
    assert str(run.state) == "failed"
    assert "cannot read version 999 of credit_applications" in capfd.readouterr().out


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"target": "previous", "reason": ""}, "param reason: '' should be non-empty"),
        ({"target": "v2", "reason": "x"}, "param target: 'v2' does not match"),
    ],
)
def test_the_rollback_form_refuses_a_missing_reason_and_a_malformed_target(conf, message):
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(
        dag_from_file(ROLLBACK).params
    )  # what a trigger does: apply the conf, then validate
    with pytest.raises(ParamValidationError, match=message):
        params.update(conf)
        params.validate()


@pytest.mark.integration
def test_an_unreachable_tracking_server_fails_the_training_task_at_once_naming_it(curated, use_env):
    """No waiting out MLflow's client retries, and no task retry multiplying them: a permanent
    error. (`python -m bench unreachable_registry` times it against MLflow's own defaults.)"""
    import socket

    from include import notify

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    use_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}")
    run_after = datetime(2026, 4, 13, 3, tzinfo=UTC)
    run = dag_from_file(RETRAINING).test(
        logical_date=run_after, run_conf={"reason": "server down", "window_days": 14}
    )
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "train_challenger"]
    assert (str(run.state), str(ti.state), ti.try_number) == ("failed", "failed", 1)
    (failure,) = [
        n for n in notify.read_outbox(run_after.date(), run_after.date()) if n["kind"] == "run_failed"
    ]
    error = failure["facts"]["error"]
    assert f"http://127.0.0.1:{port} is unreachable" in error and "not retried" in error, error
    print(f"train_challenger failed in {(ti.end_date - ti.start_date).total_seconds():.1f} s")


@pytest.mark.integration
def test_a_rollback_with_an_unknown_conf_key_is_refused_naming_it(curated, capfd):
    run = dag_from_file(ROLLBACK).test(run_conf={"target": "previous", "reason": "drill", "tagret": "1"})
    assert str(run.state) == "failed"
    assert "unknown param(s) 'tagret'; accepted: dataset, target, reason" in capfd.readouterr().out
