"""The whole loop on the production topology (tests/support/native_stack.py), driven through
Airflow's REST API as the UI drives it:

1. 12 older days are pre-seeded into S3 with the library; the backfill endpoint makes
   ``nightly_ingestion`` land, validate and publish the last two.
2. A manual ``weekly_retraining`` run trains on the 14 days and promotes the first champion.
3. ``decision_monitoring`` judges the decisions of the day before (bias, reasons, estimated
   AUC) on the worker, while a backfill of ``drift_monitoring`` judges the hours from one before
   the onset of the simulator's ``income_shift`` (set for every service from the start) until the
   sensor finds the drift sustained; it triggers ``weekly_retraining`` under a ``drift__`` run id, which
   promotes a new champion.
4. What landed where: curated partitions, drift records and the Evidently report, the audit
   trail and the MLflow model artifacts in S3; aliases through the tracking server; the
   notifications a subscriber of the SNS topic received; nothing under MLOPS_LOCAL_DIR.

Then, on the same running stack, a person in headless Chromium (tests/support/web_ui.py):

5. ``admin`` signs in and fills the ``weekly_retraining`` trigger form (Logical Date and Params,
   promotion mode manual); the run trains and waits for approval.
6. ``risk_officer`` (FAB role RiskOfficer) approves it on the Required Actions page, watches the
   run page until it succeeds, and the champion moves, recorded as ``user:risk_officer``.
7. ``viewer`` signs in and sees the run, and is refused (403) a trigger and an approval.
8. The Model health page: anonymous callers get 401 and a user who may not read the DAGs 403
   from its API; ``viewer`` opens it from the navigation and on its own (screenshots).

Screenshots of every step stay in .local/screenshots/web_ui/native_stack/ (path printed).

Scoring traffic is 2,000 calls an hour (MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR; the credit team
logs ~8,000): with only the 125 applications an hour of 3,000 a day, the 3-hour windows before
the onset already "drift" on noise (docs/benchmarks.md, stable false triggers), so the story
would not say whether the shift was found.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.data import simulate_days
from tests.support.web_ui import (
    Screenshots,
    answer_required_action,
    require_browser,
    signed_in,
    trigger_dag,
    wait_for_run_page_state,
)

INGEST, RETRAIN, MONITOR = "nightly_ingestion", "weekly_retraining", "drift_monitoring"
DECISIONS = "decision_monitoring"
DATASET = "credit_applications"
FEEDS = ("credit_applications", "credit_applications_labels")
LAST_DAY = date(2026, 11, 20)
DAYS = [LAST_DAY - timedelta(days=n) for n in range(13, -1, -1)]  # 14 days: a first champion's window
ONSET = datetime(2026, 11, 21, 0, tzinfo=UTC)  # the night after the last ingested day
# Window k ends k hours after the onset and holds min(k, 3) shifted hours: at 2,000 calls an
# hour k=2 is the first drifted window and k=3 makes it sustained (2 in a row); -1 is stable.
MONITORED = [ONSET + timedelta(hours=k) for k in range(-1, 4)]
TRIGGER_WINDOW = ONSET + timedelta(hours=3)
RUN_TIMEOUT = 480


@pytest.fixture(scope="module")
def native_stack_env() -> dict[str, str]:  # this module's services (overrides tests/conftest.py's)
    return {
        "MLOPS_SIMULATOR_ROWS_PER_DAY": "3000",
        "MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR": "2000",
        "MLOPS_SIMULATOR_SCENARIO": "income_shift",
        "MLOPS_SIMULATOR_ONSET": ONSET.isoformat(),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Story:
    """REST calls of the story on one stack."""

    def __init__(self, stack):
        self.stack, self.api = stack, stack.api

    def runs(self, dag_id: str) -> list[dict]:
        return self.api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=logical_date")[
            "dag_runs"
        ]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")[
            "task_instances"
        ]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def finished(self, dag_id: str, run_id: str) -> dict:
        """Wait for the run to end; fail naming its task states unless it succeeded."""

        def probe():
            run = self.api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run = self.stack.wait_for(f"{dag_id} run {run_id} to finish", probe, RUN_TIMEOUT)
        assert run["state"] == "success", (run_id, self.task_states(dag_id, run_id))
        return run

    def backfill(self, dag_id: str, first_due: datetime, last_due: datetime, expected: int) -> list[dict]:
        """The UI's backfill: one run per schedule point due in [first_due, last_due], oldest first,
        one at a time. Returns the runs once all succeeded."""
        backfill = self.api.request(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": dag_id,
                "from_date": _iso(first_due),
                "to_date": _iso(last_due),
                "max_active_runs": 1,
                "reprocess_behavior": "none",
                "run_backwards": False,
                "dag_run_conf": {},
            },
        )
        runs = self.stack.wait_for(
            f"the {dag_id} backfill's runs",
            lambda: [r for r in self.runs(dag_id) if r["run_type"] == "backfill"] or None,
            60,
        )
        assert len(runs) == expected, [(r["dag_run_id"], r["logical_date"]) for r in runs]
        for run in runs:
            self.finished(dag_id, run["dag_run_id"])
        assert self.api.request("GET", f"/api/v2/backfills/{backfill['id']}")["dag_id"] == dag_id
        return runs

    def retrain(self, logical: datetime, reason: str) -> str:
        run = self.api.request(
            "POST",
            f"/api/v2/dags/{RETRAIN}/dagRuns",
            {
                "logical_date": _iso(logical),
                "conf": {"reason": reason, "window_days": 14, "promotion_mode": "auto"},
            },
        )
        self.finished(RETRAIN, run["dag_run_id"])
        return run["dag_run_id"]


def _gates_failed(story: Story, run_id: str) -> list[str]:
    """The gates a weekly_retraining run of this module failed: every one trains up to LAST_DAY,
    so its audit events are filed under that day."""
    from include import audit

    events = audit.read(LAST_DAY, LAST_DAY, by="data", settings=story.stack.settings)
    return [
        e["name"]
        for e in events
        if e["type"] == "gate_result" and e["dag_run_id"] == run_id and not e["passed"]
    ]


@pytest.mark.integration
def test_drift_on_the_production_stack_retrains_a_new_champion(native_stack):
    from include import audit, contract, registry
    from include.monitoring import history

    stack, started = native_stack, time.monotonic()
    story = Story(stack)
    s = stack.settings
    assert s.storage_root.startswith("s3://") and s.mlflow_tracking_uri.startswith("http://")

    # 1. History: 12 days through the library, the last two through nightly_ingestion.
    credit = contract.load(DATASET)
    simulate_days(credit, DAYS[:-2], settings=s)
    for dag_id in (INGEST, RETRAIN, MONITOR, DECISIONS):
        stack.wait_for(
            f"{dag_id} to be parsed",
            lambda dag_id=dag_id: story.api.request("GET", f"/api/v2/dags/{dag_id}"),
            180,
        )
        # Backfill and triggered runs wait while a DAG is paused; the stack has no scheduled runs
        # (use_job_schedule off), so unpausing starts nothing by itself.
        story.api.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    # The nightly run due at 02:00 on D+1 ingests day D.
    ingested = story.backfill(
        INGEST,
        datetime(2026, 11, 20, 2, tzinfo=UTC),
        datetime(2026, 11, 21, 2, tzinfo=UTC),
        expected=2,
    )
    for day in DAYS[-2:]:
        for feed in FEEDS:
            assert stack.s3_keys(f"storage/curated/{feed}/dt={day}/"), (
                f"no curated {feed} partition for {day}"
            )
    print(f"ingested in {time.monotonic() - started:.0f} s: {[r['dag_run_id'] for r in ingested]}")

    # 2. The first champion.
    client = registry.client(s)
    first_run = story.retrain(datetime(2026, 11, 21, 3, tzinfo=UTC), "native stack: first model")
    first = registry.by_alias(client, DATASET, registry.CHAMPION)
    assert first is not None, f"no first champion; failed gates: {_gates_failed(story, first_run)}"
    assert first.tags["promoted_by"] == "user:admin" and first.tags["promoted_in_run"] == first_run
    print(f"champion v{first.version} after {time.monotonic() - started:.0f} s")
    # The daily decision monitors of 11-19 run on the worker beside the hourly backfill below (the
    # day's capture hours are not the ones the backfill lands).
    decision_run = story.api.request(
        "POST",
        f"/api/v2/dags/{DECISIONS}/dagRuns",
        {"logical_date": _iso(datetime(2026, 11, 20, 4, 45, tzinfo=UTC))},
    )["dag_run_id"]

    # 3. Hourly monitoring through the onset: the run due at hh:05 judges the 3 hours before hh.
    monitored = story.backfill(
        MONITOR, MONITORED[0], MONITORED[-1] + timedelta(minutes=5), expected=len(MONITORED)
    )
    by_hour = {datetime.fromisoformat(r["data_interval_end"]).replace(minute=0): r for r in monitored}
    assert sorted(by_hour) == MONITORED
    before = history.read_record(DATASET, MONITORED[0], s)
    assert before["status"] == "judged" and not before["alert"], before
    trigger_run = by_hour[TRIGGER_WINDOW]["dag_run_id"]
    states = story.task_states(MONITOR, trigger_run)
    assert states["sustained_drift"] == "success" and states["trigger_retraining"] == "success", states
    for hour in MONITORED[:-1]:  # no earlier window triggered
        assert story.task_states(MONITOR, by_hour[hour]["dag_run_id"])["trigger_retraining"] == "skipped"
    record = history.read_record(DATASET, TRIGGER_WINDOW, s)
    assert record["alert"] and "annual_income" in record["result"]["drifted_columns"], record

    # 4. The drift-triggered retraining promotes a new champion.
    triggered = [r for r in story.runs(RETRAIN) if r["dag_run_id"].startswith("drift__")]
    assert [r["dag_run_id"] for r in triggered] == [f"drift__{DATASET}__{TRIGGER_WINDOW:%Y-%m-%dT%H%M}"]
    drift_run = triggered[0]["dag_run_id"]
    assert triggered[0]["conf"]["evidence"]["source"] == "monitor" and triggered[0]["conf"]["force"] is True
    story.finished(RETRAIN, drift_run)
    second = registry.by_alias(client, DATASET, registry.CHAMPION)
    assert second.version != first.version, (
        f"no new champion; failed gates: {_gates_failed(story, drift_run)}"
    )
    assert second.tags["promoted_by"] == "monitor" and second.tags["promoted_in_run"] == drift_run
    assert registry.by_alias(client, DATASET, registry.PREVIOUS).version == first.version
    print(f"drift-triggered champion v{second.version} after {time.monotonic() - started:.0f} s")

    # 5. Where everything landed.
    monitoring = f"storage/monitoring/{DATASET}/"
    # The decision monitors judged 11-19 (before the onset: fair, same reasons, AUC estimated above
    # the floor) with v1's calibration and attributions read through the tracking server's proxy.
    story.finished(DECISIONS, decision_run)
    for key in ("bias/decisions", "attribution", "performance/estimated"):
        assert f"{monitoring}{key}/dt=2026-11-19.json" in stack.s3_keys(f"{monitoring}{key}/"), key
    from include.monitoring import attribution, bias, daily, estimated

    fairness = daily.stored(DATASET, bias.DECISIONS, date(2026, 11, 19), s)
    reasons = daily.stored(DATASET, attribution.MONITOR, date(2026, 11, 19), s)
    estimate = daily.stored(DATASET, estimated.MONITOR, date(2026, 11, 19), s)
    assert fairness["status"] == "judged" and not fairness["alert"] and fairness["joined"] > 2900, fairness
    assert reasons["status"] == "judged" and reasons["model_version"] == first.version, reasons
    assert estimate["status"] == "estimated" and estimate["estimated_auc"] >= credit.auc_floor, estimate
    assert (
        f"{monitoring}drift/dt={TRIGGER_WINDOW.date()}/hour={TRIGGER_WINDOW.hour:02d}.json"
        in stack.s3_keys(f"{monitoring}drift/")
    )
    assert record["report"].startswith(f"s3://{stack.bucket}/{monitoring}reports/") and record[
        "report"
    ].endswith(".html")
    assert record["report"].removeprefix(f"s3://{stack.bucket}/") in stack.s3_keys(f"{monitoring}reports/")
    assert f"{monitoring}drift_scores.png" in stack.s3_keys(monitoring)
    # The triggered run keeps the monitoring window's interval (not the wall clock's), so it trains
    # up to LAST_DAY and files its audit events under that day; the trigger is filed under the
    # window's day.
    assert datetime.fromisoformat(triggered[0]["data_interval_end"]) == TRIGGER_WINDOW + timedelta(
        minutes=5
    ), triggered[0]["data_interval_end"]
    events = audit.read(LAST_DAY, TRIGGER_WINDOW.date(), by="data", settings=s)
    promoted = [(e["actor"], e["dag_run_id"]) for e in events if e["type"] == "promoted"]
    assert promoted == [("user:admin", first_run), ("monitor", drift_run)], promoted
    assert [e["type"] for e in events].count("retrain_triggered") == 1
    assert stack.s3_keys("storage/audit/")
    # MLflow wrote through its artifact proxy into S3: both champions' models and profiles.
    artifacts = stack.s3_keys("mlflow-artifacts/")
    for version in (first, second):
        run = client.get_run(version.run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
        keys = [k for k in artifacts if version.run_id in k]
        assert any(k.endswith("/reference_profile.json") for k in keys), keys
    assert [k for k in artifacts if k.endswith("/MLmodel")], "no model in the artifact store"
    assert client.download_artifacts(second.run_id, "reference_profile.json")  # through the tracking server
    kinds = [n["kind"] for n in stack.received_notifications()]
    assert (
        kinds.count("promoted") == 2 and kinds.count("retrain_triggered") == 1 and "drift_alert" in kinds
    ), kinds
    local = [p for p in (stack.settings.local_dir).rglob("*") if p.is_file()]
    assert local == [], f"files under MLOPS_LOCAL_DIR although every store is remote: {local[:5]}"
    # Tasks ran on the Celery worker, not in the scheduler.
    worker_log = stack.services.logs["airflow-celery-worker"].read_text(errors="replace")
    assert "execute_workload" in worker_log and "succeeded" in worker_log
    print(f"story done in {time.monotonic() - started:.0f} s")


@pytest.mark.integration
def test_a_person_retrains_from_the_trigger_form_and_approves_in_the_browser(native_stack):
    """Runs after the story on the same stack, and alone (``-k browser``): the 14 days it trains
    on are seeded when missing."""
    from include import contract, registry

    require_browser()
    stack, story = native_stack, Story(native_stack)
    s, client = stack.settings, registry.client(stack.settings)
    credit = contract.load(DATASET)
    missing = [day for day in DAYS if not stack.s3_keys(f"storage/curated/{FEEDS[0]}/dt={day}/")]
    simulate_days(credit, missing, settings=s)
    stack.wait_for(
        f"{RETRAIN} to be parsed", lambda: story.api.request("GET", f"/api/v2/dags/{RETRAIN}"), 180
    )
    before = registry.by_alias(client, DATASET, registry.CHAMPION)
    passwords = stack.passwords
    shots = Screenshots("native_stack")

    # 5. The trigger form: a manual-mode retraining as of the morning after LAST_DAY (its 14-day
    # window ends on LAST_DAY); the form also unpauses the DAG when the story did not.
    logical = datetime(2026, 11, 21, 6, tzinfo=UTC)
    params = {
        "reason": "UI check: new bureau feed",
        "window_days": 14,
        "promotion_mode": "manual",
        "force": True,
    }

    def asks_or_ends(run_id: str):
        if story.task_states(RETRAIN, run_id).get("request_approval") == "awaiting_input":
            return "asks"
        state = story.api.request("GET", f"/api/v2/dags/{RETRAIN}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    with signed_in(stack.base_url, "admin", passwords["admin"], shots) as browser:
        ui_run = trigger_dag(browser, stack.base_url, RETRAIN, params, shots, logical_date=logical)
        outcome = stack.wait_for("the approval request", lambda: asks_or_ends(ui_run), RUN_TIMEOUT)
        assert outcome == "asks", (outcome, story.task_states(RETRAIN, ui_run), _gates_failed(story, ui_run))
        browser.get(f"{stack.base_url}/dags/{RETRAIN}/runs/{ui_run}")
        shots.take(browser, "run-asks-for-approval")
    run = story.api.request("GET", f"/api/v2/dags/{RETRAIN}/dagRuns/{ui_run}")
    assert run["triggering_user_name"] == "admin" and run["run_type"] == "manual", run
    assert datetime.fromisoformat(run["logical_date"]) == logical, run["logical_date"]  # the picker's value
    assert {k: run["conf"].get(k) for k in params} == params, run["conf"]  # the form sent what was typed

    # 6. The run waits for risk_officer's approval in the UI (Required Actions).
    # Airflow 3.3.2 race (see test_approval_live): an answer before the scheduler has handled the
    # parked worker's exit fails the resumed task. Wait, as a person would, for that record.
    parked = f"task_id=request_approval, run_id={ui_run}, "
    scheduler_log = stack.services.logs["airflow-scheduler"]
    stack.wait_for(
        "the scheduler to handle the parked task",
        lambda: any(
            "TaskInstance Finished" in line and parked in line
            for line in scheduler_log.read_text(errors="replace").splitlines()
        ),
        RUN_TIMEOUT,
        interval=1,
    )
    with signed_in(stack.base_url, "risk_officer", passwords["risk_officer"], shots) as browser:
        answer_required_action(browser, stack.base_url, ui_run, "Approve", "risk_officer", shots)
        state = wait_for_run_page_state(
            browser, stack.base_url, RETRAIN, ui_run, shots, RUN_TIMEOUT, stack.check_alive
        )
        assert state == "Success", (state, story.task_states(RETRAIN, ui_run))
    states = story.task_states(RETRAIN, ui_run)
    assert states["request_approval"] == "success" and states["promote_after_approval"] == "success", states
    approved = registry.by_alias(client, DATASET, registry.CHAMPION)
    assert approved is not None and (before is None or approved.version != before.version), (before, approved)
    assert approved.tags["promoted_by"] == "user:risk_officer" and approved.tags["promoted_in_run"] == ui_run
    assert approved.tags["promotion_reason"] == params["reason"]
    if before is not None:
        assert registry.by_alias(client, DATASET, registry.PREVIOUS).version == before.version
    manual_run = ui_run

    # 7. A viewer signs in (FAB) and sees the runs, but may neither trigger nor answer an approval.
    with signed_in(stack.base_url, "viewer", passwords["viewer"], shots) as browser:
        browser.get(f"{stack.base_url}/dags/{RETRAIN}/runs/{manual_run}")
        state = wait_for_run_page_state(
            browser, stack.base_url, RETRAIN, manual_run, shots, RUN_TIMEOUT, stack.check_alive
        )
        assert state == "Success"
    story.api.login("viewer")
    try:
        refused = {
            "trigger": _status(story.api, "POST", f"/api/v2/dags/{RETRAIN}/dagRuns", {"logical_date": None}),
            "approve": _status(
                story.api,
                "PATCH",
                f"/api/v2/dags/{RETRAIN}/dagRuns/{manual_run}/taskInstances/request_approval/-1/hitlDetails",
                {"chosen_options": ["Approve"]},
            ),
        }
    finally:
        story.api.login("admin")
    assert refused == {"trigger": 403, "approve": 403}, refused

    # 8. The Model health page, behind Airflow's own sign-in: anonymous 401, a user who may not read
    # the DAGs 403, the viewer the page, inside the UI (the navigation's entry) and on its own.
    health = f"/model-health/api/health/{DATASET}?days=30"
    story.api.token = None
    anonymous = _status(story.api, "GET", health, None)
    story.api.login("outsider")
    try:
        outsider = _status(story.api, "GET", health, None)
    finally:
        story.api.login("viewer")
    page = story.api.request("GET", health)
    story.api.login("admin")
    assert (anonymous, outsider) == (401, 403)
    champion = registry.by_alias(client, DATASET, registry.CHAMPION).version
    assert page["versions"]["champion"]["version"] == champion and page["versions"]["champion"]["since"]
    decided = {(e["type"], e["actor"]) for e in page["versions"]["decisions"]}
    assert ("approved", "user:risk_officer") in decided, decided
    if page["drift"]["ends"]:  # the story ran on this stack before (not with -k browser alone)
        assert ("promoted", "monitor") in decided, decided
        assert len(page["drift"]["ends"]) >= len(MONITORED) and page["drift"]["alerts"], page["drift"][
            "status"
        ]
        assert page["drift"]["triggers"] and page["drift"]["reports"], page["drift"]["triggers"]
        assert page["fairness"]["days"], page["fairness"]
    # The navigation lists plugins to users who may read them (FAB: Op, Admin, and the team's
    # roles in docker/airflow-roles.json); a bare Viewer opens the page by its address.
    with signed_in(stack.base_url, "risk_officer", passwords["risk_officer"], shots) as browser:
        from selenium.webdriver.common.by import By

        from tests.support.web_ui import wait_until

        browser.get(f"{stack.base_url}/plugin/model-health")
        frame = wait_until(
            browser, "the Model health frame", lambda d: d.find_elements(By.TAG_NAME, "iframe")
        )[0]
        browser.switch_to.frame(frame)
        wait_until(
            browser,
            "the page's charts",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"),
        )
        browser.switch_to.default_content()
        shots.take(browser, "model-health-in-airflow")
        browser.get(f"{stack.base_url}/model-health/?dataset={DATASET}")
        wait_until(
            browser,
            "the page's charts",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"),
        )
        browser.set_window_size(1400, 3200)
        shots.take(browser, "model-health-page")
        shown = browser.find_element(By.ID, "status").text
        assert f"{len(page['drift']['ends'])} hourly windows" in shown, shown


def _status(api, method: str, path: str, body: dict) -> int:
    import urllib.error

    try:
        api.request(method, path, body)
    except urllib.error.HTTPError as answer:
        return answer.code
    return 200
