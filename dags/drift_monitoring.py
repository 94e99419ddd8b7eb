"""
### Hourly drift monitoring

Five minutes past each hour, for the hours before its data interval's end (the contract's
look-back, 3 h for credit): land the capture when the simulator is on, compare the scored
traffic with the reference profile of the model version that scored it, store the record in
the drift history, alert on drift or a data-quality incident (with Evidently's HTML report),
and redraw the drift plot. Then a sensor decides whether drift is sustained (k windows in a
row, no data-quality incident, outside the cooldown, no retraining running) and, if so,
starts ``weekly_retraining`` with the evidence, under a run id derived from the window so a
retry or a backfill never starts it twice. With no champion yet the run skips.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include import contract, settings
from mlops_plugins.drift_sensor import SustainedDriftSensor
from mlops_plugins.failures import fail_fast
from mlops_plugins.notifiers import RunFailedNotifier
from mlops_plugins.trigger import WindowTriggerDagRunOperator

config = settings.get()
RETRAIN_DAG_ID = "weekly_retraining"


@dag(
    schedule=CronTriggerTimetable("5 * * * *", timezone="UTC", interval=timedelta(hours=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # windows are judged in order; the sensor reads the ones before
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["monitoring", "drift"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
        "report": Param(
            False,
            type="boolean",
            title="Evidently report",
            description="Render Evidently's HTML report for the window even without an alert.",
        ),
    },
)
def drift_monitoring():
    @task
    @fail_fast
    def land_capture(params=None, dag_run=None, data_interval_end=None) -> list[str]:
        """Simulator only: the scoring side's capture of the window's hours, when missing."""
        from include.monitoring.capture import land_missing_capture
        from include.run_target import interval_end

        if not config.simulator_enabled:
            return []
        return land_missing_capture(
            contract.load(params["dataset"]), interval_end(data_interval_end, dag_run.run_after)
        )

    @task
    @fail_fast
    def check_drift(landed: list[str], params=None, dag_run=None, data_interval_end=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from include.monitoring.check import check
        from include.run_target import interval_end

        record = check(
            contract.load(params["dataset"]),
            interval_end(data_interval_end, dag_run.run_after),
            report=params["report"],
        )
        if record["status"] == "no_champion":
            raise AirflowSkipException(
                f"{params['dataset']} has no champion yet: nothing to compare the window "
                f"{record['window_start']}..{record['window_end']} with"
            )
        result = record.get("result") or {}
        print(
            f"window {record['window_start']}..{record['window_end']}: {record['status']}, {record['rows']} rows, "
            f"model v{record['model_version']}; drifted {result.get('drifted_columns')}, "
            f"quality {[(q['column'], q['check']) for q in result.get('quality', [])]}"
        )
        return {
            "window_start": record["window_start"],
            "window_end": record["window_end"],
            "status": record["status"],
            "alert": record.get("alert", False),
            "dataset_drift": result.get("dataset_drift", False),
            "data_quality_incident": result.get("data_quality_incident", False),
            "drifted_columns": result.get("drifted_columns", []),
            "share_drifted": result.get("share_drifted"),
            "quality": [f"{q['column']}: {q['message']}" for q in result.get("quality", [])],
            "report": record.get("report"),
            "model_version": record["model_version"],
        }

    @task
    @fail_fast
    def publish(summary: dict, params=None, dag_run=None) -> str | None:
        """Alert on drift or a data-quality incident, and redraw the drift plot."""
        from include.monitoring.alerts import publish_alert

        return publish_alert(contract.load(params["dataset"]), summary, dag_run_id=dag_run.run_id)

    summary = check_drift(land_capture())
    sustained = SustainedDriftSensor(
        task_id="sustained_drift",
        dataset="{{ params.dataset }}",
        window_end="{{ ti.xcom_pull(task_ids='check_drift')['window_end'] }}",
        retrain_dag_id=RETRAIN_DAG_ID,
        poke_interval=300,
        timeout=50 * 60,  # before the next hourly run; a timeout skips
    )
    trigger = WindowTriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id=RETRAIN_DAG_ID,
        # One id per dataset and window: a retry or a backfill of this hour finds the run and skips.
        trigger_run_id="{{ ti.xcom_pull(task_ids='record_trigger') }}",
        conf=sustained.output,
        skip_when_already_exists=True,
        wait_for_completion=False,
        deferrable=False,
    )

    @task
    @fail_fast
    def record_trigger(conf: dict, params=None, dag_run=None) -> str:
        """Recorded before the trigger, so the cooldown holds even if this run dies after it, and the
        triggered run can show that the monitor asked for it. Returns the run id to trigger."""
        from include.monitoring.alerts import record_retrain_trigger

        return record_retrain_trigger(contract.load(params["dataset"]), conf, dag_run_id=dag_run.run_id)

    publish(summary)
    summary >> sustained >> record_trigger(sustained.output) >> trigger


drift_monitoring()
