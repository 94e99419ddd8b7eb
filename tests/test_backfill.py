"""`airflow backfill create` against a live Airflow 3 on the embedded defaults.

Starts the api-server (which also serves the task execution API), the scheduler
(LocalExecutor) and the dag-processor as subprocesses on a SQLite metadata database of
their own, backfills three nights of ``nightly_ingestion`` and checks the runs and the
curated partitions. Everything lives in the test's tmp_path: the subprocesses get their
own AIRFLOW_HOME, database and MLOPS_LOCAL_DIR, not the pytest session's (tests/airflow_env.py).

What a live set-up needs (found when this test was written, Airflow 3.3.2):

* Backfill runs stay queued while the DAG is paused, and DAGs are paused at creation.
  Unpausing also makes the scheduler start the latest scheduled run (``catchup=False``).
* On a fresh database, ingest_feed tasks of parallel runs race to create the asset that
  their ``curated_partitions`` alias event resolves to: the execution API logs
  "Dynamically creating AssetModel", the loser hits ``UNIQUE constraint failed: asset.name,
  asset.uri`` and the API sets that task FAILED ("Error updating Task Instance state.
  Setting the task to failed."), although its partition was written. Scheduled runs go one
  night at a time (the DAG's max_active_runs=1), but a backfill has its own limit (default
  10), so docs/operations.md's command passes ``--max-active-runs 1`` and so does this test; it still
  lets the first scheduled run finish before the backfill, as on a deployment that was
  already running nightly.
* ``airflow backfill create`` can fail with ``sqlite3.OperationalError: database is
  locked`` when another component commits while it inserts the runs. Airflow then deletes
  the partial backfill, so the command is retried; it is created while the DAG is paused,
  so none of the partial runs can have started.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.live_airflow import STARTUP_TIMEOUT, airflow_cmd, live_airflow
from tests.support.paths import PROJECT_ROOT
from tests.support.processes import tail

DAG_ID = "nightly_ingestion"
FEEDS = ("credit_applications", "credit_applications_labels")
ROWS_PER_DAY = 400
# --from-date/--to-date bound when runs are due (run_after), both inclusive, midnight when no time is
# given: the runs due at 02:00 on 2026-03-02, -03 and -04 ingest 2026-03-01 .. 2026-03-03
# (--to-date 2026-03-04 would stop at the run due 2026-03-03 02:00).
FROM_DATE, TO_DATE = "2026-03-02", "2026-03-05"
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(3)]
TERMINAL = {"success", "failed"}
RUNS_TIMEOUT = 150


def _backfill_create(env: dict[str, str], log_dir: Path, attempts: int = 4) -> None:
    args = airflow_cmd(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        FROM_DATE,
        "--to-date",
        TO_DATE,
        "--max-active-runs",
        "1",
    )
    for attempt in range(1, attempts + 1):
        done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
        (log_dir / f"backfill-create-{attempt}.log").write_text(done.stdout + done.stderr)
        if done.returncode == 0:
            return
        if "database is locked" not in done.stdout + done.stderr or attempt == attempts:
            raise AssertionError(
                f"airflow backfill create failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}"
            )
        time.sleep(2)


def _report(storage: Path, zone: str, feed: str, day: date) -> dict:
    return json.loads(
        (storage / zone / feed / f"dt={day.isoformat()}" / "_validation_report.json").read_text()
    )


@pytest.mark.integration
def test_backfill_create_runs_three_nights_on_a_live_airflow(tmp_path):
    started = time.monotonic()
    log_dir = tmp_path / "logs"
    with live_airflow(tmp_path, {"MLOPS_SIMULATOR_ROWS_PER_DAY": str(ROWS_PER_DAY)}) as (api, services, env):
        try:
            _backfill_nights(api, services, env, log_dir, started, tmp_path)
        except BaseException:
            for extra in sorted(log_dir.glob("backfill-create-*.log")):
                print(f"----- {extra.name} -----\n{tail(extra, 30)}")
            raise


def _backfill_nights(api, services, env, log_dir, started, tmp_path):
    dag = services.wait_for(
        f"{DAG_ID} to be parsed and serialized",
        lambda: api.request("GET", f"/api/v2/dags/{DAG_ID}"),
        STARTUP_TIMEOUT,
    )
    assert dag["is_paused"] is True  # dags_are_paused_at_creation: no run starts before we unpause

    def runs_finished(run_type: str | None, count: int):
        def probe():
            runs = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]
            of_type = [r for r in runs if run_type is None or r["run_type"] == run_type]
            return runs if len(of_type) >= count and all(r["state"] in TERMINAL for r in runs) else None

        return probe

    # 1. Unpausing starts the latest scheduled run (catchup=False). Its ingest_feed tasks create
    #    the curated_<feed> assets; letting it finish first keeps the backfill's parallel runs
    #    out of Airflow's race on creating an alias-resolved asset (module docstring).
    api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    first = services.wait_for("the first scheduled run", runs_finished("scheduled", 1), RUNS_TIMEOUT)
    assert [r["state"] for r in first] == ["success"], first

    # 2. Create the backfill while the DAG is paused (a partial backfill removed after "database
    #    is locked" never starts a run), then unpause.
    api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": True})
    _backfill_create(env, log_dir)
    created = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
    assert sorted(r["logical_date"][:10] for r in created) == [d.isoformat() for d in DAYS], created
    assert {r["state"] for r in created} == {"queued"}, created
    api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

    runs = services.wait_for(
        "every backfill run to finish", runs_finished("backfill", len(DAYS)), RUNS_TIMEOUT, interval=2.0
    )
    elapsed = time.monotonic() - started

    states = {r["dag_run_id"]: r["state"] for r in runs}
    assert set(states.values()) == {"success"}, states
    backfill_runs = sorted((r for r in runs if r["run_type"] == "backfill"), key=lambda r: r["logical_date"])
    # The run due at 02:00 on D+1 has the data interval [02:00 D, 02:00 D+1) and ingests day D.
    assert [r["logical_date"][:10] for r in backfill_runs] == [d.isoformat() for d in DAYS]
    backfills = api.request("GET", f"/api/v2/backfills?dag_id={DAG_ID}")["backfills"]
    assert len(backfills) == 1 and backfills[0]["from_date"].startswith(FROM_DATE), backfills
    assert backfills[0]["max_active_runs"] == 1, backfills
    for earlier, later in zip(backfill_runs, backfill_runs[1:], strict=False):  # one night at a time
        assert earlier["end_date"] <= later["start_date"], (earlier, later)

    storage = tmp_path / "local" / "storage"
    for day in DAYS:
        for feed in FEEDS:
            report = _report(storage, "curated", feed, day)
            counts = report["counts"]
            assert (report["partition"], report["status"], report["feed"]) == (
                day.isoformat(),
                "passed",
                feed,
            )
            assert counts["landed"] == counts["curated"] + counts["quarantined"], (feed, day, counts)
            for uri in report["curated_files"] + report["quarantine_files"]:
                assert Path(uri.removeprefix("file://")).is_file(), uri
            if counts["quarantined"]:
                assert _report(storage, "quarantine", feed, day)["counts"] == counts
        assert _report(storage, "curated", "credit_applications", day)["counts"]["landed"] == ROWS_PER_DAY
    print(f"{len(runs)} runs ({len(backfill_runs)} backfill) succeeded {elapsed:.0f} s after the start")
