"""The web UI in a real browser: trigger a retraining from the form, approve a promotion.

Headless Chromium drives a live Airflow (tests/live_airflow.py) through its pages only:

1. ``admin`` signs in, fills the ``weekly_retraining`` trigger form (reason, window, auto
   promotion, force) and watches the run page until the run succeeds: the first champion.
2. A manual-mode run (triggered through REST) waits for approval; ``risk_officer`` signs in,
   opens it from the Required Actions page and clicks Approve; the run succeeds and the
   champion alias names ``user:risk_officer``.

Screenshots of every step stay in .local/screenshots/web_ui/<test>/ (path printed).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.live_airflow import STARTUP_TIMEOUT, live_airflow, wait_for
from tests.test_approval_live import _ingest
from tests.web_ui import (Screenshots, answer_required_action, require_browser, signed_in, trigger_dag,
                          wait_for_run_page_state)

DAG_ID = "weekly_retraining"
ROWS_PER_DAY = 3000  # enough for the challenger to pass the AUC floor, as in test_approval_live
RUN_TIMEOUT = 420


@pytest.mark.integration
def test_a_person_triggers_retraining_and_approves_a_promotion_in_the_browser(tmp_path):
    from include import registry

    require_browser()  # before minutes of set-up
    shots = Screenshots("live_airflow")
    # A triggered run's window ends the day before its logical date (now). Today is ingested
    # too, so a run that starts just after midnight still finds its 14 days.
    today = datetime.now(timezone.utc).date()
    s = _ingest(tmp_path / "local", [today - timedelta(days=n) for n in range(14, -1, -1)])
    extra = {"MLOPS_SIMULATOR_ROWS_PER_DAY": str(ROWS_PER_DAY),
             "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,risk_officer:admin",
             # Unpausing from the trigger form would also start the latest Monday's scheduled
             # run (catchup=False): a minute of training this test does not look at.
             "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
    with live_airflow(tmp_path, extra) as (api, services, env):
        wait_for(f"{DAG_ID} to be parsed", lambda: api.request("GET", f"/api/v2/dags/{DAG_ID}"), services,
                 STARTUP_TIMEOUT)
        passwords = json.loads(api.password_file.read_text())
        base_url = api.base_url

        def task_states(run_id: str) -> dict[str, str]:
            tis = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
            return {ti["task_id"]: ti["state"] for ti in tis}

        def gate_failures(run_id: str) -> list[str]:
            outcome = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/train_challenger"
                                         "/xcomEntries/return_value")["value"]
            outcome = json.loads(outcome) if isinstance(outcome, str) else outcome
            return [f"{g['name']}: {g['message']}" for g in outcome["gates"] if not g["passed"]]

        # 1. The trigger form, filled and submitted by admin; the run page shows it succeed.
        params = {"reason": "UI check: new bureau feed", "window_days": 14, "promotion_mode": "auto", "force": True}
        with signed_in(base_url, "admin", passwords["admin"], shots) as browser:
            ui_run = trigger_dag(browser, base_url, DAG_ID, params, shots)
            state = wait_for_run_page_state(browser, base_url, DAG_ID, ui_run, shots, RUN_TIMEOUT,
                                            services.check_alive)
            assert state == "Success", (state, task_states(ui_run))
            assert not gate_failures(ui_run), gate_failures(ui_run)
        run = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{ui_run}")
        assert run["state"] == "success" and run["triggering_user_name"] == "admin", run
        assert {k: run["conf"].get(k) for k in params} == params, run["conf"]  # the form sent what was typed
        assert task_states(ui_run)["promote"] == "success"
        client = registry.client(s)
        first = registry.by_alias(client, "credit_applications", registry.CHAMPION)
        assert first is not None and first.tags["promoted_by"] == "user:admin", first
        assert first.tags["promotion_reason"] == params["reason"]

        # 2. A manual-mode run waits for risk_officer's approval in the Required Actions page.
        def asks_or_ends(run_id: str):
            if task_states(run_id).get("request_approval") == "awaiting_input":
                return "asks"
            state = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        manual_run = api.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {
            "logical_date": datetime.now(timezone.utc).isoformat(),
            "conf": {"reason": "UI check: approval", "promotion_mode": "manual", "force": True,
                     "window_days": 14}})["dag_run_id"]
        outcome = wait_for("the approval request", lambda: asks_or_ends(manual_run), services, RUN_TIMEOUT,
                           interval=2)
        assert outcome == "asks", (outcome, task_states(manual_run), gate_failures(manual_run))
        # Airflow 3.3.2 race (see test_approval_live): an answer before the scheduler has handled
        # the parked worker's exit fails the resumed task. A click is fast enough to hit it, so
        # wait, as a person would, for the scheduler's record of the exit.
        parked = f"task_id=request_approval, run_id={manual_run}, "
        wait_for("the scheduler to handle the parked task", lambda: any(
            "TaskInstance Finished" in line and parked in line
            for line in services.logs["scheduler"].read_text(errors="replace").splitlines()),
            services, RUN_TIMEOUT, interval=1)
        with signed_in(base_url, "risk_officer", passwords["risk_officer"], shots) as browser:
            answer_required_action(browser, base_url, manual_run, "Approve", "risk_officer", shots)
            state = wait_for_run_page_state(browser, base_url, DAG_ID, manual_run, shots, RUN_TIMEOUT,
                                            services.check_alive)
            assert state == "Success", (state, task_states(manual_run))
        states = task_states(manual_run)
        assert states["request_approval"] == "success" and states["promote_after_approval"] == "success", states
        second = registry.by_alias(client, "credit_applications", registry.CHAMPION)
        assert second.version != first.version and second.tags["promoted_by"] == "user:risk_officer", second
        assert registry.by_alias(client, "credit_applications", registry.PREVIOUS).version == first.version
