"""The one module that reads configuration.

Every knob comes from an environment variable listed in ``VARIABLES`` (documented in
docs/configuration.md, which ``configuration_page`` generates). Defaults are the embedded set-up:
everything under ``.local/`` in the checkout. Nothing else in the package reads ``os.environ``
or hard-codes a path.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from include.errors import PermanentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(PermanentError, ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    description: str


VARIABLES: tuple[Variable, ...] = (
    Variable("MLOPS_LOCAL_DIR", ".local", "Folder for every embedded default (relative to the checkout)."),
    Variable(
        "MLOPS_STORAGE_ROOT",
        "file://<MLOPS_LOCAL_DIR>/storage",
        "Root URI of all zones (landing, curated, quarantine): file:///path or s3://bucket/prefix.",
    ),
    Variable("MLOPS_STORAGE_CONN_ID", "aws_default", "Airflow connection used for s3:// storage roots."),
    Variable("MLOPS_CONTRACTS_DIR", "include/contracts", "Folder of dataset contract YAML files."),
    Variable("MLOPS_DATASET", "credit_applications", "Dataset the scheduled runs process."),
    Variable("MLOPS_TIMEZONE", "UTC", "Timezone of the cron schedules and of partition dates."),
    Variable(
        "MLOPS_LANDING_TIMEOUT_SECONDS", "21600", "How long the nightly run waits for a landing partition."
    ),
    Variable("MLOPS_LANDING_POKE_SECONDS", "300", "How often the landing sensor looks (reschedule mode)."),
    Variable(
        "MLOPS_LANDING_QUIET_SECONDS",
        "60",
        "A landed data file counts once unmodified this long (a producer may still be writing it); "
        "0 disables. Not used when the contract's batch asks for a _SUCCESS marker.",
    ),
    Variable(
        "MLOPS_SIMULATOR",
        "on",
        "on: the simulator lands each day's data before ingestion; off in production.",
    ),
    Variable("MLOPS_SIMULATOR_SEED", "42", "Seed of the simulator; same seed and date give the same bytes."),
    Variable("MLOPS_SIMULATOR_ROWS_PER_DAY", "3000", "Credit applications per simulated day (1 to 200000)."),
    Variable(
        "MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR",
        "0",
        "Scoring calls the simulated service logs an hour (0: one per application; "
        "above the hour's applications, pre-screening calls make up the rest; up to 50000).",
    ),
    Variable(
        "MLOPS_SIMULATOR_SCENARIO",
        "stable",
        "stable, income_shift, employment_bimodal, concept_drift, data_quality_incident, fairness_drift "
        "(one group's incomes fall) or narrow_score_band (bureau scores squeezed around 660); "
        "census_income: stable or hours_shift (ten more hours worked a week).",
    ),
    Variable(
        "MLOPS_SIMULATOR_ONSET", "", "ISO timestamp when the scenario starts (empty: from the beginning)."
    ),
    Variable("MLOPS_SIMULATOR_FORMAT", "csv", "File format the simulator lands: csv or parquet."),
    Variable(
        "MLOPS_SIMULATOR_DEFECT_RATE",
        "0.002",
        "Share of landed event rows the simulated producer damages (resent ids, out-of-range or unknown "
        "values, blanks).",
    ),
    Variable(
        "MLOPS_NOTIFY_SNS_TOPIC_ARN",
        "",
        "SNS topic for promotions, rejections, approvals and alerts (empty: one JSON file each under "
        "<storage root>/notifications).",
    ),
    Variable("MLOPS_NOTIFY_CONN_ID", "aws_default", "Airflow connection used to publish to the SNS topic."),
    Variable(
        "MLOPS_THREADS",
        "1",
        "BLAS/OpenMP threads of training and scoring (1 to 64). A fixed count makes the same data give the "
        "same model on any machine; the latency gate measures scoring on this many.",
    ),
    Variable(
        "MLOPS_SEARCH_CANDIDATES",
        "",
        "How many candidates of the fixed search plan a retraining fits (empty: all 11; make demo: 4).",
    ),
    Variable(
        "MLOPS_APPROVERS",
        "",
        "Who may approve a promotion in manual mode: comma-separated user ids as the auth manager knows "
        "them (the simple auth manager: user names; FAB: the numeric user id). Empty: any user the auth "
        "manager lets answer the DAG's required actions (with FAB, give only the risk officer role that "
        "permission). Whoever triggered the run is refused either way.",
    ),
    Variable(
        "MLFLOW_TRACKING_URI",
        "sqlite:///<MLOPS_LOCAL_DIR>/mlflow/mlflow.db",
        "MLflow tracking and registry store.",
    ),
    Variable(
        "MLOPS_MLFLOW_ARTIFACT_ROOT",
        "file://<MLOPS_LOCAL_DIR>/mlflow/artifacts",
        "Artifact location given to experiments this package creates (s3://... in production; "
        "mlflow-artifacts:/ for artifacts proxied by the tracking server, which then names each "
        "experiment's folder by its id).",
    ),
    Variable(
        "MLOPS_MLFLOW_UI_URL",
        "<MLFLOW_TRACKING_URI when http(s)>",
        "Where a person's browser opens the MLflow UI, for the links of the Model health page (the "
        "tracking URI a worker uses may be a name only the workers resolve). Empty with a local "
        "store: the page names the version without a link.",
    ),
    Variable(
        "MLOPS_MLFLOW_CONN_ID",
        "mlflow_default",
        "Airflow connection holding the tracking server's user name (login) and password, for a server "
        "with authentication (MLflow's basic-auth app). No such connection: no credentials are sent.",
    ),
    Variable(
        "MLOPS_MLFLOW_CONNECT_TIMEOUT_SECONDS",
        "5",
        "An http(s) tracking server that does not answer within this long fails the task at once, naming "
        "the URI (0.5 to 60).",
    ),
)

# MLflow's own HTTP client retries a refused connection 7 times with backoff (4-5 minutes) and waits
# 120 s for an answer. Defaults for processes that did not set them: a few quick retries, and an
# answer within a minute (large artifact uploads stream within it).
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}

SCENARIOS = (
    "stable",
    "income_shift",
    "employment_bimodal",
    "concept_drift",
    "data_quality_incident",
    "fairness_drift",
    "narrow_score_band",
    "hours_shift",
)


@dataclass(frozen=True)
class Settings:
    local_dir: Path
    storage_root: str
    storage_conn_id: str
    contracts_dir: Path
    dataset: str
    timezone: str
    landing_timeout_seconds: int
    landing_poke_seconds: int
    landing_quiet_seconds: int
    simulator_enabled: bool
    simulator_seed: int
    simulator_rows_per_day: int
    simulator_scoring_calls_per_hour: int
    simulator_scenario: str
    simulator_onset: str | None
    simulator_format: str
    simulator_defect_rate: float
    notify_sns_topic_arn: str | None
    notify_conn_id: str
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    threads: int
    search_candidates: int | None  # None: the whole plan
    mlflow_connect_timeout_seconds: float
    mlflow_conn_id: str
    mlflow_ui_url: str  # empty: no MLflow UI to link to
    approvers: tuple[str, ...]  # empty: whoever the auth manager lets answer


DEFAULTS = {variable.name: variable.default for variable in VARIABLES}


def _text(env: dict[str, str], name: str) -> str:
    """The variable's value, or the default VARIABLES states for it (the one place each default is)."""
    return env.get(name, DEFAULTS[name]).strip()


