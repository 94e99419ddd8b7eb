"""
### Roll the champion back

Manual trigger only. Re-points the ``champion`` alias of the dataset's model to an earlier
version (a version number, or ``previous``: the champion it replaced last), after checking
that the version exists and once passed the hard gates (every gate that does not depend on
the champion of its day). Who triggered it and why goes to the audit trail, the version
tags and a notification. Nothing is retrained: it takes seconds.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from include import contract, settings
from mlops_plugins.failures import fail_fast
from mlops_plugins.notifiers import RunFailedNotifier

config = settings.get()


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    max_active_runs=1,
    default_args={"on_failure_callback": RunFailedNotifier()},
    doc_md=__doc__,
    tags=["registry"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
        "target": Param(
            "previous",
            type="string",
            pattern=r"^(previous|[1-9][0-9]*)$",
            title="Roll back to",
            description="A version number, or 'previous' for the champion replaced last.",
        ),
        "reason": Param(
            "",
            type="string",
            minLength=1,
            maxLength=500,
            title="Reason",
            description="Why the champion is replaced (recorded in the audit trail).",
        ),
    },
)
def model_rollback():
    @task
    @fail_fast
    def roll_back(params=None, dag_run=None, ti=None) -> dict:
        from include import promotion
        from include.run_target import RunParamsError, refuse_unknown

        refuse_unknown(params, ("dataset", "target", "reason"))
        reason = str(params.get("reason") or "").strip()
        if not reason:
            raise RunParamsError("param 'reason' is required: say why the champion is rolled back")
        user = getattr(dag_run, "triggering_user_name", None) or "unknown"
        result = promotion.rollback(
            params["dataset"],
            str(params["target"]),
            reason=reason,
            actor=f"user:{user}",
            dag_run_id=dag_run.run_id,
            interval=(
                dag_run.data_interval_start or dag_run.run_after,
                dag_run.data_interval_end or dag_run.run_after,
            ),
            task=ti.task_id,
        )
        print(f"{params['dataset']}: champion is v{result['champion']} (was v{result['replaced']})")
        return result

    roll_back()


model_rollback()
