"""
### Registry reconciliation

Hourly, at twenty past: compare the dataset's ``champion`` alias in MLflow with the audit
trail's last promotion or rollback of that model. A champion the trail does not explain was
moved outside these DAGs (someone with registry rights, a script): the discrepancy is audited
and notified once, and every check fails until the alias is rolled back or explained. While the
run that moved the alias is still running (between its alias move and its audit write), the
check waits for the next hour.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include import contract, settings
from mlops_plugins.failures import fail_fast
from mlops_plugins.notifiers import RunFailedNotifier

config = settings.get()
MOVING_DAG_IDS = ("weekly_retraining", "model_rollback")  # the only DAGs that move champion


@dag(
    schedule=CronTriggerTimetable("20 * * * *", timezone="UTC", interval=timedelta(hours=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["registry", "governance"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
    },
)
def registry_reconciliation():
    @task
    @fail_fast
    def reconcile(params=None, dag_run=None, ti=None) -> dict:
        from include import reconciliation

        def run_in_progress(run_id: str) -> bool:
            for dag_id in MOVING_DAG_IDS:
                try:
                    state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
                except Exception:  # no such run of this DAG
                    continue
                if str(state) in ("queued", "running"):
                    return True
            return False

        dataset = contract.load(params["dataset"])
        finding = reconciliation.check(dataset.name, run_in_progress=run_in_progress)
        print(finding.describe())
        if finding.pending_run:
            print(f"run {finding.pending_run} moved the alias and is still running: checked next hour")
        elif not finding.explained:
            reconciliation.alert_unexplained(
                dataset,
                finding,
                dag_run_id=dag_run.run_id,
                interval=(
                    dag_run.data_interval_start or dag_run.run_after,
                    dag_run.data_interval_end or dag_run.run_after,
                ),
            )
        return {"champion": finding.champion, "audited": finding.audited, "pending": finding.pending_run}

    reconcile()


registry_reconciliation()