def _number(env: dict[str, str], name: str, low: float, high: float, kind=int):
    raw = _text(env, name)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside the allowed range {low}..{high}")
    return value


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _text(env, name)
    if value not in choices:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _path(env: dict[str, str], name: str) -> Path:
    path = Path(_text(env, name)).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _approvers(env: dict[str, str]) -> tuple[str, ...]:
    approvers = tuple(a.strip() for a in _text(env, "MLOPS_APPROVERS").split(",") if a.strip())
    bad = [a for a in approvers if not re.fullmatch(r"[A-Za-z0-9_.@+-]{1,256}", a)]
    if bad:
        raise SettingsError(
            f"MLOPS_APPROVERS: {', '.join(repr(a) for a in bad)} is not a user id (letters, digits, _ . @ + -)"
        )
    return approvers


def load(env: dict[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    local_dir = _path(env, "MLOPS_LOCAL_DIR")
    storage_root = env.get("MLOPS_STORAGE_ROOT", "").strip() or (local_dir / "storage").as_uri()
    if not re.match(r"^(file|s3)://", storage_root):
        raise SettingsError(f"MLOPS_STORAGE_ROOT={storage_root!r} must start with file:// or s3://")
    timezone = _text(env, "MLOPS_TIMEZONE")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"MLOPS_TIMEZONE={timezone!r} is not a known IANA timezone") from None
    onset = _text(env, "MLOPS_SIMULATOR_ONSET") or None
    if onset is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(onset)
        except ValueError:
            raise SettingsError(f"MLOPS_SIMULATOR_ONSET={onset!r} is not an ISO timestamp") from None
    topic = _text(env, "MLOPS_NOTIFY_SNS_TOPIC_ARN") or None
    if topic is not None and not re.fullmatch(
        r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", topic
    ):
        raise SettingsError(
            f"MLOPS_NOTIFY_SNS_TOPIC_ARN={topic!r} is not an SNS topic ARN "
            "(arn:aws:sns:<region>:<account>:<topic>)"
        )
    dataset = _text(env, "MLOPS_DATASET")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", dataset):
        raise SettingsError(f"MLOPS_DATASET={dataset!r} must be a lower-case identifier")
    return Settings(
        local_dir=local_dir,
        storage_root=storage_root.rstrip("/"),
        storage_conn_id=_text(env, "MLOPS_STORAGE_CONN_ID"),
        contracts_dir=_path(env, "MLOPS_CONTRACTS_DIR"),
        dataset=dataset,
        timezone=timezone,
        landing_timeout_seconds=_number(env, "MLOPS_LANDING_TIMEOUT_SECONDS", 0, 7 * 86400),
        landing_poke_seconds=_number(env, "MLOPS_LANDING_POKE_SECONDS", 1, 86400),
        landing_quiet_seconds=_number(env, "MLOPS_LANDING_QUIET_SECONDS", 0, 86400),
        simulator_enabled=_choice(env, "MLOPS_SIMULATOR", ("on", "off")) == "on",
        simulator_seed=_number(env, "MLOPS_SIMULATOR_SEED", 0, 2**32 - 1),
        simulator_rows_per_day=_number(env, "MLOPS_SIMULATOR_ROWS_PER_DAY", 1, 200_000),
        simulator_scoring_calls_per_hour=_number(env, "MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR", 0, 50_000),
        simulator_scenario=_choice(env, "MLOPS_SIMULATOR_SCENARIO", SCENARIOS),
        simulator_onset=onset,
        simulator_format=_choice(env, "MLOPS_SIMULATOR_FORMAT", ("csv", "parquet")),
        simulator_defect_rate=_number(env, "MLOPS_SIMULATOR_DEFECT_RATE", 0.0, 0.5, kind=float),
        notify_sns_topic_arn=topic,
        notify_conn_id=_text(env, "MLOPS_NOTIFY_CONN_ID"),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", "").strip()
        or f"sqlite:///{local_dir / 'mlflow' / 'mlflow.db'}",
        mlflow_artifact_root=env.get("MLOPS_MLFLOW_ARTIFACT_ROOT", "").strip()
        or (local_dir / "mlflow" / "artifacts").as_uri(),
        threads=_number(env, "MLOPS_THREADS", 1, 64),
        search_candidates=(
            _number(env, "MLOPS_SEARCH_CANDIDATES", 1, 1000)
            if _text(env, "MLOPS_SEARCH_CANDIDATES")
            else None
        ),
        mlflow_connect_timeout_seconds=_number(
            env, "MLOPS_MLFLOW_CONNECT_TIMEOUT_SECONDS", 0.5, 60, kind=float
        ),
        mlflow_conn_id=_text(env, "MLOPS_MLFLOW_CONN_ID"),
        mlflow_ui_url=_mlflow_ui_url(env),
        approvers=_approvers(env),
    )


def _mlflow_ui_url(env: dict[str, str]) -> str:
    given = env.get("MLOPS_MLFLOW_UI_URL", "").strip()
    tracking = env.get("MLFLOW_TRACKING_URI", "").strip()
    url = given or (tracking if tracking.startswith(("http://", "https://")) else "")
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"MLOPS_MLFLOW_UI_URL={url!r} must start with http:// or https://")
    return url.rstrip("/")


