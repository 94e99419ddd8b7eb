"""The team's production topology, run natively for integration tests.

PostgreSQL (Airflow's metadata DB, Celery's result backend, MLflow's backend store), Redis
(Celery's broker), a moto server (S3 for storage and MLflow artifacts, SNS + SQS for
notifications), an MLflow tracking server, and Airflow's api-server, scheduler, dag-processor,
triggerer and one Celery worker. Every service is a subprocess on a free loopback port, in a
session (process group) of its own; ``running_stack()`` stops them all in ``finally``, also on
Ctrl-C, even a second one (``bash tests/interrupt_native_stack.sh`` checks that), and prints
the tails of their logs when the block fails. Logs stay under
``<tmp_path>/logs``.

MLflow serves the artifacts itself (``--serve-artifacts --artifacts-destination s3://...``),
and the package's experiments point at ``mlflow-artifacts:/`` (MLOPS_MLFLOW_ARTIFACT_ROOT): the
Airflow workers reach artifacts through the tracking server over HTTP and hold no S3
credentials for MLflow. With ``--default-artifact-root s3://...`` instead, every worker would
need AWS credentials and MLFLOW_S3_ENDPOINT_URL in its environment, a second way into S3 next
to the Airflow connection. Only the MLflow server has those here.

Another test module reuses a running stack through the ``native_stack`` fixture (module
scope): ``from tests.native_stack import native_stack, native_stack_env  # noqa: F401``; to add
variables to every service's environment, the module defines its own ``native_stack_env`` fixture.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.live_airflow import ROOT, Api, airflow_cmd, airflow_env, free_port, tail, uninterrupted, wait_for

STARTUP_TIMEOUT = 180  # 2 shared cores: five Airflow processes import at the same time
AWS_REGION = "us-east-1"
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": AWS_REGION}
DEBIAN_PACKAGES = "postgresql redis-server"
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker")
# Variables of the pytest session (tests/airflow_env.py) or the shell that would change what the
# services do; the stack sets its own.
INHERITED_PREFIXES = ("MLOPS_", "MLFLOW_", "AWS_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


# --------------------------------------------------------------------------- system packages

def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
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
        pytest.fail(f"the native stack needs {', '.join(missing)}: run `make system-packages` as root "
                    f"(apt-get install -y {DEBIAN_PACKAGES})", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the native stack runs initdb and postgres as the 'postgres' user, which needs root",
                    pytrace=False)
    return pg


# --------------------------------------------------------------------------- processes

class Processes:
    """Services of one stack, each in its own session; ``stop()`` ends them in reverse order."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.stop_signals: dict[str, int] = {}

    def start(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path = ROOT, user: str | None = None,
              stop_signal: int = signal.SIGTERM) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        # The log is opened here (root): a service running as another user writes through the descriptor.
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, user=user, group=user,
                                    extra_groups=[] if user else None)
        self.procs[name], self.logs[name], self.stop_signals[name] = proc, log, stop_signal
        return proc

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{tail(self.logs[name])}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every service; a second Ctrl-C while this runs is ignored, since it would leave
        the rest running (every wait below is bounded)."""
        with uninterrupted():
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        # Airflow first (it holds connections to Postgres and Redis), the stores last.
        groups = [[n for n in self.procs if n.startswith("airflow-")], [n for n in self.procs
                  if not n.startswith("airflow-") and n != "postgres"], [n for n in self.procs if n == "postgres"]]
        for names in groups:
            for name in names:
                if self.procs[name].poll() is None:
                    _signal_group(self.procs[name].pid, self.stop_signals[name])
            deadline = time.monotonic() + timeout
            for name in names:
                proc = self.procs[name]
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                # Whatever is left of the group (the service after the timeout, a Celery pool process,
                # a log server) is killed; the group id is the pid of the process we started.
                _signal_group(proc.pid, signal.SIGKILL)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass

    def report(self, lines: int = 60) -> str:
        return "\n".join(f"----- tail of {log} (exit code {self.procs[name].poll()}) -----\n{tail(log, lines)}"
                         for name, log in self.logs.items())


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _run(cmd: list[str], log: Path, *, env: dict[str, str], cwd: Path = ROOT, user: str | None = None,
         timeout: float = 300) -> None:
    with log.open("ab") as out:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              user=user, group=user, extra_groups=[] if user else None)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {done.returncode}:\n{tail(log)}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500


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
    passwords: dict[str, str]  # of every simple auth manager user (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS)
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
    processes: Processes = field(repr=False)

    def aws(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.s3_endpoint, region_name=AWS_REGION,
                            aws_access_key_id=AWS_KEYS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=AWS_KEYS["AWS_SECRET_ACCESS_KEY"])

    def s3_keys(self, prefix: str) -> list[str]:
        pages = self.aws("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def received_notifications(self) -> list[dict]:
        """Drain the subscribed queue: one dict per SNS message (kind, key, subject, facts)."""
        sqs, found = self.aws("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = envelope.get("MessageAttributes", {})
                found.append({"kind": attributes.get("kind", {}).get("Value"),
                              "key": attributes.get("key", {}).get("Value"), "subject": envelope.get("Subject"),
                              "facts": json.loads(envelope["Message"].rpartition("\n\n")[2])})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def check_alive(self) -> None:
        self.processes.check_alive()

    def wait_for(self, what: str, probe, timeout: float, interval: float = 2.0):
        return wait_for(what, probe, self.processes, timeout, interval)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}


def _start_postgres(processes: Processes, pg_bin: Path, data_root: Path, log_dir: Path) -> tuple[str, int]:
    """A fresh cluster owned by ``postgres`` (initdb and postgres refuse root)."""
    import pwd

    user = pwd.getpwnam("postgres")
    os.chown(data_root, user.pw_uid, user.pw_gid)
    data = data_root / "data"
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    # trust on loopback only: a throwaway cluster on 127.0.0.1, gone when the test ends.
    _run([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
          "--no-instructions"], log_dir / "initdb.log", env=env, cwd=data_root, user="postgres", timeout=180)
    port = free_port()
    processes.start("postgres", [str(pg_bin / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data_root),
                                 "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                                 # Durability buys nothing in a cluster deleted at the end of the test.
                                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                    env=env, cwd=data_root, user="postgres",
                    stop_signal=signal.SIGINT)  # "fast" shutdown; SIGTERM would wait for every client
    dsn = f"postgresql://postgres@127.0.0.1:{port}"

    def accepts() -> bool:
        import psycopg2

        try:
            psycopg2.connect(f"{dsn}/postgres", connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    wait_for("postgres", accepts, processes, 60, interval=0.5)
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
    import boto3

    def client(service):
        return boto3.client(service, endpoint_url=endpoint, region_name=AWS_REGION,
                            aws_access_key_id=AWS_KEYS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=AWS_KEYS["AWS_SECRET_ACCESS_KEY"])

    client("s3").create_bucket(Bucket=bucket)
    topic_arn = client("sns").create_topic(Name="mlops-notifications")["TopicArn"]
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName="mlops-notifications-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


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
    processes = Processes(log_dir)
    # Not under tmp_path: pytest's base temp folder is 0700 root, which the postgres user cannot enter.
    pg_root = Path(tempfile.mkdtemp(prefix="native-stack-pg-"))
    token = uuid.uuid4().hex[:8]
    bucket = f"mlops-native-{token}"
    try:
        # The stores.
        dsn, _ = _start_postgres(processes, pg_bin, pg_root, log_dir)
        redis_port = free_port()
        processes.start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(tmp_path)], env=_base_env())
        moto_port = free_port()
        s3_endpoint = f"http://127.0.0.1:{moto_port}"
        moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
        assert moto, "moto_server is not installed in the venv (requirements.txt: moto[server])"
        processes.start("moto", [moto, "-H", "127.0.0.1", "-p", str(moto_port)], env=_base_env())
        wait_for("redis", lambda: _redis_pong(redis_port), processes, 30, interval=0.2)
        wait_for("moto", lambda: _http_ok(f"{s3_endpoint}/moto-api/"), processes, 60, interval=0.2)
        topic_arn, queue_url = _aws_resources(s3_endpoint, bucket)

        # MLflow: the only holder of S3 credentials for artifacts (see the module docstring).
        mlflow_port = free_port()
        mlflow_uri = f"http://127.0.0.1:{mlflow_port}"
        processes.start("mlflow", [sys.executable, "-m", "mlflow", "server",
                                   "--backend-store-uri", f"postgresql+psycopg2://postgres@127.0.0.1:"
                                                          f"{dsn.rsplit(':', 1)[1]}/mlflow",
                                   "--serve-artifacts", "--artifacts-destination", f"s3://{bucket}/mlflow-artifacts",
                                   "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
                        env={**_base_env(), **AWS_KEYS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint})

        # Airflow.
        api_port = free_port()
        base_url = f"http://127.0.0.1:{api_port}"
        pg_port = dsn.rsplit(":", 1)[1]
        from cryptography.fernet import Fernet

        env = airflow_env(tmp_path, api_port)
        env = {k: v for k, v in env.items() if not k.startswith(INHERITED_PREFIXES)}
        env.update({
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
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            # Tests run chosen past dates through the REST API; the wall clock's own runs (the current
            # hour's drift check, say) would judge other windows and could trigger retraining too.
            # Manual, backfill and triggered runs still run. Override through extra_env.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # The worker and the triggerer serve their task logs to the api-server; keep parallel stacks apart.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
                "conn_type": "aws", "login": AWS_KEYS["AWS_ACCESS_KEY_ID"],
                "password": AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
                "extra": {"endpoint_url": s3_endpoint, "region_name": AWS_REGION}}),
            "MLOPS_LOCAL_DIR": str(tmp_path / "local"),  # nothing should land there: every store is remote
            "MLOPS_TIMEZONE": "UTC",
            "MLOPS_STORAGE_ROOT": f"s3://{bucket}/storage",
            "MLOPS_STORAGE_CONN_ID": "aws_default",
            "MLOPS_NOTIFY_SNS_TOPIC_ARN": topic_arn,
            "MLOPS_NOTIFY_CONN_ID": "aws_default",
            "MLFLOW_TRACKING_URI": mlflow_uri,
            "MLOPS_MLFLOW_ARTIFACT_ROOT": "mlflow-artifacts:/",
        })
        env.update(extra_env or {})
        _run(airflow_cmd("db", "migrate"), log_dir / "airflow-db-migrate.log", env=env, timeout=600)
        for name in AIRFLOW_SERVICES:
            args = (["celery", "worker", "--celery-hostname", f"native-{token}@%h"] if name == "celery-worker"
                    else [name])
            # The worker's cold shutdown (SIGQUIT): a warm one waits for the running task to end.
            processes.start(f"airflow-{name}", airflow_cmd(*args), env=env,
                            stop_signal=signal.SIGQUIT if name == "celery-worker" else signal.SIGTERM)
        wait_for("the MLflow server", lambda: _http_ok(f"{mlflow_uri}/health"), processes, STARTUP_TIMEOUT)

        api = Api(base_url)

        def healthy() -> bool:
            health = api.request("GET", "/api/v2/monitor/health")
            return all(health[part]["status"] == "healthy"
                       for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

        wait_for("the api-server, scheduler, triggerer and dag-processor", healthy, processes, STARTUP_TIMEOUT)
        password_file = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        wait_for("an API token", lambda: api.login(password_file) or api.token, processes, STARTUP_TIMEOUT)
        worker_log = processes.logs["airflow-celery-worker"]
        wait_for("the Celery worker", lambda: " ready." in worker_log.read_text(errors="replace"), processes,
                 STARTUP_TIMEOUT)

        from include import settings as settings_module

        test_side = {"AIRFLOW_CONN_AWS_DEFAULT": env["AIRFLOW_CONN_AWS_DEFAULT"]}
        with _environment(test_side):
            _forget_cached_store("aws_default")
            try:
                yield NativeStack(
                    base_url=base_url, username="admin", passwords=json.loads(password_file.read_text()),
                    api=api, env=env, settings=settings_module.load(env), mlflow_uri=mlflow_uri,
                    s3_endpoint=s3_endpoint, bucket=bucket, topic_arn=topic_arn, queue_url=queue_url,
                    postgres_dsn=dsn, redis_url=f"redis://127.0.0.1:{redis_port}/0", log_dir=log_dir,
                    processes=processes)
            finally:
                _forget_cached_store("aws_default")
    except BaseException:
        print(f"native stack logs: {log_dir}\n{processes.report()}")
        raise
    finally:
        processes.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


@pytest.fixture(scope="module")
def native_stack_env() -> dict[str, str]:
    """Override in a test module to add variables to every service's environment."""
    return {}


@pytest.fixture(scope="module")
def native_stack(request, tmp_path_factory, native_stack_env) -> Iterator[NativeStack]:
    """One running stack for the test module; the log tails are printed when one of its tests failed."""
    failed_before = request.session.testsfailed
    with running_stack(tmp_path_factory.mktemp("native_stack"), native_stack_env) as stack:
        yield stack
        # A test's failure does not reach this generator (pytest reports it), so look at the count.
        if request.session.testsfailed > failed_before:
            _show(request.config, f"native stack logs: {stack.log_dir}\n{stack.processes.report()}")


def _show(config, text: str) -> None:
    """Past pytest's output capture: a module fixture's teardown output is otherwise only shown
    with the report of the module's last test."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(text)
        return
    reporter.write_line("")
    for line in text.splitlines():
        reporter.write_line(line)
