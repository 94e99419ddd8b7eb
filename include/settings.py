"""The one module that reads configuration.

Every knob comes from an environment variable listed in ``VARIABLES`` (and documented in
the README). Defaults are the embedded set-up: everything under ``.local/`` in the
checkout. Nothing else in the package reads ``os.environ`` or hard-codes a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    description: str


VARIABLES: tuple[Variable, ...] = (
    Variable("MLOPS_LOCAL_DIR", ".local", "Folder for every embedded default (relative to the checkout)."),
    Variable("MLOPS_STORAGE_ROOT", "file://<MLOPS_LOCAL_DIR>/storage",
             "Root URI of all zones (landing, curated, quarantine): file:///path or s3://bucket/prefix."),
    Variable("MLOPS_STORAGE_CONN_ID", "aws_default", "Airflow connection used for s3:// storage roots."),
    Variable("MLOPS_CONTRACTS_DIR", "include/contracts", "Folder of dataset contract YAML files."),
    Variable("MLOPS_DATASET", "credit_applications", "Dataset the scheduled runs process."),
    Variable("MLOPS_TIMEZONE", "UTC", "Timezone of the cron schedules and of partition dates."),
    Variable("MLOPS_LANDING_TIMEOUT_SECONDS", "21600", "How long the nightly run waits for a landing partition."),
    Variable("MLOPS_LANDING_POKE_SECONDS", "300", "How often the landing sensor looks (reschedule mode)."),
    Variable("MLOPS_SIMULATOR", "on", "on: the simulator lands each day's data before ingestion; off in production."),
    Variable("MLOPS_SIMULATOR_SEED", "42", "Seed of the simulator; same seed and date give the same bytes."),
    Variable("MLOPS_SIMULATOR_ROWS_PER_DAY", "3000", "Credit applications per simulated day (1 to 200000)."),
    Variable("MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR", "0",
             "Scoring calls the simulated service logs an hour (0: one per application; "
             "above the hour's applications, pre-screening calls make up the rest; up to 50000)."),
    Variable("MLOPS_SIMULATOR_SCENARIO", "stable",
             "stable, income_shift, employment_bimodal, concept_drift or data_quality_incident."),
    Variable("MLOPS_SIMULATOR_ONSET", "", "ISO timestamp when the scenario starts (empty: from the beginning)."),
    Variable("MLOPS_SIMULATOR_FORMAT", "csv", "File format the simulator lands: csv or parquet."),
    Variable("MLOPS_SIMULATOR_DEFECT_RATE", "0.002",
             "Share of landed event rows the simulated producer damages (resent ids, out-of-range or unknown values, blanks)."),
    Variable("MLOPS_NOTIFY_SNS_TOPIC_ARN", "",
             "SNS topic for promotions, rejections, approvals and alerts (empty: one JSON file each under <storage root>/notifications)."),
    Variable("MLOPS_NOTIFY_CONN_ID", "aws_default", "Airflow connection used to publish to the SNS topic."),
    Variable("MLFLOW_TRACKING_URI", "sqlite:///<MLOPS_LOCAL_DIR>/mlflow/mlflow.db", "MLflow tracking and registry store."),
    Variable("MLOPS_MLFLOW_ARTIFACT_ROOT", "file://<MLOPS_LOCAL_DIR>/mlflow/artifacts",
             "Artifact location given to experiments this package creates (s3://... in production)."),
)

SCENARIOS = ("stable", "income_shift", "employment_bimodal", "concept_drift", "data_quality_incident")


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


def _number(env: dict[str, str], name: str, default: str, low: float, high: float, kind=int):
    raw = env.get(name, default).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside the allowed range {low}..{high}")
    return value


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, default).strip()
    if value not in choices:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _path(env: dict[str, str], name: str, default: str) -> Path:
    path = Path(env.get(name, default)).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def load(env: dict[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    local_dir = _path(env, "MLOPS_LOCAL_DIR", ".local")
    storage_root = env.get("MLOPS_STORAGE_ROOT", "").strip() or (local_dir / "storage").as_uri()
    if not re.match(r"^(file|s3)://", storage_root):
        raise SettingsError(f"MLOPS_STORAGE_ROOT={storage_root!r} must start with file:// or s3://")
    timezone = env.get("MLOPS_TIMEZONE", "UTC").strip()
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"MLOPS_TIMEZONE={timezone!r} is not a known IANA timezone") from None
    onset = env.get("MLOPS_SIMULATOR_ONSET", "").strip() or None
    if onset is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(onset)
        except ValueError:
            raise SettingsError(f"MLOPS_SIMULATOR_ONSET={onset!r} is not an ISO timestamp") from None
    topic = env.get("MLOPS_NOTIFY_SNS_TOPIC_ARN", "").strip() or None
    if topic is not None and not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", topic):
        raise SettingsError(f"MLOPS_NOTIFY_SNS_TOPIC_ARN={topic!r} is not an SNS topic ARN "
                            "(arn:aws:sns:<region>:<account>:<topic>)")
    dataset = env.get("MLOPS_DATASET", "credit_applications").strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", dataset):
        raise SettingsError(f"MLOPS_DATASET={dataset!r} must be a lower-case identifier")
    return Settings(
        local_dir=local_dir,
        storage_root=storage_root.rstrip("/"),
        storage_conn_id=env.get("MLOPS_STORAGE_CONN_ID", "aws_default").strip(),
        contracts_dir=_path(env, "MLOPS_CONTRACTS_DIR", "include/contracts"),
        dataset=dataset,
        timezone=timezone,
        landing_timeout_seconds=_number(env, "MLOPS_LANDING_TIMEOUT_SECONDS", "21600", 0, 7 * 86400),
        landing_poke_seconds=_number(env, "MLOPS_LANDING_POKE_SECONDS", "300", 1, 86400),
        simulator_enabled=_choice(env, "MLOPS_SIMULATOR", "on", ("on", "off")) == "on",
        simulator_seed=_number(env, "MLOPS_SIMULATOR_SEED", "42", 0, 2**32 - 1),
        simulator_rows_per_day=_number(env, "MLOPS_SIMULATOR_ROWS_PER_DAY", "3000", 1, 200_000),
        simulator_scoring_calls_per_hour=_number(env, "MLOPS_SIMULATOR_SCORING_CALLS_PER_HOUR", "0", 0, 50_000),
        simulator_scenario=_choice(env, "MLOPS_SIMULATOR_SCENARIO", "stable", SCENARIOS),
        simulator_onset=onset,
        simulator_format=_choice(env, "MLOPS_SIMULATOR_FORMAT", "csv", ("csv", "parquet")),
        simulator_defect_rate=_number(env, "MLOPS_SIMULATOR_DEFECT_RATE", "0.002", 0.0, 0.5, kind=float),
        notify_sns_topic_arn=topic,
        notify_conn_id=env.get("MLOPS_NOTIFY_CONN_ID", "aws_default").strip(),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI", "").strip()
        or f"sqlite:///{local_dir / 'mlflow' / 'mlflow.db'}",
        mlflow_artifact_root=env.get("MLOPS_MLFLOW_ARTIFACT_ROOT", "").strip()
        or (local_dir / "mlflow" / "artifacts").as_uri(),
    )


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


@lru_cache(maxsize=1)
def get() -> Settings:
    """Settings of this process, read once."""
    return load()
