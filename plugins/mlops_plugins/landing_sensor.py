"""Sensor that waits for a landing partition and, on timeout, names the path it waited for."""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout

from mlops_plugins.failures import permanent_errors_fail_now


class LandingPartitionSensor(BaseSensorOperator):
    """Succeeds when every feed of the run's dataset has at least one data file landed
    for the run's date. ``targets`` is the list of per-feed targets (an XComArg)."""

    template_fields: Sequence[str] = ("targets",)
    ui_color = "#e8f4fd"

    def __init__(self, *, targets, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.targets = targets

    def _missing(self) -> list[str]:
        from include import storage
        from include.ingestion.reader import is_marker
        from include.run_target import RunTarget

        missing = []
        for doc in self.targets:
            target = RunTarget.from_dict(doc)
            directory = storage.partition("landing", doc["feed"], target.day)
            data = [f for f in storage.list_tree(directory) if not is_marker(f.relative)]
            if not data:
                missing.append(storage.describe(directory))
            else:
                self.log.info(
                    "landed in %s: %s", storage.describe(directory), ", ".join(f.relative for f in data)
                )
        return missing

    def poke(self, context) -> bool:
        with permanent_errors_fail_now():
            missing = self._missing()
        if missing:
            self.log.info("waiting for data files in: %s", ", ".join(missing))
        return not missing

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowSensorTimeout as exc:
            raise AirflowSensorTimeout(
                f"no data landed in {', '.join(self._missing())} within {self.timeout:g} s "
                f"(MLOPS_LANDING_TIMEOUT_SECONDS); the producer must write CSV or Parquet files there. ({exc})"
            ) from exc
