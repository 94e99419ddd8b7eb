"""`make demo`: simulate and ingest 14 days through the real nightly DAG on the embedded
defaults, train and judge a challenger with the weekly DAG, and print what happened: what
landed, was curated and quarantined; the model version, its metrics, its gate table, the
champion alias and the reason codes it gives for three applications.

Each run is a ``dag.test()`` of the real DAG, the same code path the scheduler takes; state
lands in .local/ (Airflow DB, storage, MLflow). A second ``make demo`` retrains on the same
data: that challenger cannot beat the champion by the margin and is rejected, as it should be.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta, timezone

DAG_ID = "nightly_ingestion"
RETRAIN_DAG_ID = "weekly_retraining"


def _table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths)) for r in [header] + rows)


def _retrain(bag, end: date) -> bool:
    """One weekly_retraining run whose window ends on ``end``; prints its outcome from the audit
    trail and the registry. Returns whether the run succeeded."""
    import pandas as pd

    from include import audit, contract, registry, settings
    from include.training.candidates import features
    from include.ingestion.partition import read_curated

    config = settings.get()
    logical = datetime.combine(end + timedelta(days=1), time(3), tzinfo=timezone.utc)
    run = bag.dags[RETRAIN_DAG_ID].test(logical_date=logical, run_conf={
        "reason": "make demo: train on the simulated days", "window_days": 14})
    events = [e for e in audit.read(end, end) if e["dag_run_id"] == run.run_id]
    registered = next((e for e in events if e["type"] == "registered"), None)
    if registered is None:
        print(f"\nretraining run ended {run.state} without registering a model; see the task logs above")
        return False
    print(f"\nmodel {registered['model']} v{registered['version']} trained on {registered['window'][0]}.."
          f"{registered['window'][1]} ({len(registered['data_versions'])} partitions)")
    print("holdout: " + ", ".join(f"{k} {v:.4f}" for k, v in registered["metrics"].items()))
    gates = [(e["name"], "pass" if e["passed"] else "FAIL", e["observed"], e["threshold"]) for e in events
             if e["type"] == "gate_result"]
    print(_table(("gate", "result", "observed", "threshold"), gates))
    decision = next((e for e in events if e["type"] in ("promoted", "rejected")), {})
    if decision.get("type") == "rejected":
        print(f"not promoted: failed {', '.join(decision['failed_gates'])} (a rerun on the same data cannot "
              "beat the champion by the margin)")
    client = registry.client(config)
    champion = registry.by_alias(client, registered["model"], registry.CHAMPION)
    print(f"champion: {registered['model']} v{champion.version if champion else '-'}  "
          f"(models:/{registered['model']}@champion, MLflow store {config.mlflow_tracking_uri})")
    if champion is not None:
        import mlflow

        registry.use(config)
        model = mlflow.pyfunc.load_model(f"models:/{registered['model']}@champion")
        credit = contract.load(config.dataset)
        sample = features(read_curated(credit.feeds()[0].name, end).head(3), credit)
        scored = pd.concat([sample[["annual_income", "credit_score", "debt_to_income"]].reset_index(drop=True),
                            model.predict(sample)], axis=1)
        print("\nthree applications of " + end.isoformat() + " scored by the champion, with reason codes:")
        print(scored.round(3).to_string(index=False))
    return str(run.state) == "success"


def _report(feed: str, day: date) -> dict | None:
    from include import storage
    from include.ingestion.commit import read_report

    for zone in ("curated", "quarantine"):
        report = read_report(storage.partition(zone, feed, day))
        if report is not None and (zone == "quarantine" or report["status"] == "passed"):
            return report
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="how many days to ingest (default 14)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last day to ingest, YYYY-MM-DD (default: yesterday, UTC)")
    args = parser.parse_args(argv)
    end = args.end or (datetime.now(timezone.utc).date() - timedelta(days=1))
    days = [end - timedelta(days=n) for n in range(args.days - 1, -1, -1)]

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db
    from airflow.utils.state import DagRunState

    from include import contract, settings, storage

    config = settings.get()
    print(f"storage root: {config.storage_root}\nAirflow home: {__import__('os').environ.get('AIRFLOW_HOME')}")
    db.initdb()
    bag = DagBag(str(settings.PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[DAG_ID]
    feeds = [f.name for f in contract.load(config.dataset).feeds()]

    rows = []
    for day in days:
        # The 02:00 run of the next morning covers this day; a second run of a date is a rerun.
        logical = datetime.combine(day + timedelta(days=1), time(2), tzinfo=timezone.utc)
        run = dag.test(logical_date=logical, run_conf={"date": day.isoformat()})
        for feed in feeds:
            report = _report(feed, day) or {}
            counts = report.get("counts", {})
            rows.append((day.isoformat(), feed, run.state, counts.get("landed"), counts.get("curated"),
                         counts.get("quarantined"), (report.get("data_version") or "-")[:19]))
        if run.state != DagRunState.SUCCESS:
            print(f"run for {day} ended {run.state}; see the task logs above")

    print("\n" + _table(("date", "feed", "run", "landed", "curated", "quarantined", "data version"), rows))
    totals = {f: [sum(r[i] or 0 for r in rows if r[1] == f) for i in (3, 4, 5)] for f in feeds}
    print("\n" + json.dumps({"days": len(days), "totals": {f: dict(zip(("landed", "curated", "quarantined"), t))
                                                          for f, t in totals.items()}}))
    print(f"curated partitions: {storage.describe(storage.path('curated'))}")
    failed = [r for r in rows if r[2] != DagRunState.SUCCESS]
    if not failed and not _retrain(bag, days[-1]):
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
