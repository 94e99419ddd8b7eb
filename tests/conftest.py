"""Shared fixtures: settings on a temporary storage root, the shipped contracts, helpers to
land files and build valid credit application batches, and a moto S3 server.

Only fixtures live here (no autouse fixture changes global state), so any test module can
use what it needs; the one hook puts the integration tests after the unit tests.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = PROJECT_ROOT / "include" / "contracts"

# Column order of the credit applications events feed (the target arrives in its own feed).
CREDIT_EVENT_COLUMNS = (
    "application_id", "application_ts", "age", "annual_income", "employment_years", "loan_amount",
    "loan_term_months", "debt_to_income", "credit_score", "open_accounts", "recent_delinquencies",
    "home_ownership", "loan_purpose", "gender",
)


def pytest_collection_modifyitems(items) -> None:
    """Unit tests first, then the integration tests (minutes of live services): ``make test`` is
    one session with one summary line, and a unit failure shows before the long part starts."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is not None)  # stable


# --------------------------------------------------------------------------- settings / contracts

@pytest.fixture
def settings(tmp_path):
    from include import settings as settings_module

    return settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_TIMEZONE": "UTC"})


@pytest.fixture(scope="session")
def credit():
    from include import contract

    return contract.load("credit_applications", CONTRACTS_DIR)


@pytest.fixture(scope="session")
def breast():
    from include import contract

    return contract.load("breast_cancer", CONTRACTS_DIR)


# --------------------------------------------------------------------------- landing helpers

def land_bytes(settings, feed: str, day: date, name: str, data: bytes):
    """Write ``data`` as ``landing/<feed>/dt=<day>/<name>``; returns the ObjectStoragePath.

    ``name`` is not passed through ``safe_segment`` so producer markers such as ``_SUCCESS``
    can be landed too.
    """
    from include import storage

    assert "/" not in name and name not in ("", ".", "..")
    target = storage.partition("landing", feed, day, settings=settings) / name
    storage.write_bytes_atomic(target, data)
    return target


@pytest.fixture
def land(settings) -> Callable:
    """``land(feed, day, name, data)`` onto the ``settings`` storage root."""

    def _land(feed: str, day: date, name: str, data: bytes):
        return land_bytes(settings, feed, day, name, data)

    return _land


