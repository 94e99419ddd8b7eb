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
  Setting the task to failed."), although its partition was written. The DAG therefore
  runs one night at a time (max_active_runs=1); the test still lets the first scheduled run
  finish before the backfill, as on a deployment that was already running nightly.
* ``airflow backfill create`` can fail with ``sqlite3.OperationalError: database is
  locked`` when another component commits while it inserts the runs. Airflow then deletes
  the partial backfill, so the command is retried; it is created while the DAG is paused,
  so none of the partial runs can have started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "nightly_ingestion"
FEEDS = ("credit_applications", "credit_applications_labels")
ROWS_PER_DAY = 400
# --from-date/--to-date bound when runs are due (run_after), both inclusive, midnight when no time is
# given: the runs due at 02:00 on 2026-03-02, -03 and -04 ingest 2026-03-01 .. 2026-03-03
# (--to-date 2026-03-04 would stop at the run due 2026-03-03 02:00).
FROM_DATE, TO_DATE = "2026-03-02", "2026-03-05"
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(3)]
TERMINAL = {"success", "failed"}
STARTUP_TIMEOUT = 90
RUNS_TIMEOUT = 150


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _airflow_env(tmp_path: Path, api_port: int) -> dict[str, str]:
    """os.environ plus this test's own Airflow home, database, storage and ports."""
    home = tmp_path / "airflow"
    home.mkdir()
    base_url = f"http://127.0.0.1:{api_port}"
    python_path = [str(ROOT), str(ROOT / "plugins")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join(python_path),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        # The scheduler serves task logs on this port (default 8793): keep parallel set-ups apart.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
        "MLOPS_SIMULATOR_ROWS_PER_DAY": str(ROWS_PER_DAY),
    })
    return env


def _airflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text[-lines:])


class _Services:
    """The Airflow processes of one test; every one is stopped by ``stop()``."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            # Own session (process group): the LocalExecutor workers and the log server die with it.
            self.procs[name] = subprocess.Popen(_airflow(*args), cwd=ROOT, env=self.env, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        self.logs[name] = log

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{_tail(self.logs[name])}")

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (the process itself after the timeout, or a worker
            # it left behind) is killed; the group id is the pid of the process we started.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=10)

    def report(self) -> str:
        return "\n".join(f"----- tail of {name}.log (exit code {self.procs[name].poll()}) -----\n{_tail(log)}"
                         for name, log in self.logs.items())


class _Api:
    def __init__(self, base_url: str):
        self.base_url, self.token = base_url, None

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def login(self, password_file: Path) -> None:
        password = json.loads(password_file.read_text())["admin"]
        self.token = self.request("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]


def _wait_for(what: str, probe, services: _Services, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        services.check_alive()
        try:
            result = probe()
        except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:  # not up yet
            result, last_error = None, exc
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last error: {last_error!r})")


def _backfill_create(env: dict[str, str], log_dir: Path, attempts: int = 4) -> None:
    args = _airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", FROM_DATE, "--to-date", TO_DATE)
    for attempt in range(1, attempts + 1):
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        (log_dir / f"backfill-create-{attempt}.log").write_text(done.stdout + done.stderr)
        if done.returncode == 0:
            return
        if "database is locked" not in done.stdout + done.stderr or attempt == attempts:
            raise AssertionError(f"airflow backfill create failed ({done.returncode}):\n"
                                 f"{(done.stdout + done.stderr)[-4000:]}")
        time.sleep(2)


def _report(storage: Path, zone: str, feed: str, day: date) -> dict:
    return json.loads((storage / zone / feed / f"dt={day.isoformat()}" / "_validation_report.json").read_text())


@pytest.mark.integration
def test_backfill_create_runs_three_nights_on_a_live_airflow(tmp_path):
    api_port = _free_port()
    env = _airflow_env(tmp_path, api_port)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    api = _Api(f"http://127.0.0.1:{api_port}")
    services = _Services(env, log_dir)
    started = time.monotonic()
    try:
        migrate = subprocess.run(_airflow("db", "migrate"), cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=180)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]

        services.start("api-server", "api-server")
        services.start("scheduler", "scheduler")
        services.start("dag-processor", "dag-processor")

        password_file = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        _wait_for("the api-server", lambda: api.request("GET", "/api/v2/monitor/health")["metadatabase"],
                  services, STARTUP_TIMEOUT)
        _wait_for("an API token", lambda: api.login(password_file) or api.token, services, STARTUP_TIMEOUT)
        dag = _wait_for(f"{DAG_ID} to be parsed and serialized", lambda: api.request("GET", f"/api/v2/dags/{DAG_ID}"),
                        services, STARTUP_TIMEOUT)
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
        first = _wait_for("the first scheduled run", runs_finished("scheduled", 1), services, RUNS_TIMEOUT)
        assert [r["state"] for r in first] == ["success"], first

        # 2. Create the backfill while the DAG is paused (a partial backfill removed after "database
        #    is locked" never starts a run), then unpause.
        api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": True})
        _backfill_create(env, log_dir)
        created = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        assert sorted(r["logical_date"][:10] for r in created) == [d.isoformat() for d in DAYS], created
        assert {r["state"] for r in created} == {"queued"}, created
        api.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

        runs = _wait_for("every backfill run to finish", runs_finished("backfill", len(DAYS)), services, RUNS_TIMEOUT,
                         interval=2.0)
        elapsed = time.monotonic() - started

        states = {r["dag_run_id"]: r["state"] for r in runs}
        assert set(states.values()) == {"success"}, states
        backfill_runs = sorted((r for r in runs if r["run_type"] == "backfill"), key=lambda r: r["logical_date"])
        # The run due at 02:00 on D+1 has the data interval [02:00 D, 02:00 D+1) and ingests day D.
        assert [r["logical_date"][:10] for r in backfill_runs] == [d.isoformat() for d in DAYS]
        backfills = api.request("GET", f"/api/v2/backfills?dag_id={DAG_ID}")["backfills"]
        assert len(backfills) == 1 and backfills[0]["from_date"].startswith(FROM_DATE), backfills

        storage = tmp_path / "local" / "storage"
        for day in DAYS:
            for feed in FEEDS:
                report = _report(storage, "curated", feed, day)
                counts = report["counts"]
                assert (report["partition"], report["status"], report["feed"]) == (day.isoformat(), "passed", feed)
                assert counts["landed"] == counts["curated"] + counts["quarantined"], (feed, day, counts)
                for uri in report["curated_files"] + report["quarantine_files"]:
                    assert Path(uri.removeprefix("file://")).is_file(), uri
                if counts["quarantined"]:
                    assert _report(storage, "quarantine", feed, day)["counts"] == counts
            assert _report(storage, "curated", "credit_applications", day)["counts"]["landed"] == ROWS_PER_DAY
        print(f"{len(runs)} runs ({len(backfill_runs)} backfill) succeeded {elapsed:.0f} s after the start")
    except BaseException:
        print(services.report())
        for extra in sorted(log_dir.glob("backfill-create-*.log")):
            print(f"----- {extra.name} -----\n{_tail(extra, 30)}")
        raise
    finally:
        services.stop()
