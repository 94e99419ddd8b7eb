"""Sensor that decides whether drift is sustained enough to start a retraining run.

It succeeds (and hands the retraining conf to the next task) when the last k windows all
drifted by the contract's rule, the latest has no data-quality incident and no drift-triggered
retraining happened within the cooldown (``include.monitoring.sustained``); the conf is the
monitor's retraining request (``include.training.request.monitor_request``). It skips, saying
why, when that is not the case.
While a retraining run is queued or running it waits (reschedule mode: no worker slot held)
and starts the next one only after it; its timeout is a skip, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSkipException

from mlops_plugins.failures import permanent_errors_fail_now


class SustainedDriftSensor(BaseSensorOperator):
    template_fields: Sequence[str] = ("dataset", "window_end")
    ui_color = "#fdf0e8"

    def __init__(
        self, *, dataset: str, window_end: str, retrain_dag_id: str, window_days: int = 28, **kwargs
    ):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("soft_fail", True)
        super().__init__(**kwargs)
        self.dataset, self.window_end = dataset, window_end
        self.retrain_dag_id, self.window_days = retrain_dag_id, window_days

    def poke(self, context) -> PokeReturnValue | bool:
        from include import contract
        from include.monitoring.sustained import decide
        from include.training.request import monitor_request

        end = datetime.fromisoformat(self.window_end)
        with permanent_errors_fail_now():
            data = contract.load(self.dataset)
            decision = decide(data, end)
        if not decision.retrain:
            raise AirflowSkipException(f"no retraining: {decision.reason}")
        active = (
            0
            if decision.already_triggered
            else context["ti"].get_dr_count(dag_id=self.retrain_dag_id, states=["queued", "running"])
        )
        if active:
            self.log.info(
                "drift is sustained, but %s run(s) of %s are active: waiting for them",
                active,
                self.retrain_dag_id,
            )
            return False
        self.log.info("drift sustained: %s", decision.reason)
        return PokeReturnValue(
            is_done=True,
            xcom_value=monitor_request(
                data,
                kind="drift",
                reason=f"drift: {decision.reason}",
                window_days=self.window_days,
                evidence={
                    "window_end": end.isoformat(),
                    "windows": decision.windows,
                    "drifted_features": decision.drifted_features,
                    "reports": decision.reports,
                },
            ),
        )
