"""Sensor that waits for a landing partition and, on timeout, names the path it waited for.

A partition counts as landed when every feed has a data file and the producer is done with
it: each data file unmodified for ``MLOPS_LANDING_QUIET_SECONDS`` (stateless: now against the
file's mtime, on S3 its LastModified), or, when the feed's contract asks for one
(``batch.success_marker``), the producer's ``_SUCCESS`` marker in the partition.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout

from mlops_plugins.failures import permanent_errors_fail_now

SUCCESS_MARKER = "_SUCCESS"


class LandingPartitionSensor(BaseSensorOperator):
    """Succeeds when every feed of the run's dataset has its data files landed, and settled,
    for the run's date. ``targets`` is the list of per-feed targets (an XComArg); ``whole``
    the URIs written whole in this run (the simulator's atomic writes), which need no quiet period."""

    template_fields: Sequence[str] = ("targets", "whole")
    ui_color = "#e8f4fd"

    def __init__(self, *, targets, whole=None, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.targets = targets
        self.whole = whole

    def _pending(self) -> tuple[list[str], list[str]]:
        """The partitions with no data file, and those whose files are settling or lack their marker."""
        from include import contract, settings, storage
        from include.ingestion.reader import is_marker
        from include.run_target import RunTarget

        quiet = settings.get().landing_quiet_seconds
        whole = set(self.whole or [])
        missing, pending = [], []
        for doc in self.targets:
            target = RunTarget.from_dict(doc)
            directory = storage.partition("landing", doc["feed"], target.day)
            where = storage.describe(directory)
            listed = storage.list_tree(directory)
            data = [f for f in listed if not is_marker(f.relative)]
            if not data:
                missing.append(where)
                continue
            names = ", ".join(f.relative for f in data)
            if contract.load(target.dataset).feed(doc["feed"]).limits.success_marker:
                if not any(f.relative == SUCCESS_MARKER for f in listed):
                    self.log.info(
                        "landed in %s: %s; waiting for the producer's %s", where, names, SUCCESS_MARKER
                    )
                    pending.append(f"{where} (no {SUCCESS_MARKER} marker, which the contract asks for)")
                    continue
            elif quiet:
                now = time.time()
                settling = []
                for f in data:
                    if f.refused or storage.describe(f.path) in whole:
                        continue  # refused files are reported by the ingestion; whole ones are done
                    age = now - storage.file_state(f.path).modified
                    if age < quiet:
                        settling.append(f"{f.relative} (modified {max(age, 0):.0f} s ago)")
                if settling:
                    self.log.info(
                        "still settling in %s (MLOPS_LANDING_QUIET_SECONDS=%d): %s",
                        where,
                        quiet,
                        ", ".join(settling),
                    )
                    pending.append(f"{where}: {', '.join(settling)}, within {quiet} s")
                    continue
            self.log.info("landed in %s: %s", where, names)
        return missing, pending

    def poke(self, context) -> bool:
        with permanent_errors_fail_now():
            missing, pending = self._pending()
        if missing:
            self.log.info("waiting for data files in: %s", ", ".join(missing))
        if pending:
            self.log.info("waiting for the producer to finish: %s", ", ".join(pending))
        return not missing and not pending

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowSensorTimeout as exc:
            missing, pending = self._pending()
            said = []
            if missing:
                said.append(f"no data landed in {', '.join(missing)}")
            if pending:
                said.append(f"not finished: {', '.join(pending)}")
            raise AirflowSensorTimeout(
                f"{'; '.join(said)} within {self.timeout:g} s (MLOPS_LANDING_TIMEOUT_SECONDS); the producer "
                f"must write CSV or Parquet files there. ({exc})"
            ) from exc
