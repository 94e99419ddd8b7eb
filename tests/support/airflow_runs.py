"""Running the package's DAGs in the test process (``dag.test()``, no scheduler) and reading the runs."""

from __future__ import annotations

from tests.support.paths import DAGS_DIR


def dag_from_file(dag_id: str):
    """The DAG ``dag_id`` parsed afresh from ``dags/<dag_id>.py``: settings read at parse time
    (environment, contracts) are this moment's, and no earlier ``dag.test(run_conf=...)`` has
    left its conf in the DAG object."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS_DIR / f"{dag_id}.py")).dags[dag_id]


def task_states(run) -> dict[str, str]:
    """task id -> state of a finished ``dag.test()`` run."""
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def finish_left_over_retraining_runs() -> None:
    """Runs that earlier tests triggered stay queued (dag.test has no scheduler); the sensor
    would rightly wait for them, so a test's database starts without active retraining."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        for run in session.query(DagRun).filter(
            DagRun.dag_id == "weekly_retraining", DagRun.state.in_([DagRunState.QUEUED, DagRunState.RUNNING])
        ):
            run.state = DagRunState.FAILED
