"""The standard provider's ApprovalOperator, with the request and the answer audited.

Asking records ``approval_requested`` and notifies the approvers; the answer records
``approved`` or ``declined`` with the user who gave it (or ``timeout`` when the default
"Reject" applied) before the operator skips promotion on a rejection.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.operators.hitl import ApprovalOperator

from mlops_plugins.failures import permanent_errors_fail_now


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
        from include import promotion

        outcome, request = self._inputs(context)
        hours = self.response_timeout.total_seconds() / 3600 if self.response_timeout else 0
        with permanent_errors_fail_now():
            promotion.approval_requested(
                outcome, request, dag_run_id=context["run_id"], task=self.task_id, timeout_hours=hours
            )
        return super().execute(context)

    def execute_complete(self, context, event):
        from include import promotion

        if "error" in event:  # not an answer (a broken response): the operator raises it as is
            return super().execute_complete(context, event)
        outcome, request = self._inputs(context)
        chosen = (event.get("chosen_options") or [None])[0]
        responder = (event.get("responded_by_user") or {}).get("name")
        responded_at = event.get("responded_at") or datetime.now(UTC)
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
        return super().execute_complete(context, event)
