"""moto servers (S3, SNS, SQS, IAM) for tests, and how the code under test reaches them.

``start_moto`` is the one launcher: the session's shared server (the ``moto_server`` fixture),
a server of a test's own (``start_moto_server``) and the native stack's all start through it.
Each server is its own process with its own in-memory state.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import PROJECT_ROOT
from tests.support.processes import Services, free_port, http_ok

AWS_REGION = "us-east-1"
# What every client of a moto server signs with, unless moto_enable_iam made it check.
AWS_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": AWS_REGION,
}


def moto_server_executable() -> Path:
    """``moto_server`` of the venv running the tests; fails (never skips) when missing, since a
    skipped S3 test would pass without S3 ever being checked."""
    venvs = (Path(sys.executable).parent, PROJECT_ROOT / ".venv" / "bin")
    for candidate in (venv / "moto_server" for venv in venvs):
        if candidate.exists():
            return candidate
    found = shutil.which("moto_server")
    if found is None:
        raise AssertionError("moto_server is not installed in the venv (requirements.txt: moto[server])")
    return Path(found)


def start_moto(
    services: Services,
    name: str = "moto",
    *,
    env: dict[str, str] | None = None,
    tier: int = 0,
    timeout: float = 60.0,
) -> str:
    """Start ``moto_server`` on a free loopback port as the service ``name`` of ``services`` and
    wait until it answers; returns its endpoint."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    services.start(
        name,
        [str(moto_server_executable()), "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ) if env is None else env,
        tier=tier,
    )
    services.wait_for(name, lambda: http_ok(f"{endpoint}/moto-api/"), timeout, interval=0.1)
    return endpoint


@contextmanager
def start_moto_server(log_dir: Path, timeout: float = 30.0) -> Iterator[str]:
    """Run a moto server of its own until the block ends (its log under ``log_dir``); yields its endpoint."""
    services = Services(log_dir)
    try:
        yield start_moto(services, timeout=timeout)
    finally:
        services.stop(timeout=10)


def moto_enable_iam(endpoint: str) -> None:
    """From now on the moto server at ``endpoint`` checks credentials and IAM policies (for the
    whole server: use it only on a server of your own, see ``start_moto_server``)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def aws_client(
    service: str,
    endpoint: str,
    access_key: str = AWS_KEYS["AWS_ACCESS_KEY_ID"],
    secret_key: str = AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
):
    """A boto3 client of ``service`` ("s3", "sns", "sqs", "iam") on the moto server at ``endpoint``."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=AWS_REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )


def aws_connection(
    endpoint: str,
    login: str = AWS_KEYS["AWS_ACCESS_KEY_ID"],
    password: str = AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
) -> str:
    """An Airflow AWS connection to the moto server at ``endpoint``, as the JSON an
    ``AIRFLOW_CONN_<ID>`` variable holds."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": login,
            "password": password,
            "extra": {"endpoint_url": endpoint, "region_name": AWS_REGION},
        }
    )


def set_aws_connection(
    monkeypatch,
    conn_id: str,
    endpoint: str,
    login: str = AWS_KEYS["AWS_ACCESS_KEY_ID"],
    password: str = AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
) -> None:
    """Define the Airflow connection ``conn_id`` for this test through its environment variable."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", aws_connection(endpoint, login, password))


def subscribed_queue(endpoint: str, topic_arn: str, queue_name: str) -> str:
    """A new SQS queue subscribed to the SNS topic: what a subscriber receives; returns its URL."""
    sqs = aws_client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    aws_client("sns", endpoint).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url
