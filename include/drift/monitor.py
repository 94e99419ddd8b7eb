"""One hourly drift check, and the decision whether drift is sustained enough to retrain.

``check`` reads the run's capture window, compares it with the reference profile of the model
version that scored it (the champion of that hour, from the registry; never the training data
itself), stores the record in the drift history and, on an alert, renders Evidently's report.
``decide`` is what the sensor asks: k drifted windows in a row, no data-quality incident, no
drift-triggered retraining within the cooldown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from include import registry, storage
from include import settings as settings_module
from include.contract import Contract
from include.drift import history
from include.drift import window as window_module
from include.drift.profile import Profile

REPORT_SAMPLE_ROWS = 20_000  # reference rows read back for Evidently's HTML report (alerts only)


@lru_cache(maxsize=8)
def _reference(tracking_uri: str, name: str, version: str) -> tuple[Profile, str, list[dict]]:
    settings = settings_module.load({"MLFLOW_TRACKING_URI": tracking_uri})
    client = registry.client(settings)
    found = registry.get(client, name, version)

    def artifact(path: str):
        local = registry.call(client, f"read {path} of {name} v{version} (run {found.run_id})",
                              client.download_artifacts, found.run_id, path)
        return json.loads(Path(local).read_text())

    return Profile.from_dict(artifact("reference_profile.json")), found.run_id, artifact("lineage.json")


def reference(settings: settings_module.Settings, name: str, version: str) -> tuple[Profile, str, list[dict]]:
    """The reference profile logged with a registered version, its run id and its lineage."""
    return _reference(settings.mlflow_tracking_uri, name, str(version))


def champion_version(settings: settings_module.Settings, name: str) -> str | None:
    current = registry.by_alias(registry.client(settings), name, registry.CHAMPION)
    return current.version if current else None


def check(contract: Contract, interval_end: datetime, *, settings: settings_module.Settings | None = None,
          report: bool = False) -> dict:
    """Judge the window of the run whose data interval ends at ``interval_end``; return its record.

    Status: ``judged``, ``too_few_rows`` or ``no_champion`` (nothing to compare with; not stored,
    so a later run after the first champion judges the window). The Evidently report is rendered
    when the window raises an alert, or when ``report`` asks for it."""
    from include.drift.engine import detect

    s = settings or settings_module.get()
    start, end = window_module.bounds(interval_end, contract.monitoring.lookback_hours)
    existing = history.read_record(contract.name, end, s)
    if existing is not None:
        return existing  # the original run's result: retries and backfills report the same
    live = window_module.read(contract.name, start, end, s)
    version = window_module.scoring_version(live) or champion_version(s, contract.name)
    base = {"dataset": contract.name, "window_start": start.isoformat(), "window_end": end.isoformat(),
            "rows": live.rows, "hours_read": live.hours_read, "hours_missing": live.hours_missing,
            "model_version": version}
    if version is None:
        return {**base, "status": "no_champion"}
    if live.rows < contract.monitoring.min_window_rows:
        record = {**base, "status": "too_few_rows", "min_window_rows": contract.monitoring.min_window_rows}
        return history.write_record(contract.name, end, record, s)[0]
    profile, run_id, lineage = reference(s, contract.name, version)
    result = detect(profile, live.frame, contract)
    alert = result.dataset_drift or result.data_quality_incident
    record = {**base, "status": "judged", "reference_run_id": run_id, "reference_rows": profile.rows,
              "result": result.to_dict(), "alert": alert,
              "report": render_report(contract, live, lineage, s) if alert or report else None}
    return history.write_record(contract.name, end, record, s)[0]


def render_report(contract: Contract, live: window_module.Window, lineage: list[dict],
                  settings: settings_module.Settings) -> str:
    """Evidently's drift report of the window against a sample of the reference's training rows."""
    import pandas as pd

    from include.drift.report import render_html
    from include.ingestion.partition import read_curated

    days = sorted({e["partition"] for e in lineage if e["feed"] == contract.name})
    frames = [read_curated(contract.name, datetime.fromisoformat(d).date(), settings=settings) for d in days]
    reference_rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(reference_rows) > REPORT_SAMPLE_ROWS:
        reference_rows = reference_rows.sample(REPORT_SAMPLE_ROWS, random_state=0)
    end = live.end
    path = storage.path("monitoring", contract.name, "reports", f"dt={end.date().isoformat()}",
                        f"hour={end.hour:02d}.html", settings=settings)
    return render_html(reference_rows, live.frame, contract, path)


@dataclass(frozen=True)
class Decision:
    retrain: bool
    reason: str
    drifted_features: list[str]
    windows: list[str]
    reports: list[str]
    already_triggered: bool = False  # a rerun of the window that triggered: nothing to wait for

    def as_dict(self) -> dict:
        return asdict(self)


def decide(contract: Contract, window_end: datetime, *, settings: settings_module.Settings | None = None) -> Decision:
    """Whether the drift that ends at ``window_end`` is sustained and may trigger retraining."""
    s = settings or settings_module.get()
    rules = contract.monitoring
    records = history.recent(contract.name, window_end, rules.consecutive_windows, s)
    windows = [r["window_end"] for r in records if r]
    reports = [r["report"] for r in records if r and r.get("report")]

    def no(reason: str, features=()) -> Decision:
        return Decision(False, reason, list(features), windows, reports)

    if any(r is None or r.get("status") != "judged" for r in records):
        return no(f"the last {rules.consecutive_windows} windows are not all judged")
    # Windows overlap: any window sharing an hour with these ones and flagged as a data-quality
    # incident means broken rows may be what drifts here (an incident's first or last hours).
    overlapping = history.recent(contract.name, window_end, rules.consecutive_windows + rules.lookback_hours - 1, s)
    if any(r and r.get("status") == "judged" and r["result"]["data_quality_incident"] for r in overlapping):
        return no("data-quality incident in a window sharing hours with these: never retrain on broken data")
    if not all(r["result"]["dataset_drift"] for r in records):
        return no(f"drift not sustained over {rules.consecutive_windows} consecutive windows")
    drifted = sorted(set.intersection(*(set(r["result"]["drifted_columns"]) for r in records)))
    if storage.exists(history.trigger_path(contract.name, window_end, s)):
        return Decision(True, "this window already triggered retraining", drifted, windows, reports, True)
    last = history.last_trigger(contract.name, window_end, s)
    if last is not None and window_end - last < timedelta(hours=rules.cooldown_hours):
        return no(f"cooldown: drift triggered retraining at {last.isoformat()}, less than "
                  f"{rules.cooldown_hours:g} h before", drifted)
    return Decision(True, f"drift sustained over {rules.consecutive_windows} windows in "
                          f"{', '.join(drifted) or 'the dataset'}", drifted, windows, reports)


def land_missing_capture(contract: Contract, interval_end: datetime, *,
                         settings: settings_module.Settings | None = None) -> list[str]:
    """Simulator only: land the window's capture hours that do not exist yet, scored by the
    current champion (or unscored without one). Existing hours are never rewritten."""
    from include.simulator.land import land_capture_hour

    s = settings or settings_module.get()
    start, end = window_module.bounds(interval_end, contract.monitoring.lookback_hours)
    missing = [h for h in window_module.hours(start, end)
               if not storage.exists(window_module.hour_path(contract.name, h, s))]
    if not missing:
        return []
    scorer = champion_scorer(s, contract.name)
    return [land_capture_hour(contract, hour, settings=s, scorer=scorer) for hour in missing]


def champion_scorer(settings: settings_module.Settings, name: str):
    """What the scoring service does: ``models:/<name>@champion`` scores a frame of features."""
    version = champion_version(settings, name)
    if version is None:
        return None
    import mlflow

    from include import contract as contract_module

    registry.use(settings)
    model = registry.call(registry.client(settings), f"load {name} v{version}", mlflow.pyfunc.load_model,
                          f"models:/{name}/{version}")
    inputs = list(contract_module.load(name, settings.contracts_dir).features)
    # The rows as the service receives them: the registered model takes the contract's types.
    return lambda frame: (model.predict(frame[inputs])["score"].to_numpy(), version)


def _first_time(settings, dataset: str, name: str) -> bool:
    """True once per alert: a rerun or backfill of the same window or cohort does not alert again.
    The marker is written after the alert would be sent by the caller; a crash in between means
    the retry alerts (at least once, never silently lost)."""
    return not storage.exists(storage.path("monitoring", dataset, "alerted", f"{name}.json", settings=settings))


def _mark_sent(settings, dataset: str, name: str) -> None:
    storage.write_bytes_atomic(storage.path("monitoring", dataset, "alerted", f"{name}.json", settings=settings),
                               b"{}")


def publish_alert(contract: Contract, summary: dict, *, dag_run_id: str,
                  settings: settings_module.Settings | None = None) -> str | None:
    """Notify (and audit) a window that drifted or broke the data-quality checks; redraw the plot.
    Returns the plot's URI."""
    from include import audit, notify

    s = settings or settings_module.get()
    end = datetime.fromisoformat(summary["window_end"])
    if summary.get("alert") and _first_time(s, contract.name, f"drift-{end:%Y%m%dT%H%M}"):
        incident = summary["data_quality_incident"]
        kind = "data_quality_alert" if incident else "drift_alert"
        facts = {"type": "drift_detected", "time": end.isoformat(), "actor": "monitor", "dag_run_id": dag_run_id,
                 "model": contract.name, "version": summary["model_version"], "window_end": summary["window_end"],
                 "drifted_columns": summary["drifted_columns"], "share_drifted": summary["share_drifted"],
                 "data_quality": summary["quality"], "report": summary["report"]}
        audit.record([facts], day=end.date(), dag_run_id=dag_run_id, task="publish", key=f"{kind}:{end}", settings=s)
        what = ("data-quality incident (no retraining on broken data): " + "; ".join(summary["quality"])
                if incident else f"drift in {', '.join(summary['drifted_columns'])} "
                                 f"(share {summary['share_drifted']:.2f})")
        notify.publish(kind, f"{contract.name}: {kind.replace('_', ' ')} in the window ending {end:%Y-%m-%d %H:%M}",
                       f"{contract.name} window ending {end.isoformat()}: {what}.\nReport: {summary['report']}",
                       facts=facts, key=f"{dag_run_id}/publish", day=end.date(), settings=s)
        _mark_sent(s, contract.name, f"drift-{end:%Y%m%dT%H%M}")
    return history.plot(contract.name, history.between(contract.name, end - timedelta(days=7), end, s), s)