@contextmanager
def environment_kept(*names: str):
    """Undo what a library call writes to these variables: ``mlflow.set_tracking_uri`` exports the
    URI to MLFLOW_TRACKING_URI, which would make it this process's configuration from then on."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mlflow_http_limits() -> None:
    """Give MLflow's HTTP client this package's bounded retries and timeout (``MLFLOW_HTTP_DEFAULTS``)
    unless the process set its own: MLflow reads them from the environment at each request."""
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


MLFLOW_CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_credentials_exported: dict[str, str] = {}  # what mlflow_credentials last put in the environment


def mlflow_credentials(settings: Settings) -> None:
    """Give MLflow's client the tracking server's credentials from the Airflow connection
    ``MLOPS_MLFLOW_CONN_ID``: MLflow reads them from ``MLFLOW_TRACKING_USERNAME`` and
    ``..._PASSWORD`` at each request. Variables the process set itself win; what this function
    set follows the connection (and is removed with it). The credentials live in Airflow's
    connections or secrets backend, never in an image or a DAG file."""
    current = {name: os.environ.get(name) for name in MLFLOW_CREDENTIAL_VARIABLES}
    ours = not any(current.values()) or current == {
        name: _credentials_exported.get(name) for name in MLFLOW_CREDENTIAL_VARIABLES
    }
    if not ours:
        return  # the process set its own
    for name in MLFLOW_CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    _credentials_exported.clear()
    if not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        return
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(settings.mlflow_conn_id)
    except AirflowNotFoundException:
        return
    if not connection.login:
        raise SettingsError(
            f"Airflow connection {settings.mlflow_conn_id!r} (MLOPS_MLFLOW_CONN_ID) has no login: "
            "set the tracking server's user name and password on it"
        )
    _credentials_exported.update(
        {"MLFLOW_TRACKING_USERNAME": connection.login, "MLFLOW_TRACKING_PASSWORD": connection.password or ""}
    )
    os.environ.update(_credentials_exported)


@lru_cache(maxsize=1)
def get() -> Settings:
    """Settings of this process, read once."""
    return load()


REGENERATE = ".venv/bin/python -m include.settings > docs/configuration.md"


def _cell(text: str) -> str:
    """Text for a Markdown table cell, readable as written: ``|`` and ``<`` escaped."""
    return text.replace("|", "\\|").replace("<", "\\<")


def configuration_page() -> str:
    """docs/configuration.md: where settings are read, every variable of ``VARIABLES``, and the
    MLflow HTTP defaults this package sets. Regenerate the file with ``REGENERATE``."""
    variables = "\n".join(
        f"| `{v.name}` | {f'`{v.default}`' if v.default else '(empty)'} | {_cell(v.description)} |"
        for v in VARIABLES
    )
    mlflow = "\n".join(f"| `{name}` | `{value}` |" for name, value in MLFLOW_HTTP_DEFAULTS.items())
    return f"""# Configuration

