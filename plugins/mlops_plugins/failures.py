"""The one place that decides "retry or fail now" for the package's tasks.

A ``PermanentError`` from ``include`` (a bad trigger or contract, too little data, a rejected
batch, an unreachable registry) fails the task at once: retrying the same inputs gives the same
error, and each retry would only delay the alert by its ``retry_delay``. Anything else is left
to the DAG's retry policy.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager


@contextmanager
def permanent_errors_fail_now():
    """Inside the block, a ``PermanentError`` becomes Airflow's ``AirflowFailException``."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.errors import PermanentError

    try:
        yield
    except PermanentError as exc:
        raise AirflowFailException(f"{exc} (not retried: {type(exc).__name__})") from exc


def fail_fast(function):
    """Decorate a task's function (under ``@task``) so a ``PermanentError`` fails it without retry."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with permanent_errors_fail_now():
            return function(*args, **kwargs)

    return wrapper