def record_retrain_trigger(contract: Contract, conf: dict, *, dag_run_id: str,
                           settings: settings_module.Settings | None = None) -> str:
    """Remember a drift-triggered retraining (for the cooldown), audit it and notify."""
    from include import audit, notify

    s = settings or settings_module.get()
    evidence = conf["evidence"]
    end = datetime.fromisoformat(evidence["window_end"])
    uri = history.record_trigger(contract.name, end, {"dag_run_id": dag_run_id, **conf}, s)
    if not _first_time(s, contract.name, f"trigger-{end:%Y%m%dT%H%M}"):
        return uri  # a rerun of this window: the retraining run id is the same and will be skipped
    facts = {"type": "retrain_triggered", "time": end.isoformat(), "actor": "monitor", "dag_run_id": dag_run_id,
             "model": contract.name, "reason": conf["reason"], "evidence": evidence}
    audit.record([facts], day=end.date(), dag_run_id=dag_run_id, task="record_trigger",
                 key=f"retrain_triggered:{end}", settings=s)
    notify.publish("retrain_triggered", f"{contract.name}: drift-triggered retraining",
                   f"{conf['reason']}\nWindows: {', '.join(evidence['windows'])}\nReports: "
                   f"{', '.join(evidence['reports']) or '-'}", facts=facts, key=f"{dag_run_id}/record_trigger",
                   day=end.date(), settings=s)
    _mark_sent(s, contract.name, f"trigger-{end:%Y%m%dT%H%M}")
    return uri


