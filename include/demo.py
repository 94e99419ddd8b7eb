"""`make demo`: the whole loop on the embedded defaults, printed as a short timeline.

1. ingest 14 simulated days through ``nightly_ingestion``;
2. train champion v1 with ``weekly_retraining`` and show its metrics, gates and reason codes;
3. monitor hourly with ``drift_monitoring`` while the simulator shifts incomes from the night
   after the last day (scenario ``income_shift``);
4. the sensor finds the drift sustained and triggers ``weekly_retraining``; that run trains v2,
   judges it and promotes it.

Every step is a ``dag.test()`` of the real DAG, the code path the scheduler takes; state lands
in .local/ (Airflow DB, storage, MLflow). The triggered retraining run is executed in-process
too: ``dag.test`` replaces the queued run of that logical date with the one it runs.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date, datetime, time, timedelta, timezone

INGEST, RETRAIN, MONITOR = "nightly_ingestion", "weekly_retraining", "drift_monitoring"
MONITOR_HOURS = 12  # hourly runs after the onset at most; the trigger comes long before
DEMO_SEARCH_CANDIDATES = 4


def _table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths)) for r in [header] + rows)


def _report(feed: str, day: date) -> dict | None:
    from include import storage
    from include.ingestion.commit import read_report

    for zone in ("curated", "quarantine"):
        report = read_report(storage.partition(zone, feed, day))
        if report is not None and (zone == "quarantine" or report["status"] == "passed"):
            return report
    return None


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    from include import settings

    bag = DagBag(str(settings.PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag


def ingest(days: list[date], timeline: list[str]) -> bool:
    from include import contract, settings, storage

    dag = _bag().dags[INGEST]
    feeds = [f.name for f in contract.load(settings.get().dataset).feeds()]
    rows = []
    for day in days:
        # The 02:00 run of the next morning covers this day; a second run of a date is a rerun.
        run = dag.test(logical_date=datetime.combine(day + timedelta(days=1), time(2), tzinfo=timezone.utc),
                       run_conf={"date": day.isoformat()})
        for feed in feeds:
            counts = (_report(feed, day) or {}).get("counts", {})
            rows.append((day.isoformat(), feed, str(run.state), counts.get("landed"), counts.get("curated"),
                         counts.get("quarantined")))
    print("\n" + _table(("date", "feed", "run", "landed", "curated", "quarantined"), rows))
    totals = {f: [sum(r[i] or 0 for r in rows if r[1] == f) for i in (3, 4, 5)] for f in feeds}
    timeline.append(f"ingested {days[0]}..{days[-1]}: " + "; ".join(
        f"{f} {t[0]} landed, {t[1]} curated, {t[2]} quarantined" for f, t in totals.items()))
    print(f"curated partitions: {storage.describe(storage.path('curated'))}")
    return all(r[2] == "success" for r in rows)


def retrain(run, timeline: list[str], label: str) -> bool:
    """Print what a weekly_retraining run did, from the audit trail and the registry."""
    from include import audit, registry, settings

    config = settings.get()
    day = run.data_interval_end.astimezone(timezone.utc).date() - timedelta(days=1)
    events = [e for e in audit.read(day, day) if e["dag_run_id"] == run.run_id]
    registered = next((e for e in events if e["type"] == "registered"), None)
    if registered is None:
        print(f"\nretraining run ended {run.state} without registering a model; see the task logs above")
        timeline.append(f"{label}: run {run.run_id} ended {run.state} without a model")
        return False
    name, version = registered["model"], registered["version"]
    print(f"\nmodel {name} v{version} trained on {registered['window'][0]}..{registered['window'][1]} "
          f"({len(registered['data_versions'])} partitions); reason: {registered['reason']}")
    print("holdout: " + ", ".join(f"{k} {v:.4f}" for k, v in registered["metrics"].items()))
    print(_table(("gate", "result", "observed", "threshold"), [
        (e["name"], "pass" if e["passed"] else "FAIL", e["observed"], e["threshold"]) for e in events
        if e["type"] == "gate_result"]))
    decision = next((e for e in events if e["type"] in ("promoted", "rejected")), {})
    champion = registry.by_alias(registry.client(config), name, registry.CHAMPION)
    replaced = decision.get("replaced_version")
    outcome = ((f"promoted to champion, replacing v{replaced}" if replaced else "promoted: the first champion")
               if decision.get("type") == "promoted" else f"not promoted: failed {decision.get('failed_gates')}")
    print(f"v{version} {outcome}; champion is now v{champion.version if champion else '-'}")
    timeline.append(f"{label}: v{version}, holdout AUC {registered['metrics']['roc_auc']:.4f}, {outcome}")
    return str(run.state) == "success"


def score_three(day: date) -> None:
    import mlflow
    import pandas as pd

    from include import contract, registry, settings
    from include.ingestion.partition import read_curated

    config = settings.get()
    credit = contract.load(config.dataset)
    registry.use(config)
    model = mlflow.pyfunc.load_model(f"models:/{credit.name}@champion")
    sample = read_curated(credit.name, day).head(3)[list(credit.features)]  # as curated: no cast
    print(f"\nthree applications of {day} scored by models:/{credit.name}@champion, with reason codes:")
    print(pd.concat([sample[list(credit.monitoring.critical_features)].reset_index(drop=True),
                     model.predict(sample)], axis=1).round(3).to_string(index=False))


def monitor(onset: datetime, timeline: list[str]):
    """Hourly runs from two hours before the onset until the sensor triggers retraining;
    returns the triggered DagRun (or None)."""
    from airflow.models import DagRun

    from include import settings
    from include.monitoring import history

    os.environ.update({"MLOPS_SIMULATOR_SCENARIO": "income_shift", "MLOPS_SIMULATOR_ONSET": onset.isoformat()})
    settings.get.cache_clear()
    dataset = settings.get().dataset
    dag = _bag().dags[MONITOR]
    print(f"\nmonitoring hourly; the simulator shifts incomes x1.155 from {onset:%Y-%m-%d %H:%M} UTC")
    rows = []
    for hours in range(-1, MONITOR_HOURS + 1):
        hour = onset + timedelta(hours=hours)
        run = dag.test(logical_date=hour + timedelta(minutes=5))  # the run due at hh:05 judges the look-back before hh
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        record = history.read_record(dataset, hour) or {}
        result = record.get("result") or {}
        rows.append((f"{hour:%m-%d %H:%M}", record.get("status", states.get("check_drift")), record.get("rows"),
                     f"{result.get('share_drifted', 0):.2f}", ",".join(result.get("drifted_columns", [])) or "-",
                     "yes" if record.get("alert") else "no", states.get("sustained_drift"),
                     states.get("trigger_retraining")))
        if record.get("alert"):
            timeline.append(f"window ending {hour:%m-%d %H:%M}: drift in {', '.join(result['drifted_columns'])} "
                            f"(report {record['report']})")
        if states.get("trigger_retraining") == "success":
            break
    print(_table(("window end", "status", "rows", "share", "drifted", "alert", "sensor", "trigger"), rows))
    triggered = [r for r in DagRun.find(dag_id=RETRAIN) if r.run_id.startswith(f"drift__{dataset}__")]
    if not triggered:
        timeline.append(f"no retraining triggered within {MONITOR_HOURS} hours of the onset")
        return None
    run = max(triggered, key=lambda r: r.run_after)
    timeline.append(f"{(hour - onset).total_seconds() / 3600:.0f} h after the onset the sensor triggered "
                    f"{RETRAIN} run {run.run_id}: {run.conf['reason']}")
    return run


def _earlier_champion(config) -> str | None:
    from include import registry

    champion = registry.by_alias(registry.client(config), config.dataset, registry.CHAMPION)
    return None if champion is None else champion.version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="how many days to ingest (default 14)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last day to ingest, YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--rows-per-day", type=int, default=6000,
                        help="simulated applications a day (default 6000: 750 in each 3-hour drift window)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLOPS_SIMULATOR_ROWS_PER_DAY", str(args.rows_per_day))
    # The first 4 candidates of the search plan (both families) instead of all 11: the demo's two
    # trainings stay under a minute of CPU; the choice is as reproducible as the full search's.
    os.environ.setdefault("MLOPS_SEARCH_CANDIDATES", str(DEMO_SEARCH_CANDIDATES))
    end = args.end or (datetime.now(timezone.utc).date() - timedelta(days=1))
    days = [end - timedelta(days=n) for n in range(args.days - 1, -1, -1)]

    from airflow.utils import db

    from include import settings, storage

    config = settings.get()
    print(f"storage root: {config.storage_root}\nAirflow home: {os.environ.get('AIRFLOW_HOME')}\n"
          f"MLflow store: {config.mlflow_tracking_uri}")
    if (earlier := _earlier_champion(config)) is not None:
        # The story needs an empty registry: a rerun's first model would not beat the earlier
        # champion, and the drift trigger of these windows already fired (by design, once).
        print(f"\nThe MLflow store already holds {config.dataset} v{earlier} as champion, from an earlier "
              f"run here. `make clean` deletes .local (Airflow DB, storage, MLflow store); then run "
              f"`make demo` again.")
        return 2
    db.initdb()
    timeline: list[str] = []
    ok = ingest(days, timeline)
    # The run right after the last day: its window ends on that day.
    first = _bag().dags[RETRAIN].test(logical_date=datetime.combine(end + timedelta(days=1), time(3),
                                                                     tzinfo=timezone.utc),
                                      run_conf={"reason": "make demo: first model", "window_days": 14})
    ok = retrain(first, timeline, "weekly_retraining (first)") and ok
    score_three(end)
    triggered = monitor(datetime.combine(end + timedelta(days=1), time(0), tzinfo=timezone.utc), timeline)
    if triggered is not None:
        second = _bag().dags[RETRAIN].test(logical_date=triggered.logical_date, run_conf=triggered.conf)
        ok = retrain(second, timeline, "weekly_retraining (triggered by drift)") and ok
    else:
        ok = False

    local = storage.describe(storage.path())
    print("\n== timeline ==\n" + "\n".join(f"- {line}" for line in timeline))
    print(f"""
== where to look ==
- drift history and plot: {local}/monitoring/{config.dataset}/drift/ and .../drift_scores.png
- Evidently reports:      {local}/monitoring/{config.dataset}/reports/
- audit trail:            {local}/audit/   notifications: {local}/notifications/
- Airflow UI:             make airflow   (http://localhost:8080, these runs are in its database)
- MLflow UI:              .venv/bin/mlflow ui --backend-store-uri {config.mlflow_tracking_uri}""")
    print(json.dumps({"ok": ok, "steps": len(timeline)}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
