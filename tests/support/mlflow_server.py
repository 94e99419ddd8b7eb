"""An MLflow tracking server with MLflow's basic-auth app, on loopback, for tests.

As in the compose stack: every request needs a user; ``default_permission = READ``, so a user
may change only what it created or was granted. The package's service user reaches it through
the Airflow connection ``mlflow_default`` (``connection_env``), never through the image.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Services, free_port, http_ok

ADMIN = "admin"
SERVICE_USER = "airflow_svc"


@dataclass(frozen=True)
class MlflowAuthServer:
    uri: str
    admin_password: str
    service_password: str

    def admin_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": self.admin_password}

    def connection_env(self, conn_id: str = "mlflow_default") -> dict[str, str]:
        """The Airflow connection that gives the package the service user's credentials."""
        value = json.dumps({"conn_type": "http", "login": SERVICE_USER, "password": self.service_password})
        return {f"AIRFLOW_CONN_{conn_id.upper()}": value}

    def wait_ready(self, services: Services, timeout: float = 90.0) -> MlflowAuthServer:
        """Wait until the server answers, then create the package's service user."""
        services.wait_for("the MLflow server", lambda: http_ok(f"{self.uri}/health"), timeout, interval=0.5)
        self.create_user(SERVICE_USER, self.service_password)
        return self

    def create_user(self, username: str, password: str) -> None:
        """A user with the default permission (READ) on everything others created."""
        from mlflow.server.auth.client import AuthServiceClient

        from include.settings import environment_kept

        with environment_kept(*self.admin_env()):
            os.environ.update(self.admin_env())
            AuthServiceClient(self.uri).create_user(username, password)


def start_mlflow_auth_server(
    services: Services,
    directory: Path,
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    env: dict[str, str] | None = None,
    tier: int = 0,
) -> MlflowAuthServer:
    """Start the server as the service ``mlflow`` of ``services`` (its stores under ``directory``
    unless given); ``wait_ready`` waits for it and creates the package's service user."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_password = secrets.token_urlsafe(16)
    config = directory / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{directory / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # As in docker/mlflow-basic-auth.ini: without it every request pays a password hash, which on
        # two busy cores made a retraining's hundreds of tracking calls take minutes longer.
        "auth_cache_ttl_seconds = 60\n"
    )
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    services.start(
        "mlflow",
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            backend_store_uri or f"sqlite:///{directory / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            artifacts_destination or (directory / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env={
            **(dict(os.environ) if env is None else env),
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        },
        tier=tier,
    )
    return MlflowAuthServer(uri, admin_password, secrets.token_urlsafe(16))