def performance_alert(contract: Contract, result: dict, *, window_days: int, dag_run_id: str,
                      settings: settings_module.Settings | None = None) -> dict:
    """Alert on a cohort whose realized AUC fell below the floor; return the retraining conf."""
    from datetime import date as date_type

    from include import audit, notify

    s = settings or settings_module.get()
    cohort = date_type.fromisoformat(result["cohort"])
    reason = (f"performance: realized AUC {result['auc']:.4f} below the floor {result['auc_floor']} on the "
              f"applications of {result['cohort']} ({result['labelled']} matured outcomes)")
    evidence = {"source": "monitor", "kind": "performance", "cohort": result["cohort"], "auc": result["auc"],
                "labelled": result["labelled"], "model_versions": result["model_versions"]}
    facts = {"type": "retrain_triggered", "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "actor": "monitor", "dag_run_id": dag_run_id, "model": contract.name, "reason": reason,
             "evidence": evidence}
    if _first_time(s, contract.name, f"performance-{cohort}"):
        audit.record([facts], day=cohort, dag_run_id=dag_run_id, task="alert", key=f"performance:{cohort}",
                     settings=s)
        notify.publish("performance_alert", f"{contract.name}: realized AUC below the floor", reason, facts=facts,
                       key=f"{dag_run_id}/alert", day=cohort, settings=s)
        _mark_sent(s, contract.name, f"performance-{cohort}")
    return {"reason": reason, "window_days": window_days, "promotion_mode": "auto", "force": False,
            "dataset": contract.name, "evidence": evidence}
