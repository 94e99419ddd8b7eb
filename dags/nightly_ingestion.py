"""
### Nightly ingestion and validation

Every night at 02:00 (``MLOPS_TIMEZONE``) this DAG ingests the previous day's landing
partition of a dataset: it waits for the files, validates every row and the batch against
the dataset's contract, writes valid rows to ``curated/`` and invalid rows to
``quarantine/`` with a reason each, and emits an asset event for the curated partition.

On the embedded defaults the simulator lands the day's data first (``MLOPS_SIMULATOR=on``).
Trigger it by hand to re-ingest a date (``date``) or to validate without writing (``dry_run``).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAlias, Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include import contract, settings
from mlops_plugins.failures import fail_fast
from mlops_plugins.landing_sensor import LandingPartitionSensor
from mlops_plugins.notifiers import RunFailedNotifier

config = settings.get()
CURATED = AssetAlias("curated_partitions")
PERIOD = timedelta(days=1)  # the run due at 02:00 on D+1 covers [02:00 D, 02:00 D+1): day D


@dag(
    schedule=CronTriggerTimetable("0 2 * * *", timezone=config.timezone, interval=PERIOD),
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    # One night at a time: Airflow 3.3 creates an alias-emitted asset with a check-then-insert,
    # and two first runs in parallel fail one task on the UNIQUE constraint (found by tests/test_backfill.py).
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["ingestion", "data-quality"],
    params={
        "dataset": Param(
            config.dataset,
            type="string",
            enum=contract.choices(config),
            title="Dataset",
            description="Contract of the data to ingest.",
        ),
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            title="Partition date",
            description="YYYY-MM-DD; leave empty for the run's data interval.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Validate and report without writing curated or quarantine files.",
        ),
    },
)
def nightly_ingestion():
    @task
    @fail_fast
    def resolve_partition(params=None, dag_run=None, data_interval_start=None) -> list[dict]:
        """Turn the Params and the data interval into a validated dataset + date, one entry per feed."""
        from include.run_target import interval_start, resolve

        return resolve(params, interval_start(data_interval_start, dag_run.run_after, PERIOD)).per_feed()

    @task
    @fail_fast
    def land_simulated_data(targets: list[dict]) -> list[str]:
        """Stand in for the client's producer on the embedded defaults; skipped in production."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not config.simulator_enabled:
            raise AirflowSkipException("MLOPS_SIMULATOR=off: the client's systems write the landing zone")
        from include.run_target import RunTarget
        from include.simulator.land import land_day

        run = RunTarget.from_dict(targets[0])
        return land_day(contract.load(run.dataset), run.day, settings=config)

    # Retried (default_args) on a retryable error such as a landed file still being written;
    # a rejected batch is a PermanentError and fails at once.
    @task(outlets=[CURATED])
    @fail_fast
    def ingest_feed(target: dict, outlet_events=None) -> dict:
        """Validate one feed's partition and publish curated + quarantine + report."""
        from airflow.sdk import Asset

        from include import storage
        from include.ingestion.partition import ingest_partition
        from include.run_target import RunTarget

        run, feed = RunTarget.from_dict(target), target["feed"]
        report = ingest_partition(contract.load(run.dataset), feed, run.day, dry_run=run.dry_run)
        if not run.dry_run:
            uri = storage.describe(storage.path("curated", feed))
            outlet_events[CURATED].add(
                Asset(uri=uri, name=f"curated_{feed}"),
                extra={
                    "partition": run.date,
                    "data_version": report["data_version"],
                    "rows": report["counts"]["curated"],
                },
            )
        return {
            "feed": feed,
            "status": report["status"],
            **report["counts"],
            "data_version": report["data_version"],
            "quarantine_reasons": report["quarantine_reasons"],
        }

    @task
    @fail_fast
    def summarize(results: list[dict], targets: list[dict]) -> dict:
        """One line per feed in the log, and the same facts as the run's return value."""
        run = targets[0]
        # Index by length: iterating the lazy mapped XCom probes one past the end and logs a 404.
        results = [results[i] for i in range(len(results))]
        for r in results:
            print(
                f"{run['dataset']} dt={run['date']} {r['feed']}: landed {r['landed']}, curated {r['curated']}, "
                f"quarantined {r['quarantined']}, data version {r['data_version']}, reasons {r['quarantine_reasons']}"
            )
        return {"dataset": run["dataset"], "date": run["date"], "dry_run": run["dry_run"], "feeds": results}

    targets = resolve_partition()
    landed = land_simulated_data(targets)
    wait = LandingPartitionSensor(
        task_id="wait_for_landing",
        targets=targets,
        whole=landed,  # the simulator's files are written atomically: no quiet period for them
        timeout=config.landing_timeout_seconds,
        poke_interval=config.landing_poke_seconds,
        trigger_rule="none_failed",
    )
    results = ingest_feed.expand(target=targets)
    landed >> wait >> results
    summarize(results, targets)


nightly_ingestion()
