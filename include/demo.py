"""`make demo`: simulate and ingest 14 days through the real nightly DAG on the embedded
defaults, then print what landed, what was curated and quarantined, and the data versions.

Each day is one ``dag.test()`` run of ``nightly_ingestion`` for that day's data interval,
the same code path the scheduler takes; state lands in .local/ (Airflow DB, storage).
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta, timezone

DAG_ID = "nightly_ingestion"


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

    header = ("date", "feed", "run", "landed", "curated", "quarantined", "data version")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    totals = {f: [sum(r[i] or 0 for r in rows if r[1] == f) for i in (3, 4, 5)] for f in feeds}
    print("\n" + json.dumps({"days": len(days), "totals": {f: dict(zip(("landed", "curated", "quarantined"), t))
                                                          for f, t in totals.items()}}))
    print(f"curated partitions: {storage.describe(storage.path('curated'))}")
    failed = [r for r in rows if r[2] != DagRunState.SUCCESS]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
