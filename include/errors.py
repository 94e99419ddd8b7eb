"""The package's error family, and the line between "retry later" and "fail now".

Every error the package raises on purpose is an ``MlopsError`` whose message names what is wrong
and where. A ``PermanentError`` is one a retry of the task cannot fix: a malformed trigger or
contract, too little matured data, a batch the contract rejects, a registry that cannot be
reached at all. Every DAG task fails at once on it, without spending its retries
(``mlops_plugins.tasks.fail_now_on_permanent_errors``); anything else (a storage or registry
hiccup in the middle of a run) is retried by Airflow.
"""


class MlopsError(Exception):
    """Base of the package's errors."""


class PermanentError(MlopsError):
    """Retrying the same task with the same inputs gives the same error."""
