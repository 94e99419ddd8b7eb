"""A live Airflow for integration tests: api-server, scheduler and dag-processor as subprocesses.

Each set-up lives in the test's tmp_path with its own AIRFLOW_HOME, SQLite database, ports
and MLOPS_LOCAL_DIR, never the pytest session's (tests/airflow_env.py). ``Api`` talks to the
public REST API with a token of the simple auth manager's generated ``admin`` user, or, with
the production auth manager (``FAB_ENV``), of users ``live_airflow`` creates with the team's roles
(docker/airflow-roles.json, imported as airflow-init does in the compose stack).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import PROJECT_ROOT
from tests.support.processes import Services, free_port, run_logged

STARTUP_TIMEOUT = 90
FAB_ENV = {
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
}
ROLES_FILE = PROJECT_ROOT / "docker" / "airflow-roles.json"
# Users of FAB: their roles (the first is the one they are created with)
_CREATE_FAB_USERS = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as builder:
    for name, (password, roles) in json.load(sys.stdin).items():
        made = builder.sm.add_user(
            username=name, first_name=name, last_name="test", email=f"{name}@example.org",
            role=[builder.sm.find_role(r) for r in roles], password=password,
        )
        assert made, f"FAB did not create the user {name}"
"""


def airflow_env(tmp_path: Path, api_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus this test's own Airflow home, database, storage and ports."""
    home = tmp_path / "airflow"
    home.mkdir()
    base_url = f"http://127.0.0.1:{api_port}"
    python_path = [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins")] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(python_path),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
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
        }
    )
    env.update(extra or {})
    return env


def airflow_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def generated_passwords_file(env: dict[str, str]) -> Path:
    """Where the simple auth manager writes the passwords it generated for its users."""
    return Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"


def setup_fab(env: dict[str, str], log_dir: Path, users: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """What airflow-init does for FAB in the compose stack (DAG permissions, the team's roles),
    then ``users`` with their roles; returns their (generated) passwords."""
    for args in (
        ("dags", "reserialize"),
        ("sync-perm", "--include-dags"),
        ("roles", "import", str(ROLES_FILE)),
    ):
        run_logged(airflow_cmd(*args), log_dir / f"airflow-{args[0]}.log", env=env, timeout=300)
    passwords = {name: secrets.token_urlsafe(12) for name in users}
    made = subprocess.run(
        [sys.executable, "-c", _CREATE_FAB_USERS],
        input=json.dumps({name: (passwords[name], list(roles)) for name, roles in users.items()}),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    return passwords


class Api:
    def __init__(self, base_url: str, password_file: Path, passwords: dict[str, str] | None = None):
        self.base_url, self.password_file, self.token = base_url, password_file, None
        self.passwords = passwords

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def login(self, username: str = "admin") -> None:
        passwords = self.passwords or json.loads(self.password_file.read_text())
        password = passwords[username]
        answer = self.request("POST", "/auth/token", {"username": username, "password": password})
        self.token = answer["access_token"]


@contextmanager
def live_airflow(
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    fab_users: dict[str, tuple[str, ...]] | None = None,
):
    """Migrate a fresh database, start the three services, log in; yields (api, services, env).
    With ``fab_users`` (user -> roles) Airflow runs the FAB auth manager with those users, and
    ``api`` logs in as the first. On failure the services' log tails are printed; the processes
    always stop."""
    api_port = free_port()
    env = airflow_env(tmp_path, api_port, {**(FAB_ENV if fab_users else {}), **(extra_env or {})})
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    api, services = Api(f"http://127.0.0.1:{api_port}", generated_passwords_file(env)), Services(log_dir)
    try:
        run_logged(airflow_cmd("db", "migrate"), log_dir / "airflow-db-migrate.log", env=env, timeout=180)
        if fab_users:
            api.passwords = setup_fab(env, log_dir, fab_users)
        for name in ("api-server", "scheduler", "dag-processor"):
            services.start(name, airflow_cmd(name), env=env)
        health = "/api/v2/monitor/health"
        services.wait_for(
            "the api-server", lambda: api.request("GET", health)["metadatabase"], STARTUP_TIMEOUT
        )
        first = next(iter(fab_users)) if fab_users else "admin"
        services.wait_for("an API token", lambda: api.login(first) or api.token, STARTUP_TIMEOUT)
        yield api, services, env
    except BaseException:
        print(services.report())
        raise
    finally:
        services.stop(timeout=20)
