"""Shared fixtures: settings on a temporary storage root, the shipped contracts, landing files,
environment variables for one test, moto S3 servers and the native production stack.

Only fixtures live here (no autouse fixture changes global state), so any test module can
use what it needs; the one hook puts the integration tests after the unit tests. The helpers
behind them, and everything a test module imports, are in tests/support/.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date

import pytest

from tests.support.data import land_bytes
from tests.support.moto import aws_client, set_aws_connection, start_moto_server
from tests.support.native_stack import NativeStack, running_stack, show_past_capture
from tests.support.paths import CONTRACTS_DIR


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


# --------------------------------------------------------------------------- moto S3 server


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[str]:
    """A moto S3 server shared by the session (every test uses its own bucket); yields its endpoint."""
    with start_moto_server(tmp_path_factory.mktemp("moto_server")) as endpoint:
        yield endpoint


@pytest.fixture
def s3_settings(moto_server, monkeypatch):
    """Settings on ``s3://<fresh bucket>/prefix`` through a fresh Airflow connection.

    ObjectStoragePath caches one filesystem per connection id, so every test gets its own
    connection id and bucket.
    """
    from include import settings as settings_module

    token = uuid.uuid4().hex[:12]
    bucket, conn_id = f"mlops-test-{token}", f"moto_s3_{token}"
    aws_client("s3", moto_server).create_bucket(Bucket=bucket)
    set_aws_connection(monkeypatch, conn_id, moto_server)
    return settings_module.load(
        {"MLOPS_STORAGE_ROOT": f"s3://{bucket}/prefix", "MLOPS_STORAGE_CONN_ID": conn_id}
    )


# --------------------------------------------------------------------------- native production stack


@pytest.fixture(scope="module")
def native_stack_env() -> dict[str, str]:
    """Override in a test module to add variables to every service's environment."""
    return {}


@pytest.fixture(scope="module")
def native_stack(request, tmp_path_factory, native_stack_env) -> Iterator[NativeStack]:
    """One running stack (tests/support/native_stack.py) for the test module; the log tails are
    printed when one of its tests failed."""
    failed_before = request.session.testsfailed
    with running_stack(tmp_path_factory.mktemp("native_stack"), native_stack_env) as stack:
        yield stack
        # A test's failure does not reach this generator (pytest reports it), so look at the count.
        if request.session.testsfailed > failed_before:
            logs = f"native stack logs: {stack.log_dir}\n{stack.services.report()}"
            show_past_capture(request.config, logs)
