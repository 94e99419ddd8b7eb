"""performance_monitoring through dag.test(): concept drift caught by the realized AUC of a
matured cohort, retraining triggered once; a healthy cohort triggers nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.support.airflow_runs import dag_from_file, task_states
from tests.support.data import simulate_days

ONSET = date(2026, 5, 8)
NEXT = ONSET + timedelta(days=1)  # the next cohort, judged by the run on 05-17
DAYS = [date(2026, 4, 17) + timedelta(days=n) for n in range(30)]  # 04-17 .. 05-16


def _world(tmp_path, use_env, scenario: str):
    from airflow.utils import db

    from include import contract, registry
    from include.monitoring.capture import champion_scorer
    from include.simulator.land import land_capture_hour
    from include.training.challenger import train_challenger

    s = use_env(
        MLOPS_LOCAL_DIR=str(tmp_path / "local"),
        MLOPS_SIMULATOR_ROWS_PER_DAY="3000",
        MLOPS_SIMULATOR_SCENARIO=scenario,
        MLOPS_SIMULATOR_ONSET=f"{ONSET}T00:00:00+00:00",
    )
    db.initdb()
    credit = contract.load("credit_applications")
    simulate_days(credit, DAYS, settings=s)
    # The champion learnt the old concept: its matured training rows all predate the onset.
    outcome = train_challenger(
        credit,
        end=ONSET + timedelta(days=6),
        window_days=21,
        force=False,
        reason="first",
        actor="schedule",
        dag_run_id="setup",
        created=f"{ONSET}T03:00:00+00:00",
        settings=s,
    )
    assert outcome.gates_passed, [g["message"] for g in outcome.gates if not g["passed"]]
    registry.promote(registry.client(s), credit.name, outcome.version, actor="schedule", reason="first")
    scorer = champion_scorer(s, credit.name)
    for hour in range(24):  # the scoring side's capture of the onset day
        land_capture_hour(credit, datetime.combine(ONSET, time(hour), tzinfo=UTC), settings=s, scorer=scorer)
    return credit, s


def _run(morning: date = date(2026, 5, 16)):
    dag = dag_from_file("performance_monitoring")
    # The 04:30 run on 05-16 judges the cohort 05-08 (outcomes observed 05-15, ingested that night).
    run = dag.test(logical_date=datetime.combine(morning, time(4, 30), tzinfo=UTC))
    return run, task_states(run)


def _triggered() -> list:
    from airflow.models import DagRun

    return [r for r in DagRun.find(dag_id="weekly_retraining") if r.run_id.startswith("performance__")]


@pytest.mark.integration
def test_concept_drift_is_caught_by_the_realized_auc_and_triggers_retraining_once(tmp_path, use_env):
    from include import notify
    from include.monitoring.performance import realized

    credit, s = _world(tmp_path, use_env, "concept_drift")
    before = len(_triggered())
    run, states = _run()
    assert states == {
        "check_performance": "success",
        "fall_back": "success",  # no previous champion to fall back to: retrain
        "alert": "success",
        "trigger_retraining": "success",
    }, states
    result = realized(credit, ONSET, settings=s)
    assert result["status"] == "judged" and result["below_floor"] and result["auc"] < 0.8, result
    (triggered,) = _triggered()[before:]
    assert triggered.run_id == "performance__credit_applications__2026-05-08"
    assert (
        triggered.conf["reason"].startswith("performance: realized AUC")
        and triggered.conf["window_days"] == 8
    )
    # The champion is known to be failing: the same policy as drift (no improvement margin).
    assert triggered.conf["force"] is True and triggered.conf["promotion_mode"] == "auto"
    # The retraining's window ends with this check's interval, whenever the check really ran.
    assert triggered.data_interval_end == datetime(2026, 5, 16, 4, 30, tzinfo=UTC)
    again, states = _run()
    assert states["trigger_retraining"] in ("skipped", "success") and len(_triggered()) == before + 1
    assert [n["kind"] for n in notify.read_outbox(ONSET, ONSET, settings=s)].count("performance_alert") == 1


@pytest.mark.integration
def test_a_healthy_cohort_triggers_nothing_then_a_weak_champion_is_rolled_back(tmp_path, use_env):
    from include.monitoring.performance import realized

    credit, s = _world(tmp_path, use_env, "stable")
    before = len(_triggered())
    run, states = _run()
    assert states == {
        "check_performance": "success",
        "fall_back": "skipped",
        "alert": "skipped",
        "trigger_retraining": "skipped",
    }, states
    result = realized(credit, ONSET, settings=s)
    assert result["auc"] >= credit.auc_floor and result["labelled"] > 2000
    assert len(_triggered()) == before
    weak = _a_weak_champion_is_rolled_back(credit, s)
    _a_worse_shadow_is_retired_and_a_better_one_promoted(credit, s, weak)


def _a_weak_champion_is_rolled_back(credit, s):
    """A champion promoted by mistake (trained without the bureau features, with the floor and
    the non-inferiority margin relaxed in its contract) fails on the next matured cohort; v1
    scores the same applications significantly better, so the monitor rolls back instead of
    retraining, and audits the evidence. (Shares the healthy test's world: one world less.)"""
    from dataclasses import replace

    from include import audit, notify, registry
    from include.monitoring.capture import champion_scorer
    from include.simulator.land import land_capture_hour
    from include.training.challenger import train_challenger

    blind = replace(
        credit,
        auc_floor=0.5,
        gates=replace(credit.gates, non_inferiority_margin=1.0),
        columns=tuple(
            replace(c, role="not_a_feature")
            if c.name in ("credit_score", "recent_delinquencies", "debt_to_income")
            else c
            for c in credit.columns
        ),
    )
    weak = train_challenger(
        blind,
        end=ONSET + timedelta(days=6),
        window_days=21,
        force=True,
        reason="a mistake",
        actor="user:bob",
        dag_run_id="mistake",
        created=f"{ONSET}T05:00:00+00:00",
        schema_change_reason="bureau features withheld",
        settings=s,
    )
    assert weak.gates_passed, [g["message"] for g in weak.gates if not g["passed"]]
    client = registry.client(s)
    registry.promote(client, credit.name, weak.version, actor="user:bob", reason="a mistake")
    scorer = champion_scorer(s, credit.name)  # the weak champion scores the next cohort's day
    for hour in range(24):
        land_capture_hour(credit, datetime.combine(NEXT, time(hour), tzinfo=UTC), settings=s, scorer=scorer)
    before = len(_triggered())

    run, states = _run(NEXT + timedelta(days=8))
    assert states == {
        "check_performance": "success",
        "fall_back": "success",
        "alert": "skipped",
        "trigger_retraining": "skipped",
    }, states
    assert registry.by_alias(client, credit.name, registry.CHAMPION).version == "1"
    assert len(_triggered()) == before
    (event,) = [e for e in audit.read(NEXT, NEXT, by="data", settings=s) if e["type"] == "rollback"]
    evidence = event["evidence"]
    assert (event["actor"], event["version"], event["replaced_version"]) == ("monitor", "1", weak.version)
    assert evidence["better"] and evidence["lower"] > 0 and evidence["previous_auc"] > credit.auc_floor
    assert evidence["champion_auc"] < credit.auc_floor and evidence["labelled"] > 2900
    assert "automatic: realized AUC" in event["reason"]
    assert "rollback" in [n["kind"] for n in notify.read_outbox(NEXT, NEXT, settings=s)]
    return weak.version


SHADOW_TASKS = (
    "find_shadow",
    "score_capture",
    "evaluate",
    "decide",
    "request_approval",
    "promote_shadow",
    "promote_after_approval",
    "retire_shadow",
)


def _shadow_run(morning: date):
    run = dag_from_file("shadow_evaluation").test(
        logical_date=datetime.combine(morning, time(4, 40), tzinfo=UTC)
    )
    return run, task_states(run)


def _a_worse_shadow_is_retired_and_a_better_one_promoted(credit, s, weak: str):
    """Shadow mode on the same world. The weak model in shadow against v1 is judged on the onset
    day's applications (scored live by v1) the morning they mature: significantly worse, retired.
    Then, with the weak model champion again by mistake, v1 in shadow is judged on the next day's
    applications (scored live by the weak one): significantly better, promoted automatically."""
    from include import audit, notify, registry
    from include.shadow import lifecycle, scores

    client = registry.client(s)
    v1 = registry.get(client, credit.name, "1")

    def shadow(version: str, against: str, start: date, actor: str):
        outcome = {
            "model_name": credit.name,
            "version": version,
            "champion_version": against,
            "holdout": {"roc_auc": 0.9},
        }
        request = {"end": (start - timedelta(days=1)).isoformat(), "reason": "shadow drill", "actor": actor}
        lifecycle.start(outcome, request, dag_run_id=f"shadow-{version}", task="start_shadow", settings=s)

    shadow(weak, "1", ONSET, "user:carol")
    assert registry.by_alias(client, credit.name, registry.SHADOW).version == weak
    run, states = _shadow_run(ONSET + timedelta(days=8))  # decision day 05-15: cohort 05-08 matured
    assert states == dict.fromkeys(SHADOW_TASKS, "skipped") | {
        "find_shadow": "success",
        "score_capture": "success",
        "evaluate": "success",
        "decide": "success",
        "retire_shadow": "success",
    }, states
    stored = scores.read(credit, weak, ONSET, s)
    assert len(stored) > 2900 and set(stored["champion_version"]) == {"1"}
    # The next day was scored live by the weak model itself: stored, and left out of the pairing.
    assert set(scores.read(credit, weak, NEXT, s)["champion_version"]) == {weak}
    assert scores.read(credit, weak, NEXT + timedelta(days=1), s) is None  # no capture that day
    assert registry.by_alias(client, credit.name, registry.SHADOW) is None
    assert registry.by_alias(client, credit.name, registry.CHAMPION).version == "1"
    tags = registry.get(client, credit.name, weak).tags
    assert (tags["shadow_status"], tags["shadow_verdict"]) == ("retired", "significantly worse")
    (retired,) = [
        e
        for e in audit.read(ONSET, NEXT + timedelta(days=7), by="data", settings=s)
        if e["type"] == "shadow_retired"
    ]
    evidence = retired["evidence"]
    assert evidence["outcomes"] > 2900 and evidence["comparison"]["upper"] < 0
    assert retired["actor"] == "monitor" and retired["reason"] == "significantly worse"
    kinds = [n["kind"] for n in notify.read_outbox(ONSET, NEXT + timedelta(days=7), settings=s)]
    assert kinds.count("shadow_started") == 1 and kinds.count("shadow_retired") == 1

    registry.promote(client, credit.name, weak, actor="user:bob", reason="the same mistake again")
    shadow(v1.version, weak, NEXT, "schedule")
    run, states = _shadow_run(NEXT + timedelta(days=8))
    assert states == dict.fromkeys(SHADOW_TASKS, "skipped") | {
        "find_shadow": "success",
        "score_capture": "success",
        "evaluate": "success",
        "decide": "success",
        "promote_shadow": "success",
    }, states
    assert registry.by_alias(client, credit.name, registry.CHAMPION).version == "1"
    assert registry.by_alias(client, credit.name, registry.SHADOW) is None
    assert registry.get(client, credit.name, "1").tags["shadow_status"] == "promoted"
    (promoted,) = [
        e
        for e in audit.read(NEXT, NEXT + timedelta(days=7), by="data", settings=s)
        if e["type"] == "promoted"
    ]
    assert (promoted["actor"], promoted["mode"], promoted["replaced_version"]) == ("monitor", "shadow", weak)
    assert promoted["evidence"]["comparison"]["lower"] > 0 and promoted["evidence"]["outcomes"] > 2900
    # A rerun of the morning finds no shadow and does nothing twice.
    again, states = _shadow_run(NEXT + timedelta(days=8))
    assert states == dict.fromkeys(SHADOW_TASKS, "skipped") | {"find_shadow": "success"}, states
