"""TriggerDagRunOperator whose ``run_after`` is templated, so a triggered run keeps the data
interval of the window that caused it.

Airflow 3.3 infers a triggered run's data interval from ``run_after``, and the standard
operator sends none unless given a fixed value (its ``run_after`` is not a template field), so
the server uses the wall clock. A retraining triggered by a backfilled monitoring hour would
then train on the data up to today instead of up to that hour.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator


class WindowTriggerDagRunOperator(TriggerDagRunOperator):
    template_fields = (*TriggerDagRunOperator.template_fields, "run_after")

    # A run triggered without a logical date has no data interval: its run_after stands in
    # (include.run_target.interval_end).
    def __init__(self, *, at: str = "{{ data_interval_end or dag_run.run_after }}", **kwargs):
        # The same moment for both: the run is due at, and its interval ends at, the window's end.
        super().__init__(logical_date=at, run_after=at, **kwargs)
