"""decision_monitoring through dag.test(): one group's approvals fall (fairness_drift) and the
bias monitor alerts once, holding the next automatic promotion; the reasons move (the group's
debt load) and the attribution monitor says so, while the estimated AUC stays above the floor.
Then a narrow band of bureau scores pushes the estimated AUC below the floor the next morning,
before any outcome exists."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.support.airflow_runs import dag_from_file, task_states
from tests.support.data import simulate_days

ONSET = date(2026, 5, 15)
DAYS = [date(2026, 5, 1) + timedelta(days=n) for n in range(15)]  # 05-01 .. 05-15 (the onset day)
MATURED = ONSET - timedelta(days=7)  # the cohort the 05-16 run judges on outcomes (label delay 7 + 1)
TASKS = ("land_capture", "bias_decisions", "bias_outcomes", "attribution_drift", "estimated_performance")


@pytest.fixture
def world(tmp_path, use_env):
    from airflow.utils import db

    from include import contract, registry
    from include.monitoring.capture import champion_scorer
    from include.simulator.land import land_capture_hour
    from include.training.challenger import train_challenger

    s = use_env(
        MLOPS_LOCAL_DIR=str(tmp_path / "local"),
        MLOPS_SIMULATOR_ROWS_PER_DAY="3000",
        MLOPS_SIMULATOR_SCENARIO="fairness_drift",
        MLOPS_SIMULATOR_ONSET=f"{ONSET}T00:00:00+00:00",
    )
    db.initdb()
    credit = contract.load("credit_applications")
    simulate_days(credit, DAYS, settings=s)
    outcome = train_challenger(
        credit,
        end=ONSET - timedelta(days=1),
        window_days=14,
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
    for hour in range(24):  # the matured cohort's decisions, as the scoring service logged them
        land_capture_hour(
            credit, datetime.combine(MATURED, time(hour), tzinfo=UTC), settings=s, scorer=scorer
        )
    return credit, s


def _auc_standard_error(result: dict) -> float:
    """Hanley & McNeil (1982): the realized AUC's own sampling error on the cohort."""
    auc, positives = result["auc"], round(result["default_rate"] * result["labelled"])
    negatives = result["labelled"] - positives
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return (variance / (positives * negatives)) ** 0.5


def _run(morning: date):
    run = dag_from_file("decision_monitoring").test(
        logical_date=datetime.combine(morning, time(4, 45), tzinfo=UTC)
    )
    return run, task_states(run)


@pytest.mark.integration
def test_bias_in_the_decisions_alerts_once_and_holds_promotion_and_the_estimate_sees_a_narrow_band(
    world, use_env, monkeypatch
):
    from include import audit, notify
    from include.monitoring import attribution, bias, daily, estimated

    credit, s = world
    run, states = _run(ONSET + timedelta(days=1))
    assert str(run.state) == "success" and states == dict.fromkeys(TASKS, "success"), states

    decisions = daily.stored(credit.name, bias.DECISIONS, ONSET, s)
    (check,) = decisions["checks"]
    assert decisions["alert"] and check["crossed"] and check["lowest_group"] == "F", check
    assert check["high"] < 0.8 and decisions["joined"] > 2900
    # The producer's defective rows were quarantined at ingestion: scored, but without a group.
    assert 0 < decisions["not_curated"] == decisions["captured"] - decisions["joined"] < 30
    matured = daily.stored(credit.name, bias.OUTCOMES, MATURED, s)  # before the onset: fair
    assert matured["status"] == "judged" and not matured["alert"], matured
    assert {c["metric"] for c in matured["checks"]} == {"tpr_gap", "fpr_gap"} and matured["labelled"] > 2900
    reasons = daily.stored(credit.name, attribution.MONITOR, ONSET, s)
    # The group's debt load tripled with its incomes cut: the model now declines for other reasons.
    assert reasons["status"] == "judged" and reasons["ndcg"] < 0.9 and reasons["alert"], reasons
    top = {f["feature"]: (f["reference_rank"], f["live_rank"]) for f in reasons["features"]}
    assert top["debt_to_income"][1] == 1 < top["debt_to_income"][0], top
    estimate = daily.stored(credit.name, estimated.MONITOR, ONSET, s)
    assert estimate["status"] == "estimated" and estimate["estimated_auc"] >= credit.auc_floor, estimate

    (event,) = [e for e in audit.read(ONSET, ONSET, by="data", settings=s) if e["type"] == "bias_detected"]
    assert event["crossed"][0]["metric"] == "approval_ratio" and event["dag_run_id"] == run.run_id
    assert event["hold_promotion"] and bias.promotion_hold(credit, settings=s)["seq"] == event["seq"]
    kinds = [n["kind"] for n in notify.read_outbox(ONSET, ONSET, settings=s)]
    assert sorted(kinds) == ["attribution_alert", "bias_alert"], kinds

    # On the matured cohort the estimate made from its scores stands beside the realized AUC.
    from include.monitoring.performance import realized

    early = estimated.estimate(credit, MATURED, settings=s)
    late = realized(credit, MATURED, settings=s)
    assert late["estimated_auc"] == early["estimated_auc"] and late["status"] == "judged", late
    assert abs(late["estimated_auc"] - late["auc"]) < 3 * _auc_standard_error(late), late
    assert [
        (h["day"], h["realized_auc"]) for h in estimated.history(credit, MATURED, MATURED, settings=s)
    ] == [(MATURED.isoformat(), late["auc"])]

    # The weekly retraining's branch: an automatic promotion now goes to a person.
    class Ti:
        pushed: dict = {}

        def xcom_push(self, key, value):
            self.pushed[key] = value

    choose = dag_from_file("weekly_retraining").get_task("choose_path").python_callable
    ti = Ti()
    assert (
        choose(
            {"gates_passed": True, "gates": [{"name": "schema_compatible", "observed": "same inputs"}]},
            {"mode": "auto", "dataset": credit.name},
            ti=ti,
        )
        == "request_approval"
    )
    assert ONSET.isoformat() in ti.pushed["promotion_hold"]

    # A rerun of the same morning reads the stored records and alerts nobody again.
    again, states = _run(ONSET + timedelta(days=1))
    assert states == dict.fromkeys(TASKS, "success")
    assert sorted(n["kind"] for n in notify.read_outbox(ONSET, ONSET, settings=s)) == sorted(kinds)

    # The next day a broker channel sends applicants in a narrow band of bureau scores.
    use_env(MLOPS_SIMULATOR_SCENARIO="narrow_score_band", MLOPS_SIMULATOR_ONSET=f"{ONSET}T00:00:00+00:00")
    next_day = ONSET + timedelta(days=1)
    run, states = _run(next_day + timedelta(days=1))
    assert states == dict.fromkeys(TASKS, "success"), states
    estimate = daily.stored(credit.name, estimated.MONITOR, next_day, s)
    assert estimate["below_floor"] and estimate["estimated_auc"] < 0.83, estimate
    # Its applications are not ingested yet: said, not stored, judged by the next run.
    assert bias.decisions(credit, next_day, settings=s)["status"] == "applications_missing"
    (event,) = [
        e
        for e in audit.read(next_day, next_day, by="data", settings=s)
        if e["type"] == "estimated_auc_below_floor"
    ]
    assert event["estimated_auc"] == estimate["estimated_auc"]
    assert "estimated_performance_alert" in [
        n["kind"] for n in notify.read_outbox(next_day, next_day, settings=s)
    ]
