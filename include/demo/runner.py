"""Run a DAG run in this process, with the facts a run of that kind has in Airflow's records.

``dag.test()`` executes a whole run in one process (cheap: the demo's two trainings and dozens
of runs cost about a minute of CPU), but records every run as its own kind: run id
``manual__...``, triggered by ``test`` as the user ``dag_test``, started at its logical date
(so the UI shows hours of duration), task logs printed and not kept, and a run another run
triggered (the drift sensor's ``drift__...``) replaced by a new one. ``run`` executes the same
loop with the truth instead:

- a new run is a manual run triggered from the command line by the user running the demo
  (``getpass.getuser()``), so the promotion is audited as that user;
- a run that is already queued (a triggered retraining) is the one executed, keeping its id,
  conf, run type and triggering facts;
- start and end dates are the wall clock's, so durations are true;
- each task's log, its own log lines and what it printed, goes to the file Airflow's UI reads
  (``[logging] base_log_folder`` and ``log_filename_template``), as JSON lines.

The task execution itself is ``dag.test()``'s (``airflow.sdk.definitions.dag._run_task``).
"""

from __future__ import annotations

import contextlib
import getpass
import io
import json
import logging
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

_SINK: list = []  # the open log file of the task running now, if any


def _write(record: dict) -> None:
    if _SINK:
        _SINK[-1].write(json.dumps(record, default=str) + "\n")


def _console_keeps(level: str) -> bool:
    """The terminal shows the demo's own lines: a task's log stays in its file unless it is an
    error, and Airflow's own INFO chatter (run states, bundle syncs) is left out."""
    level = level.lower()
    if _SINK:
        return level in ("error", "critical", "exception")
    return level not in ("debug", "info", "msg", "notset")


def keep_task_logs(event_logger, method_name: str, event_dict: dict) -> dict:
    """structlog processor: a copy of every event of a running task into its log file."""
    import structlog

    if _SINK:
        _write(
            {
                "timestamp": datetime.now(UTC).isoformat(),
                "level": method_name,
                **{k: v for k, v in event_dict.items() if k != "timestamp"},
            }
        )
    if not _console_keeps(method_name):
        raise structlog.DropEvent
    return event_dict


class _TaskLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _write(
            {
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": record.getMessage(),
            }
        )


class _Printed(io.TextIOBase):
    """What a task prints, line by line into its log (a worker's supervisor captures it so)."""

    def __init__(self, logger: str):
        self.logger, self.pending = logger, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            _write(
                {
                    "timestamp": datetime.now(UTC).isoformat(),
                    "level": "info",
                    "logger": self.logger,
                    "event": line,
                }
            )
        return len(text)


@contextlib.contextmanager
def task_logs_captured():
    """Inside the block, task logs go to task log files and the console keeps the demo's lines."""
    import mlflow  # noqa: F401 - it sets up its own logger (own console handler, not propagated)
    import structlog

    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=processors[:-1] + [keep_task_logs, processors[-1]])
    console = _ConsoleFilter()
    loggers = [logging.getLogger(), logging.getLogger("mlflow")]
    saved = [(logger, logger.level, _TaskLogHandler(logging.INFO)) for logger in loggers]
    for logger, level, task_handler in saved:
        for handler in logger.handlers:
            handler.addFilter(console)
        logger.addHandler(task_handler)
        logger.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        with warnings.catch_warnings():
            # The in-process execution API runs on Starlette's TestClient, whose httpx use is
            # deprecated upstream: nothing to act on here.
            warnings.filterwarnings(
                "ignore", message="Using `httpx` with `starlette.testclient` is deprecated"
            )
            yield
    finally:
        structlog.configure(processors=processors)
        for logger, level, task_handler in saved:
            logger.removeHandler(task_handler)
            for handler in logger.handlers:
                handler.removeFilter(console)
            logger.setLevel(level)


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _console_keeps(record.levelname)


def _log_path(ti) -> Path:
    from airflow.configuration import conf
    from airflow.utils.helpers import parse_template_string, render_template

    _, template = parse_template_string(conf.get("logging", "log_filename_template"))
    name = render_template(template, {"ti": ti, "try_number": ti.try_number}, native=False)
    return Path(conf.get("logging", "base_log_folder")) / name


@contextlib.contextmanager
def _task_log(ti):
    path = _log_path(ti)
    path.parent.mkdir(parents=True, exist_ok=True)
    printed, complained = _Printed("task.stdout"), _Printed("task.stderr")
    with (
        open(path, "a", encoding="utf-8") as sink,
        contextlib.redirect_stdout(printed),
        contextlib.redirect_stderr(complained),
    ):
        _SINK.append(sink)
        try:
            yield
        finally:
            for stream in (printed, complained):
                if stream.pending:
                    stream.write("\n")
            _SINK.pop()


def _sync(dag) -> None:
    """Write the DAG (and the other DAGs of its folder) to the metadata DB, as dag.test() does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag_version import DagVersion
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        sync_bag_to_db(
            BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name),
            bundle.name,
            bundle.version,
        )
        if DagVersion.get_version(dag.dag_id):
            return


_SYNCED: set[str] = set()


def run(
    dag, *, run_after: datetime | None = None, conf: dict | None = None, queued_run_id: str | None = None
):
    """Execute one run of ``dag``: a new manual run of the interval its schedule closes at
    ``run_after``, or the queued run ``queued_run_id``. Returns the finished DagRun.

    A new run takes the data interval and the logical date (the interval's start) the scheduler
    gives the run due at ``run_after``, so it stands where the schedule's own run would: a later
    scheduled run or backfill of that interval finds it, instead of colliding with the next one."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    if dag.dag_id not in _SYNCED:  # the DAG files do not change while the demo runs
        _sync(dag)
        _SYNCED.add(dag.dag_id)
    session = settings.Session()
    now = datetime.now(UTC)
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    if queued_run_id is not None:
        (dr,) = DagRun.find(dag_id=dag.dag_id, run_id=queued_run_id, session=session)
        dr.state, dr.start_date = DagRunState.RUNNING, now  # what the scheduler does when it starts it
        dr.dag = scheduler_dag
        session.commit()
    else:
        interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=run_after)
        logical_date = interval.start
        dr = scheduler_dag.create_dagrun(
            run_id=DagRun.generate_run_id(
                run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=run_after
            ),
            logical_date=logical_date,
            data_interval=interval,
            run_after=run_after,
            conf=conf,
            run_type=DagRunType.MANUAL,
            state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.CLI,
            triggering_user_name=getpass.getuser(),
            start_date=now,
            session=session,
        )
        session.commit()
    while dr.state == DagRunState.RUNNING:  # dag.test()'s loop, without an executor
        session.expire_all()
        schedulable, _ = dr.update_state(session=session)
        for ti in schedulable:
            if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                ti.try_number += 1
            ti.state, ti.scheduled_dttm = TaskInstanceState.SCHEDULED, datetime.now(UTC)
        session.commit()
        scheduled = [
            ti for ti in dr.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED
        ]
        if not scheduled and dr.state == DagRunState.RUNNING:
            time.sleep(1)  # a sensor waiting for its reschedule
        for ti in scheduled:
            with _task_log(ti):
                try:
                    _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
                except Exception:
                    logging.getLogger(__name__).exception("task %s failed", ti.task_id)
    session.close()
    return dr


def print_to_console(*args, **kwargs) -> None:
    """print() to the terminal even while a task's stdout is redirected to its log."""
    print(*args, **kwargs, file=sys.__stdout__, flush=True)
