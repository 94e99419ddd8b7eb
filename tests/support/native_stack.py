"""The team's production topology, run natively for integration tests.

PostgreSQL (Airflow's metadata DB, Celery's result backend, MLflow's backend store), Redis
(Celery's broker), a moto server (S3 for storage and MLflow artifacts, SNS + SQS for
notifications), an MLflow tracking server with MLflow's basic-auth app (the package signs in as a
service user through the ``mlflow_default`` Airflow connection), and Airflow's api-server,
scheduler, dag-processor, triggerer and one Celery worker, signing people in with the FAB auth
manager (``USERS``, with the team's roles). Every service is a subprocess on a free loopback port,
in a session (process group) of its own (``Services``, tests/support/processes.py);
``running_stack()`` stops them all in ``finally``, also on Ctrl-C, even a second one (``bash
tests/interrupt_native_stack.sh`` checks that), and prints the tails of their logs when the
block fails. Logs stay under ``<tmp_path>/logs``.

MLflow serves the artifacts itself (``--serve-artifacts --artifacts-destination s3://...``),
and the package's experiments point at ``mlflow-artifacts:/`` (MLOPS_MLFLOW_ARTIFACT_ROOT): the
Airflow workers reach artifacts through the tracking server over HTTP and hold no S3
credentials for MLflow. With ``--default-artifact-root s3://...`` instead, every worker would
need AWS credentials and MLFLOW_S3_ENDPOINT_URL in its environment, a second way into S3 next
to the Airflow connection. Only the MLflow server has those here.

A test module uses a running stack through the ``native_stack`` fixture (tests/conftest.py,
module scope); to add variables to every service's environment, the module defines its own
``native_stack_env`` fixture.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.live_airflow import (
    FAB_ENV,
    Api,
    airflow_cmd,
    airflow_env,
    generated_passwords_file,
    setup_fab,
)
from tests.support.mlflow_server import start_mlflow_auth_server
from tests.support.moto import AWS_KEYS, aws_client, aws_connection, start_moto, subscribed_queue
from tests.support.processes import Services, free_port, run_logged, uninterrupted

STARTUP_TIMEOUT = 180  # 2 shared cores: five Airflow processes import at the same time
DEBIAN_PACKAGES = "postgresql redis-server"
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker")
# Signed in by the production auth manager (FAB) with the team's roles (docker/airflow-roles.json)
USERS = {
    "admin": ("Admin",),
    "risk_officer": ("Viewer", "RiskOfficer"),
    "viewer": ("Viewer",),
    "outsider": ("Public",),  # signs in, may read no DAG
}
# Variables of the pytest session (tests/airflow_env.py) or the shell that would change what the
# services do; the stack sets its own.
INHERITED_PREFIXES = ("MLOPS_", "MLFLOW_", "AWS_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
# Services.start tiers: stop() ends Airflow first (it holds connections to every store), then
# Redis, moto and MLflow, Postgres last.
STORES_TIER, SERVERS_TIER, AIRFLOW_TIER = 0, 1, 2


# --------------------------------------------------------------------------- system packages


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found and (found[-1].parent / "postgres").exists() else None


def require_system_packages() -> Path:
    """Fail (never skip) when the Debian packages the stack needs are missing; returns postgres' bin."""
    missing = []
    pg = postgres_bin()
    if pg is None:
        missing.append("postgresql (/usr/lib/postgresql/<version>/bin/initdb)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        missing.append("the 'postgres' user (created by the postgresql package)")
    if missing:
        pytest.fail(
            f"the native stack needs {', '.join(missing)}: run `make system-packages` as root "
            f"(apt-get install -y {DEBIAN_PACKAGES})",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail(
            "the native stack runs initdb and postgres as the 'postgres' user, which needs root",
            pytrace=False,
        )
    return pg


# --------------------------------------------------------------------------- probes


def _redis_pong(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


# --------------------------------------------------------------------------- the stack


@dataclass
class NativeStack:
    """What a test needs from a running stack."""

    base_url: str  # Airflow's api-server (UI and REST)
    username: str
    passwords: dict[str, str]  # of every FAB user (USERS)
    api: Api  # logged in as ``username``
    env: dict[str, str]  # the environment of every Airflow process
    settings: object  # include.settings.Settings of the services, for library calls from the test
    mlflow_uri: str
    s3_endpoint: str
    bucket: str
    topic_arn: str
    queue_url: str  # an SQS queue subscribed to the topic: what a subscriber receives
    postgres_dsn: str  # the server, without a database name
    redis_url: str
    log_dir: Path
    services: Services = field(repr=False)

    def aws(self, service: str):
        return aws_client(service, self.s3_endpoint)

    def s3_keys(self, prefix: str) -> list[str]:
        pages = self.aws("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def received_notifications(self) -> list[dict]:
        """Drain the subscribed queue: one dict per SNS message (kind, key, subject, facts)."""
        sqs, found = self.aws("sqs"), []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = envelope.get("MessageAttributes", {})
                found.append(
                    {
                        "kind": attributes.get("kind", {}).get("Value"),
                        "key": attributes.get("key", {}).get("Value"),
                        "subject": envelope.get("Subject"),
                        "facts": json.loads(envelope["Message"].rpartition("\n\n")[2]),
                    }
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def check_alive(self) -> None:
        self.services.check_alive()

    def wait_for(self, what: str, probe, timeout: float, interval: float = 2.0):
        return self.services.wait_for(what, probe, timeout, interval)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}


def _start_postgres(services: Services, pg_bin: Path, data_root: Path, log_dir: Path) -> tuple[str, int]:
    """A fresh cluster owned by ``postgres`` (initdb and postgres refuse root)."""
    import pwd

    user = pwd.getpwnam("postgres")
    os.chown(data_root, user.pw_uid, user.pw_gid)
    data = data_root / "data"
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    # trust on loopback only: a throwaway cluster on 127.0.0.1, gone when the test ends.
    run_logged(
        [
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        log_dir / "initdb.log",
        env=env,
        cwd=data_root,
        user="postgres",
        timeout=180,
    )
    port = free_port()
    services.start(
        "postgres",
        [
            str(pg_bin / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data_root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
            # Durability buys nothing in a cluster deleted at the end of the test.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        env=env,
        cwd=data_root,
        user="postgres",
        tier=STORES_TIER,
        stop_signal=signal.SIGINT,
    )  # "fast" shutdown; SIGTERM would wait for every client
    dsn = f"postgresql://postgres@127.0.0.1:{port}"

    def accepts() -> bool:
        import psycopg2

        try:
            psycopg2.connect(f"{dsn}/postgres", connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    services.wait_for("postgres", accepts, 60, interval=0.5)
    import psycopg2

    connection = psycopg2.connect(f"{dsn}/postgres")
    connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with connection.cursor() as cursor:
        for database in ("airflow", "mlflow"):
            cursor.execute(f"CREATE DATABASE {database}")
    connection.close()
    return dsn, port


def _aws_resources(endpoint: str, bucket: str) -> tuple[str, str]:
    """The bucket, the notification topic and an SQS queue subscribed to it."""
    aws_client("s3", endpoint).create_bucket(Bucket=bucket)
    topic_arn = aws_client("sns", endpoint).create_topic(Name="mlops-notifications")["TopicArn"]
    return topic_arn, subscribed_queue(endpoint, topic_arn, "mlops-notifications-subscriber")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables in this (the test's) process for the block; restore them afterwards."""
    from include.settings import environment_kept

    with environment_kept(*values):
        os.environ.update(values)
        yield


def _forget_cached_store(conn_id: str) -> None:
    """ObjectStoragePath keeps one filesystem per connection id for the whole process: drop this
    one so the test process reaches the endpoint of this stack, not of an earlier one."""
    from airflow.sdk.io import store

    store._STORE_CACHE.pop(f"s3-{conn_id}", None)


@contextmanager
def running_stack(tmp_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[NativeStack]:
    """Start every service, log in to Airflow; yields a ``NativeStack``.

    ``extra_env`` is added to the environment of every Airflow process (and to ``settings``),
    e.g. the simulator's scenario, which must hold from the start. On failure the log tails
    are printed; every process stops and the Postgres cluster is deleted in any case.
    """
    pg_bin = require_system_packages()
    log_dir = tmp_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = Services(log_dir)
    # Not under tmp_path: pytest's base temp folder is 0700 root, which the postgres user cannot enter.
    pg_root = Path(tempfile.mkdtemp(prefix="native-stack-pg-"))
    token = uuid.uuid4().hex[:8]
    bucket = f"mlops-native-{token}"
    try:
        # The stores.
        dsn, pg_port = _start_postgres(services, pg_bin, pg_root, log_dir)
        redis_port = free_port()
        services.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            env=_base_env(),
            tier=SERVERS_TIER,
        )
        s3_endpoint = start_moto(services, env=_base_env(), tier=SERVERS_TIER)
        services.wait_for("redis", lambda: _redis_pong(redis_port), 30, interval=0.2)
        topic_arn, queue_url = _aws_resources(s3_endpoint, bucket)

        # MLflow: the only holder of S3 credentials for artifacts (see the module docstring), and
        # with MLflow's basic-auth app: the package signs in through the mlflow_default connection.
        mlflow = start_mlflow_auth_server(
            services,
            tmp_path / "mlflow",
            backend_store_uri=f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/mlflow",
            artifacts_destination=f"s3://{bucket}/mlflow-artifacts",
            env={**_base_env(), **AWS_KEYS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint},
            tier=SERVERS_TIER,
        )
        mlflow_uri = mlflow.uri

        # Airflow.
        api_port = free_port()
        base_url = f"http://127.0.0.1:{api_port}"
        from cryptography.fernet import Fernet

        env = airflow_env(tmp_path, api_port)
        env = {k: v for k, v in env.items() if not k.startswith(INHERITED_PREFIXES)}
        env.update(
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/airflow",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/airflow",
                # Two cores: training is CPU-bound, and reschedule-mode sensors free their slot between pokes.
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                # Every process must agree on these; generated ones would differ per process.
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__API_AUTH__JWT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "AIRFLOW__API__SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                **FAB_ENV,
                # Tests run chosen past dates through the REST API; the wall clock's own runs (the current
                # hour's drift check, say) would judge other windows and could trigger retraining too.
                # Manual, backfill and triggered runs still run. Override through extra_env.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # The worker and the triggerer serve their task logs to the api-server; keep parallel stacks apart.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(s3_endpoint),
                **mlflow.connection_env(),
                # Nothing should land there: every store is remote.
                "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
                "MLOPS_TIMEZONE": "UTC",
                # As in the rest of the session (tests/airflow_env.py): the stack tests promotion,
                # monitoring and approval, not the search.
                "MLOPS_SEARCH_CANDIDATES": "4",
                "MLOPS_STORAGE_ROOT": f"s3://{bucket}/storage",
                "MLOPS_STORAGE_CONN_ID": "aws_default",
                "MLOPS_NOTIFY_SNS_TOPIC_ARN": topic_arn,
                "MLOPS_NOTIFY_CONN_ID": "aws_default",
                "MLFLOW_TRACKING_URI": mlflow_uri,
                "MLOPS_MLFLOW_ARTIFACT_ROOT": "mlflow-artifacts:/",
            }
        )
        env.update(extra_env or {})
        run_logged(airflow_cmd("db", "migrate"), log_dir / "airflow-db-migrate.log", env=env, timeout=600)
        passwords = setup_fab(env, log_dir, USERS)
        for name in AIRFLOW_SERVICES:
            args = (
                ["celery", "worker", "--celery-hostname", f"native-{token}@%h"]
                if name == "celery-worker"
                else [name]
            )
            # The worker's cold shutdown (SIGQUIT): a warm one waits for the running task to end.
            services.start(
                f"airflow-{name}",
                airflow_cmd(*args),
                env=env,
                tier=AIRFLOW_TIER,
                stop_signal=signal.SIGQUIT if name == "celery-worker" else signal.SIGTERM,
            )
        mlflow.wait_ready(services, STARTUP_TIMEOUT)

        password_file = generated_passwords_file(env)
        api = Api(base_url, password_file, passwords)

        def healthy() -> bool:
            health = api.request("GET", "/api/v2/monitor/health")
            return all(
                health[part]["status"] == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        services.wait_for("the api-server, scheduler, triggerer and dag-processor", healthy, STARTUP_TIMEOUT)
        services.wait_for("an API token", lambda: api.login() or api.token, STARTUP_TIMEOUT)
        worker_log = services.logs["airflow-celery-worker"]
        services.wait_for(
            "the Celery worker", lambda: " ready." in worker_log.read_text(errors="replace"), STARTUP_TIMEOUT
        )

        from include import settings as settings_module

        test_side = {"AIRFLOW_CONN_AWS_DEFAULT": env["AIRFLOW_CONN_AWS_DEFAULT"], **mlflow.connection_env()}
        with _environment(test_side):
            _forget_cached_store("aws_default")
            try:
                yield NativeStack(
                    base_url=base_url,
                    username="admin",
                    passwords=passwords,
                    api=api,
                    env=env,
                    settings=settings_module.load(env),
                    mlflow_uri=mlflow_uri,
                    s3_endpoint=s3_endpoint,
                    bucket=bucket,
                    topic_arn=topic_arn,
                    queue_url=queue_url,
                    postgres_dsn=dsn,
                    redis_url=f"redis://127.0.0.1:{redis_port}/0",
                    log_dir=log_dir,
                    services=services,
                )
            finally:
                _forget_cached_store("aws_default")
    except BaseException:
        print(f"native stack logs: {log_dir}\n{services.report()}")
        raise
    finally:
        # The cluster folder goes too, so a Ctrl-C between the two must not cut in.
        with uninterrupted():
            services.stop()
            shutil.rmtree(pg_root, ignore_errors=True)


def show_past_capture(config, text: str) -> None:
    """Print ``text`` past pytest's output capture: a module fixture's teardown output is
    otherwise only shown with the report of the module's last test."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(text)
        return
    reporter.write_line("")
    for line in text.splitlines():
        reporter.write_line(line)
