"""A live Airflow for integration tests: api-server, scheduler and dag-processor as subprocesses.

Each set-up lives in the test's tmp_path with its own AIRFLOW_HOME, SQLite database, ports
and MLOPS_LOCAL_DIR, never the pytest session's (tests/airflow_env.py). ``Api`` talks to the
public REST API with a token of the simple auth manager's generated ``admin`` user.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_env(tmp_path: Path, api_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
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
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
    })
    env.update(extra or {})
    return env


def airflow_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text[-lines:])


@contextmanager
def uninterrupted():
    """Ignore Ctrl-C for the block (stopping services): a second Ctrl-C during teardown would
    leave the rest running. Only the main thread can set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Services:
    """The Airflow processes of one test; every one is stopped by ``stop()``."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            # Own session (process group): the LocalExecutor workers and the log server die with it.
            self.procs[name] = subprocess.Popen(airflow_cmd(*args), cwd=ROOT, env=self.env, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        self.logs[name] = log

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{tail(self.logs[name])}")

    def stop(self, timeout: float = 20.0) -> None:
        with uninterrupted():
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
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
        return "\n".join(f"----- tail of {name}.log (exit code {self.procs[name].poll()}) -----\n{tail(log)}"
                         for name, log in self.logs.items())


class Api:
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

    def login(self, password_file: Path, username: str = "admin") -> None:
        password = json.loads(password_file.read_text())[username]
        self.token = self.request("POST", "/auth/token", {"username": username, "password": password})["access_token"]


def wait_for(what: str, probe, services: Services, timeout: float, interval: float = 1.0):
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


@contextmanager
def live_airflow(tmp_path: Path, extra_env: dict[str, str] | None = None):
    """Migrate a fresh database, start the three services, log in; yields (api, services, env).
    On failure the services' log tails are printed; the processes always stop."""
    api_port = free_port()
    env = airflow_env(tmp_path, api_port, extra_env)
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    api, services = Api(f"http://127.0.0.1:{api_port}"), Services(env, log_dir)
    try:
        migrate = subprocess.run(airflow_cmd("db", "migrate"), cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=180)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        for name in ("api-server", "scheduler", "dag-processor"):
            services.start(name, name)
        password_file = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        wait_for("the api-server", lambda: api.request("GET", "/api/v2/monitor/health")["metadatabase"],
                 services, STARTUP_TIMEOUT)
        wait_for("an API token", lambda: api.login(password_file) or api.token, services, STARTUP_TIMEOUT)
        api.password_file = password_file
        yield api, services, env
    except BaseException:
        print(services.report())
        raise
    finally:
        services.stop()
