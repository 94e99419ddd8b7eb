"""Notifier for task failures, through the package's notification channel (SNS or storage).

Set as ``on_failure_callback``: it fires once a task has failed for good (retries spent),
with the error, so the team hears about "registry unreachable" or "no matured labels"
without watching the UI.
"""

from __future__ import annotations

from airflow.sdk import BaseNotifier


class RunFailedNotifier(BaseNotifier):
    def notify(self, context):
        from include import notify

        ti, dag_run = context["ti"], context["dag_run"]
        error = str(context.get("exception") or "see the task log")[:2000]
        facts = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "dag_run_id": dag_run.run_id,
            "try_number": ti.try_number,
            "error": error,
        }
        notify.publish(
            "run_failed",
            f"{ti.dag_id}.{ti.task_id} failed",
            f"{ti.dag_id} run {dag_run.run_id}: task {ti.task_id} failed after try {ti.try_number}.\n{error}",
            facts=facts,
            key=f"{dag_run.run_id}/{ti.task_id}/{ti.try_number}",
            day=(dag_run.logical_date or dag_run.run_after).date(),
        )
