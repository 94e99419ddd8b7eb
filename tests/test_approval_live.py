"""Manual promotion with four eyes, answered through the REST API of a live Airflow (scheduler,
LocalExecutor) signing people in with the production auth manager (FAB) and the team's roles.

The approval step parks in AWAITING_INPUT (Airflow 3.3: no triggerer involved) until a
person answers in the UI's Required Actions page, which calls the same endpoint this test
does. Users: ``admin`` (Admin), ``ds`` (Viewer + DataScientist), ``ro`` (Viewer + RiskOfficer),
``viewer`` (Viewer). No MLOPS_APPROVERS: the RiskOfficer role is who may answer. The story:

1. Unpausing ``weekly_retraining`` makes the scheduler run the latest Monday 03:00 run
   (catchup=False). It trains on the 14 days ingested up to the Sunday before and, in the
   default ``auto`` mode, promotes the first champion.
2. ``ds`` asks for a promotion in ``manual`` mode (forced: the same data cannot beat the
   champion); ``viewer`` and ``ds`` cannot answer (403); ``ro`` approves; the champion moves;
   the audit trail names ``ds`` as requester and ``ro`` as approver.
3. ``admin`` asks for one and approves it themself: Airflow lets an admin answer, the package
   does not count it: ``approval_refused`` is audited and notified and the request stays open
   (no response on record, the step parked again); ``ro`` then approves and the champion moves.
4. ``ds`` asks again and ``ro`` rejects: nothing moves, a ``declined`` event is recorded and the
   run ends failed (the approval step names who declined), never as a plain success.
"""

from __future__ import annotations

import os
import urllib.error
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.support.data import simulate_days
from tests.support.live_airflow import STARTUP_TIMEOUT, live_airflow

DAG_ID = "weekly_retraining"
ROWS_PER_DAY = 3000
RUN_TIMEOUT = 420
USERS = {
    "admin": ("Admin",),
    "ds": ("Viewer", "DataScientist"),
    "ro": ("Viewer", "RiskOfficer"),
    "viewer": ("Viewer",),
}


def _latest_monday_3am(now: datetime) -> datetime:
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), time(3), tzinfo=UTC)
    return monday if monday <= now else monday - timedelta(days=7)


def _ingest(local_dir, days: list[date]) -> None:
    from include import contract, settings

    s = settings.load(
        {**os.environ, "MLOPS_LOCAL_DIR": str(local_dir), "MLOPS_SIMULATOR_ROWS_PER_DAY": str(ROWS_PER_DAY)}
    )
    credit = contract.load("credit_applications")
    simulate_days(credit, days, settings=s)
    return s


