"""The standard provider's ApprovalOperator, with four eyes and the request and answer audited.

Asking records ``approval_requested`` and notifies the approvers. The approvers are
``MLOPS_APPROVERS`` minus whoever triggered the run (Airflow refuses anyone else's answer), or,
with none configured, every user but the requester. An approval by the requester or by someone
outside the approvers (an auth manager that lets admins answer anything) does not count:
``approval_refused`` is audited and notified, the answer is cleared and the request stays open
for another approver until the original deadline (a refused answer never extends it).

A counted answer records ``approved`` or ``declined`` with the user who gave it (or ``timeout``
when nobody answered in time and the default "Reject" applied). A decline or a timeout fails
the task, without retry, naming who declined or that nobody answered: the run that asked for a
promotion and did not get it never ends as a plain success.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import TaskAwaitingInput

from include.errors import PermanentError
from mlops_plugins.failures import permanent_errors_fail_now


class NoApproverError(PermanentError, ValueError):
    """Nobody but the requester may approve: the four-eyes rule cannot be met."""


class PromotionNotMadeError(PermanentError):
    """The promotion this run asked for was declined, or nobody answered in time."""


def remaining(deadline: str | None, now: datetime | None = None) -> timedelta | None:
    """How long the request stays open: until ``deadline`` (ISO, fixed when it was first asked),
    ``None`` for no deadline, zero once it has passed."""
    if deadline is None:
        return None
    left = datetime.fromisoformat(deadline) - (now or datetime.now(UTC))
    return max(left, timedelta(0))


def not_made_message(outcome: dict, responder: str | None, hours: float) -> str:
    """Why the promotion this run asked for was not made: who declined, or that nobody answered."""
    what = f"{outcome['model_name']} v{outcome['version']} not promoted"
    if responder:
        return f"{what}: declined by {responder}"
    return f"{what}: nobody answered the approval request within {hours:g} h"


def requesters(context, request: dict) -> set[str]:
    """Who asked for this promotion, from Airflow's facts: the user who triggered the run (also
    recorded as the request's actor). Empty for a scheduled or monitor-triggered run."""
    names = {getattr(context["dag_run"], "triggering_user_name", None)}
    actor = request.get("actor") or ""
    names.add(actor.removeprefix("user:") if actor.startswith("user:") else None)
    return {n for n in names if n}


class AuditedApprovalOperator(ApprovalOperator):
    """``outcome_task_id`` / ``request_task_id``: the tasks whose XComs hold the challenger's
    outcome and the retraining request (see include/promotion.py)."""

    def __init__(self, *, outcome_task_id: str, request_task_id: str, **kwargs):
        super().__init__(**kwargs)
        self.outcome_task_id, self.request_task_id = outcome_task_id, request_task_id

    def _inputs(self, context) -> tuple[dict, dict]:
        ti = context["ti"]
        return ti.xcom_pull(task_ids=self.outcome_task_id), ti.xcom_pull(task_ids=self.request_task_id)

    def execute(self, context):
        from include import promotion, settings

        outcome, request = self._inputs(context)
        approvers = settings.get().approvers
        hours = self.response_timeout.total_seconds() / 3600 if self.response_timeout else 0
        with permanent_errors_fail_now():
            if approvers:
                allowed = [a for a in approvers if a not in requesters(context, request)]
                if not allowed:
                    raise NoApproverError(
                        f"MLOPS_APPROVERS lists only {', '.join(approvers)}, who requested this "
                        "promotion: four eyes need another approver"
                    )
                self.assigned_users = [{"id": a, "name": a} for a in allowed]
            promotion.approval_requested(
                outcome, request, dag_run_id=context["run_id"], task=self.task_id, timeout_hours=hours
            )
        try:
            return super().execute(context)
        except TaskAwaitingInput as parked:
            # The deadline is fixed now, once, and travels with the parked task (Airflow keeps the
            # kwargs beside the answer): re-opening after a refused answer waits only what is left.
            if self.response_timeout:
                deadline = datetime.now(UTC) + self.response_timeout
                parked.kwargs = {**(parked.kwargs or {}), "deadline": deadline.isoformat()}
            raise

    def _reopen(self, context, deadline: str | None):
        """Clear the answer that did not count and wait again, for what is left of the deadline."""
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        upsert_hitl_detail(  # on an answered request: the answer is removed, the request kept
            ti_id=context["task_instance"].id,
            options=self.options,
            subject=self.subject,
            body=self.body,
            defaults=self.defaults,
            multiple=self.multiple,
            params=self.serialized_params,
            assigned_users=self.assigned_users,
        )
        self.log.info("The answer does not count: the request stays open for another approver")
        raise TaskAwaitingInput(
            method_name="execute_complete",
            kwargs={"deadline": deadline} if deadline else None,
            timeout=remaining(deadline),
        )

    @staticmethod
    def _refusal(context, request: dict, user: dict) -> str | None:
        from include import settings

        ids = {user.get("id"), user.get("name")} - {None}
        if ids & requesters(context, request):
            return "they requested this promotion, and four eyes need someone else to approve it"
        approvers = settings.get().approvers
        if approvers and not ids & set(approvers):
            return f"they are not one of the approvers ({', '.join(approvers)})"
        return None

    def execute_complete(self, context, event, deadline: str | None = None):
        from include import promotion

        if "error" in event:  # not an answer (a broken response): the operator raises it as is
            return super().execute_complete(context, event)
        outcome, request = self._inputs(context)
        hours = self.response_timeout.total_seconds() / 3600 if self.response_timeout else 0
        chosen = (event.get("chosen_options") or [None])[0]
        user = event.get("responded_by_user") or {}
        responder = user.get("name")
        responded_at = event.get("responded_at") or datetime.now(UTC)
        why = self._refusal(context, request, user) if chosen == self.APPROVE else None
        if why:
            with permanent_errors_fail_now():
                promotion.approval_refused(
                    outcome,
                    request,
                    responder=responder or user.get("id") or "unknown",
                    why=why,
                    dag_run_id=context["run_id"],
                    task=self.task_id,
                )
            if deadline is None and self.response_timeout:  # parked before deadlines were kept
                deadline = (datetime.now(UTC) + self.response_timeout).isoformat()
            left = remaining(deadline)
            if left is None or left > timedelta(0):
                self._reopen(context, deadline)
            # The deadline passed while the refused answer waited: nobody who counts answered.
            chosen, responder, responded_at = self.REJECT, None, datetime.now(UTC)
            event = {**event, "chosen_options": [self.REJECT], "responded_by_user": None}
        with permanent_errors_fail_now():
            promotion.approval_answered(
                outcome,
                request,
                approved=chosen == self.APPROVE,
                responder=responder,
                responded_at=responded_at.isoformat()
                if hasattr(responded_at, "isoformat")
                else str(responded_at),
                dag_run_id=context["run_id"],
                task=self.task_id,
            )
            if chosen != self.APPROVE:
                raise PromotionNotMadeError(not_made_message(outcome, responder, hours))
        return super().execute_complete(context, event)
