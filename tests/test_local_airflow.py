"""`make airflow PORT=...` as a newcomer runs it beside another Airflow: the UI and the execution API
move together (a task runs to success), the banner says where to log in, and SIGTERM or Ctrl-C
stops every process it started, counted."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.processes import free_port

READY_SECONDS = 420


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLOPS_", "MLFLOW_"))}
    home = tmp_path / "airflow"
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "MLOPS_LANDING_POKE_SECONDS": "1",
        "MLOPS_SIMULATOR_ROWS_PER_DAY": "400",
    }


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``make airflow PORT=port`` in a process group of its own, as a terminal runs it."""
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            ["make", "-s", "airflow", f"PORT={port}"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_banner(make: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text()
        if "Ctrl-C stops everything" in text:
            return text
        assert make.poll() is None, f"make airflow exited with {make.returncode}:\n{text[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"no banner within {READY_SECONDS} s:\n{log.read_text()[-3000:]}")


def _tree(make: subprocess.Popen) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(make.pid).children(recursive=True)]


def _alive(pids: list[int]) -> list[str]:
    import psutil

    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def _stopped(make: subprocess.Popen, pids: list[int], log: Path) -> None:
    make.wait(timeout=120)
    assert _alive(pids) == [], log.read_text()[-2000:]
    assert '"left": 0' in log.read_text(), log.read_text()[-2000:]


def _run_a_dag(env: dict[str, str]) -> str:
    """nightly_ingestion in dry run on the breast cancer table: five tasks through the execution API."""
    airflow = str(PROJECT_ROOT / ".venv" / "bin" / "airflow")
    run_env = {
        **env,
        "PYTHONPATH": f"{PROJECT_ROOT}:{PROJECT_ROOT / 'plugins'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    for command in (
        ["dags", "reserialize"],
        ["dags", "unpause", "nightly_ingestion"],
        [
            "dags",
            "trigger",
            "nightly_ingestion",
            "--conf",
            '{"dataset": "breast_cancer", "date": "2026-01-05", "dry_run": true}',
        ],
    ):
        done = subprocess.run([airflow, *command], env=run_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = subprocess.run(
            [airflow, "dags", "list-runs", "nightly_ingestion", "-o", "plain"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        state = re.search(r"manual__\S+\s+(\w+)", runs)
        if state and state.group(1) in ("success", "failed"):
            return state.group(1)
        time.sleep(3)
    raise AssertionError(f"the run did not finish:\n{runs}")


@pytest.mark.integration
def test_make_airflow_on_another_port_runs_tasks_and_stops_everything(tmp_path):
    env, port = _environment(tmp_path), free_port()
    log = tmp_path / "make-airflow.log"
    make = _start(env, port, log)
    try:
        banner = _wait_for_banner(make, log)
        assert f"http://localhost:{port}" in banner and "users: admin, reviewer" in banner
        assert "simple_auth_manager_passwords.json.generated" in banner
        assert _run_a_dag(env) == "success"  # tasks reach the execution API on the moved port
        pids = _tree(make)
        assert len(pids) >= 5, pids  # the launcher, four components and their workers
        os.kill(make.pid, signal.SIGTERM)  # what a service manager sends
        _stopped(make, pids, log)

        # Ctrl-C in the terminal: SIGINT to the foreground process group (make and the launcher).
        log = tmp_path / "make-airflow-again.log"
        make = _start(env, port, log)
        _wait_for_banner(make, log)
        pids = _tree(make)
        os.killpg(make.pid, signal.SIGINT)
        _stopped(make, pids, log)
    finally:
        if make.poll() is None:  # a failed assertion: stop it the way a user would, then make sure
            pids = _tree(make)
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(timeout=60)
            finally:
                for pid in [make.pid, *pids]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