@pytest.mark.integration
def test_a_person_approves_one_challenger_and_rejects_the_next(tmp_path):
    from include import audit, notify, registry

    scheduled_at = _latest_monday_3am(datetime.now(UTC))
    end = scheduled_at.date() - timedelta(days=1)
    s = _ingest(tmp_path / "local", [end - timedelta(days=n) for n in range(13, -1, -1)])
    extra = {"MLOPS_SIMULATOR_ROWS_PER_DAY": str(ROWS_PER_DAY), "MLOPS_APPROVERS": ""}
    with live_airflow(tmp_path, extra, fab_users=USERS) as (api, services, env):
        services.wait_for(
            f"{DAG_ID} to be parsed", lambda: api.request("GET", f"/api/v2/dags/{DAG_ID}"), STARTUP_TIMEOUT
        )

        def run_state(run_id: str):
            run = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        def task_states(run_id: str) -> dict[str, str]:
            tis = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")[
                "task_instances"
            ]
            return {ti["task_id"]: ti["state"] for ti in tis}

        # 1. The scheduled run makes the first champion.
        api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        scheduled = services.wait_for(
            "the scheduled run",
            lambda: [
                r
                for r in api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
                if r["run_type"] == "scheduled"
            ],
            STARTUP_TIMEOUT,
        )[0]
        done = services.wait_for(
            "the scheduled run to finish", lambda: run_state(scheduled["dag_run_id"]), RUN_TIMEOUT, interval=2
        )
        assert done["state"] == "success", task_states(scheduled["dag_run_id"])
        client = registry.client(s)
        first = registry.by_alias(client, "credit_applications", registry.CHAMPION)
        assert first is not None and first.tags["promoted_by"] == "schedule"

        def answer_as(user: str, run_id: str, answer: str) -> int:
            api.login(user)
            try:
                api.request(
                    "PATCH",
                    f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/request_approval/-1/hitlDetails",
                    {"chosen_options": [answer]},
                )
            except urllib.error.HTTPError as refused:
                return refused.code
            return 200

        def finished_parks(run_id: str) -> int:
            # The scheduler's record of each exit of the approval step's worker (parked or done).
            parked = f"task_id=request_approval, run_id={run_id}, "
            return sum(
                "TaskInstance Finished" in line and parked in line
                for line in services.logs["scheduler"].read_text(errors="replace").splitlines()
            )

        def wait_parked(run_id: str, times: int) -> dict:
            services.wait_for(
                "the approval request",
                lambda: task_states(run_id).get("request_approval") == "awaiting_input",
                RUN_TIMEOUT,
                interval=2,
            )
            # Airflow 3.3.2 race: an answer that lands before the scheduler has handled the parked
            # worker's exit gets the resumed task failed as "state mismatch" (queued vs success), and
            # the retry asks again. A person never answers that fast; wait as they would, for the
            # scheduler's own record of the exit rather than for a fixed time.
            services.wait_for(
                "the scheduler to handle the parked task",
                lambda: finished_parks(run_id) >= times,
                RUN_TIMEOUT,
                interval=1,
            )
            services.wait_for(
                "the approval request, still parked",
                lambda: task_states(run_id).get("request_approval") == "awaiting_input",
                RUN_TIMEOUT,
                interval=2,
            )
            api.login("admin")
            return api.request(
                "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/request_approval/-1/hitlDetails"
            )

        def ask(reason: str, requester: str, minutes: int) -> str:
            # Logical dates on the same Monday morning: the window ends on the same Sunday.
            at = (scheduled_at + timedelta(minutes=minutes)).isoformat()
            api.login(requester)
            run = api.request(
                "POST",
                f"/api/v2/dags/{DAG_ID}/dagRuns",
                {
                    "logical_date": at,
                    "conf": {"reason": reason, "promotion_mode": "manual", "force": True, "window_days": 14},
                },
            )
            run_id = run["dag_run_id"]
            detail = wait_parked(run_id, 1)
            assert detail["options"] == ["Approve", "Reject"] and "PASS **auc_floor**" in detail["body"]
            # Neither a viewer nor the data scientist who asked may answer.
            assert {user: answer_as(user, run_id, "Approve") for user in ("viewer", "ds")} == {
                "viewer": 403,
                "ds": 403,
            }
            return run_id

        def finish(run_id: str) -> dict:
            api.login("admin")
            return services.wait_for("the run to finish", lambda: run_state(run_id), RUN_TIMEOUT, interval=2)

        # 2. Approved by a risk officer: the champion moves, and the approver is on record.
        approved_run = ask("quarterly review: new bureau feed", "ds", 1)
        assert answer_as("ro", approved_run, "Approve") == 200
        assert finish(approved_run)["state"] == "success", task_states(approved_run)
        states = task_states(approved_run)
        assert states["promote_after_approval"] == "success" and states["promote"] == "skipped"
        second = registry.by_alias(client, "credit_applications", registry.CHAMPION)
        assert second.version != first.version and second.tags["promoted_by"] == "user:ro"
        assert registry.by_alias(client, "credit_applications", registry.PREVIOUS).version == first.version

        # 3. An admin approving their own request: Airflow accepts the answer, the package does not
        # count it and the request stays open for someone else, who can still approve it.
        own_run = ask("admin's own idea", "admin", 2)
        assert answer_as("admin", own_run, "Approve") == 200
        detail = wait_parked(own_run, 2)
        assert detail["response_received"] is False and not detail["chosen_options"], detail
        assert registry.by_alias(client, "credit_applications", registry.CHAMPION).version == second.version
        assert answer_as("ro", own_run, "Approve") == 200
        assert finish(own_run)["state"] == "success", task_states(own_run)
        assert task_states(own_run)["promote_after_approval"] == "success"
        third = registry.by_alias(client, "credit_applications", registry.CHAMPION)
        assert third.version not in (first.version, second.version)
        assert third.tags["promoted_by"] == "user:ro"

        # 4. Rejected: nothing moves and the run says so: failed, not a plain success.
        rejected_run = ask("second look", "ds", 3)
        assert answer_as("ro", rejected_run, "Reject") == 200
        assert finish(rejected_run)["state"] == "failed", task_states(rejected_run)
        states = task_states(rejected_run)
        assert states["request_approval"] == "failed", states
        assert states["promote_after_approval"] in ("upstream_failed", "skipped"), states
        assert registry.by_alias(client, "credit_applications", registry.CHAMPION).version == third.version

    events = audit.read(end, end, by="data", settings=s)
    answers = [
        (e["type"], e["actor"], e["dag_run_id"])
        for e in events
        if e["type"] in ("approved", "declined", "approval_refused")
    ]
    assert answers == [
        ("approved", "user:ro", approved_run),
        ("approval_refused", "user:admin", own_run),
        ("approved", "user:ro", own_run),
        ("declined", "user:ro", rejected_run),
    ]
    requested = [(e["actor"], e["dag_run_id"]) for e in events if e["type"] == "approval_requested"]
    assert requested == [("user:ds", approved_run), ("user:admin", own_run), ("user:ds", rejected_run)]
    promoted = [(e["actor"], e["dag_run_id"]) for e in events if e["type"] == "promoted"]
    assert promoted == [
        ("schedule", scheduled["dag_run_id"]),
        ("user:ro", approved_run),
        ("user:ro", own_run),
    ]
    outbox = notify.read_outbox(end, end, settings=s)
    kinds = sorted(n["kind"] for n in outbox)
    assert kinds == sorted(
        ["approval_requested"] * 3 + ["approved"] * 2 + ["approval_refused", "declined"] + ["promoted"] * 3
    )
    [declined] = [n for n in outbox if n["kind"] == "declined"]
    assert "declined by ro" in declined["message"] and "promotion was not made" in declined["message"]
    # The failed run's own notification (dated by the run's logical date) names who declined.
    failures = [
        n
        for n in notify.read_outbox(scheduled_at.date(), scheduled_at.date(), settings=s)
        if n["kind"] == "run_failed"
    ]
    assert [n["facts"]["task_id"] for n in failures] == ["request_approval"], failures
    assert "not promoted: declined by ro" in failures[0]["message"]
