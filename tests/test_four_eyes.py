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