<!-- Generated from include/settings.py; do not edit. Regenerate: {REGENERATE} -->

`include/settings.py` is the only module that reads configuration. Every setting is an
environment variable below, read once per process: restart the Airflow services after changing
one. A malformed value fails with a message that names the variable. S3, SNS and MLflow
credentials are not settings: they come from the Airflow connections that `MLOPS_STORAGE_CONN_ID`,
`MLOPS_NOTIFY_CONN_ID` and `MLOPS_MLFLOW_CONN_ID` name. Airflow's own settings (`AIRFLOW_HOME`, `AIRFLOW__...`) keep
their usual names; `make` sets `AIRFLOW_HOME=.local/airflow`, the DAG and plugin folders and
`PYTHONPATH` (the checkout and `plugins/`), and `eval "$(make -s env)"` gives your shell the
same. In the docker compose stack the variables come from `.env` ([docker-compose.md](docker-compose.md)).

| variable | default | what it changes |
|---|---|---|
{variables}

## MLflow's HTTP client

MLflow's own client retries a refused connection 7 times with backoff (4-5 minutes) and waits
120 s for an answer. Each time this package connects to the registry it first sets these
defaults in its process, unless the variable is already set: a few quick retries, and an answer
within a minute (large artifact uploads stream within it). Then it probes an http(s) tracking
server: one that does not answer within `MLOPS_MLFLOW_CONNECT_TIMEOUT_SECONDS` fails the task at
once, naming the URI.

| variable | default here |
|---|---|
{mlflow}
"""


if __name__ == "__main__":
    print(configuration_page(), end="")