@pytest.fixture
def use_env(monkeypatch):
    """``use_env(NAME=value, ...)``: set variables for this test and re-read settings; on teardown
    the cached settings are dropped, so later tests never see this test's storage root."""
    from include import settings as settings_module

    def _use(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings_module.get.cache_clear()
        return settings_module.get()

    yield _use
    settings_module.get.cache_clear()


def simulate_days(contract, days, *, settings) -> None:
    """Land each day with the simulator and ingest every feed of it, as the nightly DAG does."""
    from include.ingestion.partition import ingest_partition
    from include.simulator.land import land_day

    for day in days:
        land_day(contract, day, settings=settings)
        for feed in contract.feeds():
            ingest_partition(contract, feed.name, day, settings=settings)


def credit_frame(day: date, n: int, seed: int = 0, id_prefix: str = "app") -> pd.DataFrame:
    """``n`` valid credit applications with ``application_ts`` inside ``day`` (UTC).

    Values are plain Python/numpy scalars (ints, floats, strings, ISO timestamps as text),
    so a test can overwrite any cell with a bad value before turning it into bytes.
    """
    rng = np.random.default_rng([seed, day.toordinal()])
    start = datetime.combine(day, dtime(0), tzinfo=timezone.utc)
    seconds = np.sort(rng.integers(0, 86_400, n))
    income = np.round(rng.lognormal(10.8, 0.5, n), 2)
    frame = pd.DataFrame({
        "application_id": [f"{id_prefix}-{day:%Y%m%d}-{i:06d}" for i in range(n)],
        "application_ts": [(start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds],
        "age": rng.integers(18, 80, n),
        "annual_income": income,
        "employment_years": np.round(rng.uniform(0, 30, n), 1),
        "loan_amount": np.round(rng.uniform(1_000, 50_000, n), 2),
        "loan_term_months": rng.choice([12, 24, 36, 48, 60, 72, 84], n),
        "debt_to_income": np.round(rng.uniform(0, 1.2, n), 3),
        "credit_score": rng.integers(350, 840, n),
        "open_accounts": rng.integers(0, 30, n),
        "recent_delinquencies": rng.integers(0, 5, n),
        "home_ownership": rng.choice(["RENT", "OWN", "MORTGAGE", "OTHER"], n),
        "loan_purpose": rng.choice(["debt_consolidation", "credit_card", "home_improvement", "car", "medical",
                                    "small_business", "other"], n),
        "gender": rng.choice(["F", "M"], n),
    })
    return frame[list(CREDIT_EVENT_COLUMNS)].astype(object)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def credit_csv(day: date, n: int, seed: int = 0, id_prefix: str = "app") -> bytes:
    """A valid credit applications CSV of ``n`` rows for ``day``."""
    return to_csv(credit_frame(day, n, seed, id_prefix))


def credit_labels_frame(day: date, n: int, seed: int = 0, id_prefix: str = "app") -> pd.DataFrame:
    """``n`` valid label rows (application_id, outcome_ts, defaulted) observed on ``day``."""
    rng = np.random.default_rng([seed, day.toordinal(), 1])
    start = datetime.combine(day, dtime(0), tzinfo=timezone.utc)
    seconds = np.sort(rng.integers(0, 86_400, n))
    return pd.DataFrame({
        "application_id": [f"{id_prefix}-{day:%Y%m%d}-{i:06d}" for i in range(n)],
        "outcome_ts": [(start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds],
        "defaulted": rng.integers(0, 2, n),
    }).astype(object)


# --------------------------------------------------------------------------- moto S3 server

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_server_executable() -> Path | None:
    for candidate in (Path(sys.executable).parent / "moto_server", PROJECT_ROOT / ".venv" / "bin" / "moto_server"):
        if candidate.exists():
            return candidate
    found = shutil.which("moto_server")
    return Path(found) if found else None


@contextmanager
def start_moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run ``moto_server`` on a free local port until the block ends; yields its endpoint.

    Each call is its own process with its own in-memory state.
    """
    executable = _moto_server_executable()
    if executable is None:
        pytest.skip("moto_server is not installed")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([str(executable), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}: "
                                   f"{process.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # it answers HTTP, whatever the status
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:g} s") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stderr.close()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server shared by the session (every test uses its own bucket); yields its endpoint."""
    with start_moto_server() as endpoint:
        yield endpoint


def moto_enable_iam(endpoint: str) -> None:
    """From now on the moto server at ``endpoint`` checks credentials and IAM policies (for the
    whole server: use it only on a server of your own, see ``start_moto_server``)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def s3_client(endpoint: str, access_key: str = "testing", secret_key: str = "testing"):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key)


def set_aws_connection(monkeypatch, conn_id: str, endpoint: str, login: str = "testing",
                       password: str = "testing") -> None:
    """Define the Airflow connection ``conn_id`` through its environment variable."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "aws", "login": login, "password": password,
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }))


@pytest.fixture
def s3_settings(moto_server, monkeypatch):
    """Settings on ``s3://<fresh bucket>/prefix`` through a fresh Airflow connection.

    ObjectStoragePath caches one filesystem per connection id, so every test gets its own
    connection id and bucket.
    """
    from include import settings as settings_module

    token = uuid.uuid4().hex[:12]
    bucket, conn_id = f"mlops-test-{token}", f"moto_s3_{token}"
    s3_client(moto_server).create_bucket(Bucket=bucket)
    set_aws_connection(monkeypatch, conn_id, moto_server)
    return settings_module.load({"MLOPS_STORAGE_ROOT": f"s3://{bucket}/prefix", "MLOPS_STORAGE_CONN_ID": conn_id})
