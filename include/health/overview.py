"""One dataset's Model health page as JSON: every section, and where each fact can be checked.

Links are relative to the page (``dags/...`` for Airflow's own run pages, ``reports/...`` for the
Evidently reports the plugin serves from the storage root) or absolute to the MLflow UI when one
is configured (``MLOPS_MLFLOW_UI_URL``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.health import drift, outcomes, timeline
from include.monitoring import history

MAX_DAYS = 731  # two years of history at most per request
REPORT_NAME = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})\.html$")


def mlflow_link(settings: settings_module.Settings, name: str, version: str | None) -> str | None:
    if not settings.mlflow_ui_url or not version:
        return None
    return f"{settings.mlflow_ui_url}/#/models/{quote(name)}/versions/{quote(str(version))}"


def run_link(dag_id: str, run_id: str | None) -> str | None:
    """Airflow's page of a DAG run, relative to the Airflow UI's base."""
    return f"dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}" if run_id else None


def report_link(contract: Contract, uri: str | None, settings: settings_module.Settings) -> str | None:
    """The plugin's address of a stored Evidently report (``reports/<dataset>/dt=<day>/hour=<HH>.html``),
    or None for a URI outside the dataset's reports."""
    if not uri:
        return None
    base = storage.describe(storage.path("monitoring", contract.name, "reports", settings=settings)) + "/"
    relative = uri[len(base) :] if uri.startswith(base) else ""
    return f"reports/{quote(contract.name)}/{relative}" if REPORT_NAME.match(relative) else None


def report_path(contract: Contract, relative: str, settings: settings_module.Settings | None = None):
    """The stored report a ``reports/...`` link names; None when the name is not one of them (so
    nothing but the dataset's own reports is ever read)."""
    found = REPORT_NAME.match(relative)
    if not found:
        return None
    day, hour = found.groups()
    return storage.path(
        "monitoring", contract.name, "reports", f"dt={day}", f"hour={hour}.html", settings=settings
    )


def _dag_of(event: dict) -> str | None:
    run = event.get("dag_run_id") or ""
    if event["type"] == "shadow_retired" or (event["type"] == "promoted" and event.get("mode") == "shadow"):
        return "shadow_evaluation"
    if event["type"] == "rollback" and event.get("actor") == "monitor":
        return "performance_monitoring"
    if event["type"] == "rollback":
        return "model_rollback"
    if event["type"] == "alias_unexplained":
        return "registry_reconciliation"
    return "weekly_retraining" if run else None


def build(
    contract: Contract,
    *,
    days: int = 90,
    until: datetime | None = None,
    settings: settings_module.Settings | None = None,
) -> dict:
    """The page of ``contract``'s dataset over the ``days`` days up to ``until`` (default: now;
    the clock only chooses which stored facts to show, never what they say)."""
    s = settings or settings_module.get()
    days = max(1, min(int(days), MAX_DAYS))
    last = (until or datetime.now(UTC)).astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    versions = timeline.timeline(contract.name, s)
    for event in versions["decisions"] + versions["alerts"]:
        dag = _dag_of(event) if event["type"] != "retrain_triggered" else "drift_monitoring"
        event["links"] = {
            "run": run_link(dag, event.get("dag_run_id")) if dag else None,
            "mlflow": mlflow_link(s, contract.name, event.get("version")),
        }
    champion = versions["champion"]
    champion["mlflow"] = mlflow_link(s, contract.name, champion["version"])
    windows = drift.windows(contract, first, last, settings=s)
    heat = drift.heatmap(contract, windows, history.triggers(contract.name, s))
    heat["reports"] = [[i, report_link(contract, uri, s)] for i, uri in heat["reports"]]
    for trigger in heat["triggers"]:
        trigger["link"] = run_link("weekly_retraining", trigger["run_id"])
    return {
        "dataset": contract.name,
        "description": contract.description,
        "range": {"first": first.isoformat(), "last": last.isoformat(), "days": days},
        "versions": versions,
        "drift": heat,
        "performance": outcomes.performance(contract, first, last, settings=s),
        "fairness": outcomes.fairness(contract, first, last, settings=s),
        "mlflow_ui": s.mlflow_ui_url or None,
    }
