"""The monitors' alerts, each audited and notified once: a drifted or broken window, a
drift-triggered retraining (also remembered for the cooldown), a cohort below the AUC floor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import history
from include.training import request
from include.training.request import monitor_request


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def monitor_event(event_type: str, contract: Contract, dag_run_id: str, **facts) -> dict:
    """An audit event a monitor raises now, with its facts."""
    return {
        "type": event_type,
        "time": now(),
        "actor": "monitor",
        "dag_run_id": dag_run_id,
        "model": contract.name,
        **facts,
    }


def alert_once(
    contract: Contract,
    marker: str,
    *,
    kind: str,
    subject: str,
    message: str,
    facts: dict,
    interval: tuple[date | datetime, date | datetime],
    dag_run_id: str,
    task: str,
    audit_key: str,
    settings: settings_module.Settings,
) -> None:
    """Audit ``facts`` and publish the notification, once per ``marker``: a rerun or backfill of
    the same window or cohort does not alert again. The marker is written after the alert is
    sent; a crash in between means the retry alerts (at least once, never silently lost).
    ``interval`` is the data the alert concerns; the event's time is when it was raised."""
    from include import audit, notify

    path = storage.path("monitoring", contract.name, "alerted", f"{marker}.json", settings=settings)
    if storage.exists(path):
        return
    audit.record(
        [facts], interval=interval, dag_run_id=dag_run_id, task=task, key=audit_key, settings=settings
    )
    day = interval[1].date() if isinstance(interval[1], datetime) else interval[1]
    notify.publish(
        kind, subject, message, facts=facts, key=f"{dag_run_id}/{task}", day=day, settings=settings
    )
    storage.write_bytes_atomic(path, b"{}")


def publish_alert(
    contract: Contract, summary: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> str | None:
    """Notify (and audit) a window that drifted or broke the data-quality checks; redraw the plot.
    Returns the plot's URI."""
    s = settings or settings_module.get()
    end = datetime.fromisoformat(summary["window_end"])
    if summary.get("alert"):
        incident = summary["data_quality_incident"]
        kind = "data_quality_alert" if incident else "drift_alert"
        facts = monitor_event(
            "drift_detected",
            contract,
            dag_run_id,
            version=summary["model_version"],
            window_end=summary["window_end"],
            drifted_columns=summary["drifted_columns"],
            share_drifted=summary["share_drifted"],
            data_quality=summary["quality"],
            report=summary["report"],
        )
        what = (
            "data-quality incident (no retraining on broken data): " + "; ".join(summary["quality"])
            if incident
            else f"drift in {', '.join(summary['drifted_columns'])} (share {summary['share_drifted']:.2f})"
        )
        alert_once(
            contract,
            f"drift-{end:%Y%m%dT%H%M}",
            kind=kind,
            subject=f"{contract.name}: {kind.replace('_', ' ')} in the window ending {end:%Y-%m-%d %H:%M}",
            message=f"{contract.name} window ending {end.isoformat()}: {what}.\nReport: {summary['report']}",
            facts=facts,
            interval=(datetime.fromisoformat(summary["window_start"]), end),
            dag_run_id=dag_run_id,
            task="publish",
            audit_key=f"{kind}:{end}",
            settings=s,
        )
    return redraw_plot(contract, end, s)


def redraw_plot(contract: Contract, end: datetime, settings: settings_module.Settings) -> str | None:
    """The drift plot of the week up to ``end``, with its triggers and champion changes marked."""
    from include.health.timeline import events

    records = history.between(contract.name, end - timedelta(days=7), end, settings)
    triggers = [
        datetime.fromisoformat(t["evidence"]["window_end"]) for t in history.triggers(contract.name, settings)
    ]
    changes = [
        (datetime.fromisoformat(e["time"]), f"v{e['version']}")
        for e in events(contract.name, settings)
        if e["type"] in ("promoted", "rollback")
    ]
    return history.plot(
        contract.name,
        records,
        settings,
        drift_share=contract.monitoring.drift_share,
        triggers=triggers,
        changes=changes,
    )


def record_retrain_trigger(
    contract: Contract, conf: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> str:
    """Remember a drift-triggered retraining (for the cooldown), record the request under the run
    id to trigger (which makes the monitor its actor), audit it and notify; returns that run id. A
    rerun of the window does not alert again: its retraining run id is the same and is skipped."""
    s = settings or settings_module.get()
    evidence = conf["evidence"]
    end = datetime.fromisoformat(evidence["window_end"])
    history.record_trigger(contract.name, end, {"dag_run_id": dag_run_id, **conf}, s)
    run_id = request.record(conf, s)
    facts = monitor_event(
        "retrain_triggered",
        contract,
        dag_run_id,
        reason=conf["reason"],
        evidence=evidence,
    )
    alert_once(
        contract,
        f"trigger-{end:%Y%m%dT%H%M}",
        kind="retrain_triggered",
        subject=f"{contract.name}: drift-triggered retraining",
        message=f"{conf['reason']}\nWindows: {', '.join(evidence['windows'])}\nReports: "
        f"{', '.join(evidence['reports']) or '-'}",
        facts=facts,
        # from the end of the first drifted window of the evidence to the end of the last
        interval=(min((datetime.fromisoformat(w) for w in evidence["windows"]), default=end), end),
        dag_run_id=dag_run_id,
        task="record_trigger",
        audit_key=f"retrain_triggered:{end}",
        settings=s,
    )
    return run_id


def performance_alert(
    contract: Contract,
    result: dict,
    *,
    window_days: int,
    dag_run_id: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Alert on a cohort whose realized AUC fell below the floor, record the retraining request
    (``request.monitor_run_id(conf)`` is the run to trigger); return the retraining conf."""
    s = settings or settings_module.get()
    cohort = date.fromisoformat(result["cohort"])
    reason = (
        f"performance: realized AUC {result['auc']:.4f} below the floor {result['auc_floor']} on the "
        f"applications of {result['cohort']} ({result['labelled']} matured outcomes)"
    )
    conf = monitor_request(
        contract,
        kind="performance",
        reason=reason,
        window_days=window_days,
        evidence={
            "cohort": result["cohort"],
            "auc": result["auc"],
            "labelled": result["labelled"],
            "model_versions": result["model_versions"],
        },
    )
    facts = monitor_event(
        "retrain_triggered",
        contract,
        dag_run_id,
        reason=reason,
        evidence=conf["evidence"],
    )
    alert_once(
        contract,
        f"performance-{cohort}",
        kind="performance_alert",
        subject=f"{contract.name}: realized AUC below the floor",
        message=reason,
        facts=facts,
        interval=(cohort, cohort),
        dag_run_id=dag_run_id,
        task="alert",
        audit_key=f"performance:{cohort}",
        settings=s,
    )
    request.record(conf, s)
    return conf
