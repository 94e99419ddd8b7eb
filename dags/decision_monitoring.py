"""
### Daily monitoring of the live decisions: bias, reasons and performance before labels
Every day at 04:45, after the nightly ingestion has curated yesterday's applications, looks at
the decisions the champion made yesterday (the scoring service's capture) from three sides:

- **bias drift**: approval rate by protected group and the four-fifths ratio, joining the
  decisions with the protected attributes in the curated zone (the scorer never sees them);
  and, for the newest matured cohort, the true- and false-positive-rate gaps by group;
- **feature-attribution drift**: the features ranked by mean contribution (the reason codes'
  source) on yesterday's traffic against the training holdout, by nDCG;
- **estimated performance**: the AUC expected from yesterday's scores through the calibration
  measured at training (CBPE), a week before the outcomes can say it.

Each stores its record under ``monitoring/<dataset>/``, and alerts (audit event and
notification) when a contract limit is crossed with confidence. None of them retrains: a bias
alert holds the next automatic promotion for a person's approval when the contract says so.
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


@dag(
    schedule=CronTriggerTimetable("45 4 * * *", timezone=config.timezone, interval=timedelta(days=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": RunFailedNotifier(),
    },
    description="Daily monitoring of the live decisions: bias, reasons and performance before labels.",
    doc_md=__doc__,
    tags=["monitoring", "fairness"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
    },
)
def decision_monitoring():
    @task
    @fail_fast
    def land_capture(params=None, dag_run=None, data_interval_end=None) -> list[str]:
        """Simulator only: the scoring side's capture of yesterday's hours, when missing."""
        from datetime import UTC, datetime, time

        from include.monitoring.capture import land_missing_hours
        from include.monitoring.daily import decision_day
        from include.run_target import interval_end

        if not config.simulator_enabled:
            return []
        day = decision_day(interval_end(data_interval_end, dag_run.run_after), config.timezone)
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return land_missing_hours(contract.load(params["dataset"]), start, start + timedelta(days=1))

    @task
    @fail_fast
    def bias_decisions(landed: list[str], params=None, dag_run=None, data_interval_end=None) -> dict:
        """Approval rates by protected group of yesterday's decisions (four-fifths rule)."""
        from include.monitoring import bias
        from include.monitoring.daily import decision_day
        from include.run_target import interval_end

        data = contract.load(params["dataset"])
        record = bias.decisions(
            data, decision_day(interval_end(data_interval_end, dag_run.run_after), config.timezone)
        )
        bias.alert(data, record, dag_run_id=dag_run.run_id)
        _show(record)
        return record

    @task
    @fail_fast
    def bias_outcomes(landed: list[str], params=None, dag_run=None, data_interval_end=None) -> dict:
        """True- and false-positive-rate gaps by group on the newest matured cohort."""
        from include.monitoring import bias
        from include.monitoring.performance import cohort_for
        from include.run_target import interval_end

        data = contract.load(params["dataset"])
        record = bias.outcomes(
            data, cohort_for(data, interval_end(data_interval_end, dag_run.run_after), config.timezone)
        )
        bias.alert(data, record, dag_run_id=dag_run.run_id)
        _show(record)
        return record

    @task
    @fail_fast
    def attribution_drift(landed: list[str], params=None, dag_run=None, data_interval_end=None) -> dict:
        """Features ranked by mean contribution on yesterday's traffic against the holdout (nDCG)."""
        from include.monitoring import attribution
        from include.monitoring.daily import decision_day
        from include.run_target import interval_end

        data = contract.load(params["dataset"])
        record = attribution.check(
            data, decision_day(interval_end(data_interval_end, dag_run.run_after), config.timezone)
        )
        attribution.alert(data, record, dag_run_id=dag_run.run_id)
        print(
            f"{record['day']}: {record['status']}, v{record['model_version']}, nDCG {record.get('ndcg')} "
            f"(limit {record['min_ndcg']}), Spearman {record.get('spearman')}"
        )
        return record

    @task
    @fail_fast
    def estimated_performance(landed: list[str], params=None, dag_run=None, data_interval_end=None) -> dict:
        """The AUC expected from yesterday's scores, before any outcome is known (CBPE)."""
        from include.monitoring import estimated
        from include.monitoring.daily import decision_day
        from include.run_target import interval_end

        data = contract.load(params["dataset"])
        record = estimated.estimate(
            data, decision_day(interval_end(data_interval_end, dag_run.run_after), config.timezone)
        )
        estimated.alert(data, record, dag_run_id=dag_run.run_id)
        print(
            f"{record['day']}: {record['status']}, v{record['model_version']}, estimated AUC "
            f"{record.get('estimated_auc')} on {record.get('rows')} applications, floor {record['auc_floor']}"
        )
        return record

    def _show(record: dict) -> None:
        print(f"{record['day']}: {record['status']}, alert {record.get('alert')}")
        for check in record.get("checks", []):
            print(
                f"  {check['metric']} by {check['attribute']}: {check['status']} {check.get('value')} "
                f"[{check.get('low')}, {check.get('high')}] limit {check['limit']}"
            )

    landed = land_capture()
    bias_decisions(landed)
    bias_outcomes(landed)
    attribution_drift(landed)
    estimated_performance(landed)


decision_monitoring()
