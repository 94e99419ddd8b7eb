"""
### Daily realized performance (delayed labels)

Every day at 04:30, after the nightly ingestion has curated the outcomes that matured, joins the
captured scores of the newest fully matured application day (the contract's label delay plus a
day) with those outcomes and computes the realized AUC of that cohort. Below the contract's
floor it first asks whether the previous champion does significantly better on the same
cohort (DeLong, paired): if so, and the contract allows it, it rolls back; otherwise it alerts
and starts ``weekly_retraining`` with reason ``performance`` (one run per cohort, whatever the
retries or backfills). This is what catches concept drift, which input
drift statistics cannot see.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include import contract, settings
from mlops_plugins.failures import fail_fast
from mlops_plugins.notifiers import RunFailedNotifier
from mlops_plugins.trigger import WindowTriggerDagRunOperator

config = settings.get()
RETRAIN_DAG_ID = "weekly_retraining"


@dag(
    schedule=CronTriggerTimetable("30 4 * * *", timezone=config.timezone, interval=timedelta(days=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["monitoring", "performance"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
        "window_days": Param(
            8,
            type="integer",
            minimum=2,
            maximum=365,
            title="Retraining window (days)",
            description="Short by default: with the 7-day label delay an 8-day window trains "
            "on the newest matured day only, which carries the new concept.",
        ),
    },
)
def performance_monitoring():
    @task.short_circuit(ignore_downstream_trigger_rules=True)
    @fail_fast
    def check_performance(params=None, dag_run=None, data_interval_end=None) -> dict | bool:
        """The cohort's realized AUC; continues to the trigger only when it is below the floor."""
        from include.monitoring.performance import cohort_for, realized
        from include.run_target import interval_end

        data = contract.load(params["dataset"])
        result = realized(
            data, cohort_for(data, interval_end(data_interval_end, dag_run.run_after), config.timezone)
        )
        print(
            f"cohort {result['cohort']}: {result['status']}, AUC {result.get('auc')}, floor {data.auc_floor}, "
            f"{result.get('labelled')} labelled of {result.get('captured')} captured"
        )
        return result if result.get("below_floor") else False

    @task.short_circuit(ignore_downstream_trigger_rules=True)
    @fail_fast
    def fall_back(result: dict, params=None, dag_run=None, ti=None) -> dict | bool:
        """Roll back instead of retraining when the previous champion does significantly better on
        the same cohort (and the contract's ``monitoring.auto_rollback`` allows it)."""
        from include.monitoring.fallback import fall_back as decide

        evidence = decide(
            contract.load(params["dataset"]), result, dag_run_id=dag_run.run_id, task=ti.task_id
        )
        print(
            f"previous champion v{evidence['previous_version']} against v{evidence['champion_version']}: "
            f"{evidence['status']}, difference {evidence.get('difference')} (lower bound {evidence.get('lower')}); "
            f"rolled back: {evidence['rolled_back']}"
        )
        return False if evidence["rolled_back"] else result

    @task
    @fail_fast
    def alert(result: dict, params=None, dag_run=None, ti=None) -> dict:
        from include.monitoring.alerts import performance_alert
        from include.training.request import monitor_run_id

        conf = performance_alert(
            contract.load(params["dataset"]),
            result,
            window_days=params["window_days"],
            dag_run_id=dag_run.run_id,
        )
        ti.xcom_push(key="retrain_run_id", value=monitor_run_id(conf))
        return conf

    conf = alert(fall_back(check_performance()))
    conf >> WindowTriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id=RETRAIN_DAG_ID,
        trigger_run_id="{{ ti.xcom_pull(task_ids='alert', key='retrain_run_id') }}",
        conf=conf,
        skip_when_already_exists=True,
        wait_for_completion=False,
        deferrable=False,
    )


performance_monitoring()
