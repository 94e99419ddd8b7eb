"""Four eyes on promotions: approvers from configuration minus the requester; an approval that
does not count is audited and notified as refused (the live API refusals are in
test_approval_live.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from include import settings as settings_module

REQUEST = {
    "actor": "user:alice",
    "reason": "quarterly review",
    "mode": "manual",
    "end": "2026-03-01",
    "window_days": 28,
}
OUTCOME = {"model_name": "credit_applications", "version": "7"}


def _context(triggering_user: str | None):
    return {"dag_run": SimpleNamespace(triggering_user_name=triggering_user)}


@pytest.fixture
def approvers(use_env, tmp_path):
    def _with(value: str):
        return use_env(MLOPS_LOCAL_DIR=str(tmp_path / "local"), MLOPS_APPROVERS=value)

    return _with


def test_the_requester_comes_from_the_run_and_its_recorded_actor():
    from mlops_plugins.approval import requesters

    assert requesters(_context("alice"), REQUEST) == {"alice"}
    assert requesters(_context(None), {"actor": "schedule"}) == set()
    assert requesters(_context(None), {"actor": "monitor"}) == set()
    assert requesters(_context("bob"), REQUEST) == {"alice", "bob"}


@pytest.mark.parametrize(
    "configured, user, refused",
    [
        ("", {"id": "alice", "name": "alice"}, "they requested this promotion"),
        ("", {"id": "bob", "name": "bob"}, None),
        ("bob,carol", {"id": "alice", "name": "alice"}, "they requested this promotion"),
        ("bob,carol", {"id": "carol", "name": "carol"}, None),
        ("bob,carol", {"id": "admin", "name": "admin"}, "they are not one of the approvers (bob, carol)"),
        ("12,13", {"id": "12", "name": "bob"}, None),  # FAB: the numeric id
    ],
)
def test_who_may_approve(approvers, configured, user, refused):
    from mlops_plugins.approval import AuditedApprovalOperator

    approvers(configured)
    why = AuditedApprovalOperator._refusal(_context("alice"), REQUEST, user)
    assert (why is None) if refused is None else why.startswith(refused), why


def test_a_refused_approval_is_audited_and_notified(approvers):
    from include import audit, notify, promotion

    s = approvers("")
    facts = promotion.approval_refused(
        OUTCOME,
        REQUEST,
        responder="alice",
        why="they requested this promotion",
        dag_run_id="manual__1",
        task="request_approval",
        settings=s,
    )
    [event] = audit.read(date(2026, 3, 1), date(2026, 3, 1), by="data", settings=s)
    assert event["type"] == "approval_refused" and event["actor"] == "user:alice" == facts["actor"]
    assert event["data_interval"] == {"start": "2026-02-02", "end": "2026-03-01"}
    [sent] = notify.read_outbox(date(2026, 3, 1), date(2026, 3, 1), settings=s)
    assert sent["kind"] == "approval_refused" and "does not count" in sent["message"]


@pytest.mark.parametrize("value", ["bob carol", "bob,<script>", "a" * 300])
def test_an_unusable_approver_list_is_refused_naming_the_entry(value):
    with pytest.raises(settings_module.SettingsError, match="MLOPS_APPROVERS: .* is not a user id"):
        settings_module.load({"MLOPS_APPROVERS": value})


def test_approvers_are_read_from_configuration():
    assert settings_module.load({"MLOPS_APPROVERS": " bob, carol ,"}).approvers == ("bob", "carol")
    assert settings_module.load({}).approvers == ()


# The answer, as Airflow resumes the approval step with it (execute_complete).


class _TI(SimpleNamespace):
    def xcom_pull(self, task_ids):
        return {"train_challenger": {**OUTCOME, "gates": []}, "resolve_request": REQUEST}[task_ids]


def _operator():
    from datetime import timedelta

    from mlops_plugins.approval import AuditedApprovalOperator

    return AuditedApprovalOperator(
        task_id="request_approval",
        outcome_task_id="train_challenger",
        request_task_id="resolve_request",
        subject="Promote?",
        defaults="Reject",
        response_timeout=timedelta(hours=24),
    )


def _resume_context():
    import uuid

    ti = _TI(id=uuid.uuid4())
    return {**_context("alice"), "ti": ti, "task_instance": ti, "run_id": "manual__1"}


def _answer(chosen: str, user: str | None):
    from datetime import UTC, datetime

    return {
        "chosen_options": [chosen],
        "params_input": {},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": user, "name": user} if user else None,
        "timedout": user is None,
    }


def _kinds(s):
    return [e["type"] for e in audit_read(s)]


def audit_read(s):
    from include import audit

    return audit.read(date(2026, 3, 1), date(2026, 3, 1), by="data", settings=s)


@pytest.fixture
def reopened(monkeypatch):
    from airflow.sdk.execution_time import hitl

    calls = []
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kw: calls.append(kw))
    return calls


def test_the_requesters_own_approval_leaves_the_request_open_until_the_same_deadline(approvers, reopened):
    from datetime import UTC, datetime, timedelta

    from airflow.sdk.exceptions import TaskAwaitingInput

    s = approvers("")
    deadline = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    context = _resume_context()
    with pytest.raises(TaskAwaitingInput) as parked:
        _operator().execute_complete(context, _answer("Approve", "alice"), deadline=deadline)
    assert parked.value.method_name == "execute_complete"
    assert parked.value.kwargs == {"deadline": deadline}  # a refused answer never extends it
    assert timedelta(hours=4, minutes=59) < parked.value.timeout <= timedelta(hours=5)
    [call] = reopened
    assert call["ti_id"] == context["task_instance"].id and call["options"] == ["Approve", "Reject"]
    assert _kinds(s) == ["approval_refused"]

    # Another user's approval, still before the deadline, counts.
    result = _operator().execute_complete(context, _answer("Approve", "bob"), deadline=deadline)
    assert result["chosen_options"] == ["Approve"]
    assert _kinds(s) == ["approval_refused", "approved"]


def test_an_approval_by_someone_not_among_the_approvers_is_refused_and_the_request_reopened(
    approvers, reopened
):
    from datetime import UTC, datetime, timedelta

    from airflow.sdk.exceptions import TaskAwaitingInput

    s = approvers("bob,carol")
    deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with pytest.raises(TaskAwaitingInput):
        _operator().execute_complete(_resume_context(), _answer("Approve", "admin"), deadline=deadline)
    assert len(reopened) == 1 and _kinds(s) == ["approval_refused"]


def test_a_decline_fails_the_step_naming_who_declined(approvers):
    from airflow.sdk.exceptions import AirflowFailException

    from include import notify

    s = approvers("")
    with pytest.raises(AirflowFailException, match="v7 not promoted: declined by bob"):
        _operator().execute_complete(_resume_context(), _answer("Reject", "bob"), deadline=None)
    assert _kinds(s) == ["declined"]
    [sent] = notify.read_outbox(date(2026, 3, 1), date(2026, 3, 1), settings=s)
    assert sent["kind"] == "declined" and "promotion was not made" in sent["message"]


def test_nobody_answering_in_time_fails_the_step_saying_so(approvers):
    from airflow.sdk.exceptions import AirflowFailException

    s = approvers("")
    with pytest.raises(AirflowFailException, match="nobody answered the approval request within 24 h"):
        _operator().execute_complete(_resume_context(), _answer("Reject", None))
    [event] = audit_read(s)
    assert event["type"] == "declined" and event["actor"] == "timeout"


def test_a_refused_answer_after_the_deadline_is_a_timeout(approvers, reopened):
    from datetime import UTC, datetime, timedelta

    from airflow.sdk.exceptions import AirflowFailException

    s = approvers("")
    deadline = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with pytest.raises(AirflowFailException, match="nobody answered"):
        _operator().execute_complete(_resume_context(), _answer("Approve", "alice"), deadline=deadline)
    assert not reopened and _kinds(s) == ["approval_refused", "declined"]


def test_asking_fixes_the_deadline_once_and_parks_with_it(approvers, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from airflow.providers.standard.operators import hitl as hitl_operator
    from airflow.sdk.exceptions import TaskAwaitingInput

    s = approvers("")
    monkeypatch.setattr(hitl_operator, "upsert_hitl_detail", lambda **kw: None)
    before = datetime.now(UTC)
    with pytest.raises(TaskAwaitingInput) as parked:
        _operator().execute(_resume_context())
    deadline = datetime.fromisoformat(parked.value.kwargs["deadline"])
    assert before + timedelta(hours=24) <= deadline <= datetime.now(UTC) + timedelta(hours=24)
    assert parked.value.timeout == timedelta(hours=24)
    assert _kinds(s) == ["approval_requested"]
