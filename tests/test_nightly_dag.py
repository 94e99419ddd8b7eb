"""The nightly DAG in a real DagBag and real dag.test() runs on the embedded defaults."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"
DAG_ID = "nightly_ingestion"


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def dag():
    # Fresh per test: dag.test(run_conf=...) leaves the conf in the DAG object's params.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_schedule_is_02_00_daily_in_the_configured_timezone(dag):
    from include import settings

    assert dag.timetable.summary == "0 2 * * *"
    assert str(dag.timetable._timezone.name) == settings.get().timezone
    assert set(dag.params.keys()) == {"dataset", "date", "dry_run"}
    assert dag.task_dict["wait_for_landing"].mode == "reschedule"


def _logical(day: date) -> datetime:
    # The run at 02:00 on D+1 ingests day D.
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(days=1)


def _partition_files(zone: str, feed: str, day: date) -> dict[str, bytes]:
    from include import storage

    directory = storage.partition(zone, feed, day)
    return {p.name: p.read_bytes() for p in storage.list_files(directory)}


@pytest.mark.integration
def test_two_consecutive_nights_then_a_rerun_is_byte_identical(airflow_db, dag):
    from airflow.utils.state import DagRunState

    from include.ingestion.commit import REPORT_NAME

    days = [date(2026, 3, 9), date(2026, 3, 10)]
    for day in days:
        run = dag.test(logical_date=_logical(day))
        assert run.state == DagRunState.SUCCESS
        for feed in ("credit_applications", "credit_applications_labels"):
            report = json.loads(_partition_files("curated", feed, day)[REPORT_NAME])
            assert report["partition"] == day.isoformat()
            assert report["status"] == "passed"
            counts = report["counts"]
            assert counts["landed"] == counts["curated"] + counts["quarantined"]
        events = json.loads(_partition_files("curated", "credit_applications", day)[REPORT_NAME])
        assert events["counts"]["landed"] == 400

    before = {
        zone: _partition_files(zone, "credit_applications", days[1]) for zone in ("curated", "quarantine")
    }
    rerun = dag.test(
        logical_date=_logical(days[1]) + timedelta(seconds=1), run_conf={"date": days[1].isoformat()}
    )
    assert rerun.state == DagRunState.SUCCESS
    after = {
        zone: _partition_files(zone, "credit_applications", days[1]) for zone in ("curated", "quarantine")
    }
    assert after == before


@pytest.mark.integration
def test_a_run_triggered_without_a_logical_date_ingests_the_day_before_it(airflow_db, dag):
    """``airflow dags trigger`` and the REST API create runs with no logical date and so no data
    interval; such a run ingests the day before it was triggered, as the UI form's default does."""
    day = date(2026, 3, 25)  # a day no other test here ingests
    run = dag.test(logical_date=None, run_after=_logical(day) + timedelta(hours=3))
    assert run.logical_date is None and run.data_interval_end is None  # what the CLI creates
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert _partition_files("curated", "credit_applications", day)


@pytest.mark.integration
def test_a_broken_contract_fails_the_run_at_once_naming_the_key(airflow_db, use_env, tmp_path):
    """A contract error is not transient: no retries (2, five minutes apart, for other errors)."""
    from airflow.dag_processing.dagbag import DagBag

    from include import notify
    from tests.support.paths import CONTRACTS_DIR

    text = (CONTRACTS_DIR / "credit_applications.yaml").read_text()
    typo = text.replace("employment_years: {dtype: float", "employment_years: {dtype: flaot")
    assert typo != text
    (tmp_path / "credit_applications.yaml").write_text(typo)
    use_env(MLOPS_CONTRACTS_DIR=str(tmp_path))
    broken = DagBag(str(DAGS / "nightly_ingestion.py")).dags[DAG_ID]
    run = broken.test(logical_date=_logical(date(2026, 3, 22)))
    (resolve,) = [ti for ti in run.get_task_instances() if ti.task_id == "resolve_partition"]
    assert str(run.state) == "failed" and str(resolve.state) == "failed" and resolve.try_number == 1, resolve
    (failure,) = [
        n
        for n in notify.read_outbox(date(2026, 3, 23), date(2026, 3, 23))
        if n["kind"] == "run_failed" and n["facts"]["dag_run_id"] == run.run_id
    ]
    assert "employment_years" in failure["facts"]["error"] and "flaot" in failure["facts"]["error"], failure


@pytest.mark.integration
def test_curated_asset_event_carries_partition_and_data_version(airflow_db, dag):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    day = date(2026, 3, 12)
    assert dag.test(logical_date=_logical(day)).state == "success"
    with create_session() as session:
        extras = session.scalars(
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "curated_credit_applications")
        ).all()
    report = json.loads(_partition_files("curated", "credit_applications", day)["_validation_report.json"])
    assert {
        "partition": day.isoformat(),
        "data_version": report["data_version"],
        "rows": report["counts"]["curated"],
    } in [{k: e.get(k) for k in ("partition", "data_version", "rows")} for e in extras]


@pytest.mark.integration
def test_dry_run_writes_nothing(airflow_db, dag):
    from airflow.utils.state import DagRunState

    day = date(2026, 3, 20)
    run = dag.test(logical_date=_logical(day), run_conf={"dry_run": True})
    assert run.state == DagRunState.SUCCESS
    assert _partition_files("curated", "credit_applications", day) == {}
    assert _partition_files("landing", "credit_applications", day) != {}  # the simulator still landed data


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"dataset": "../../etc"}, "dataset"),
        ({"dataset": "no_such_dataset"}, "dataset"),
        ({"date": "2026-13-45"}, "date"),
        ({"date": "../2026-01-01"}, "date"),
        ({"dry_run": "yes"}, "dry_run"),
    ],
)
def test_malformed_trigger_params_are_rejected_by_the_form_schema(dag, conf, message):
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dag.params)  # what a trigger does: apply the conf, then validate
    with pytest.raises(ParamValidationError, match=message):
        params.update(conf)
        params.validate()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dataset": "../../etc"}, "not a known dataset"),
        ({"date": "2026-02-30"}, "not a calendar date"),
        ({"date": "2026/02/03"}, "YYYY-MM-DD"),
        ({"dry_run": "true"}, "true or false"),
        ({"dryrun": True}, r"unknown param\(s\) 'dryrun'; accepted: dataset, date, dry_run"),
        ({"date": "9" * 1_000_000}, r"'9999.*\.\.\. \(1,000,002 characters\) must be a date"),
    ],
)
def test_run_target_resolution_refuses_bad_values_even_without_the_form(params, message):
    from include.run_target import RunParamsError, resolve

    with pytest.raises(RunParamsError, match=message) as refused:
        resolve(params, datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert len(str(refused.value)) < 300  # whatever was typed, the refusal stays readable


def test_partition_date_is_the_day_before_the_0200_run():
    from include.run_target import resolve

    target = resolve({}, datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert (target.dataset, target.date) == ("credit_applications", "2026-03-01")
    assert target.feeds == ("credit_applications", "credit_applications_labels")


def test_landing_sensor_times_out_naming_the_missing_path():
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from include import storage
    from mlops_plugins.landing_sensor import LandingPartitionSensor

    target = {
        "dataset": "breast_cancer",
        "date": "1999-01-01",
        "feeds": ["breast_cancer"],
        "dry_run": False,
        "feed": "breast_cancer",
    }
    sensor = LandingPartitionSensor(task_id="wait", targets=[target], mode="poke", timeout=0, poke_interval=0)
    expected = storage.describe(storage.partition("landing", "breast_cancer", date(1999, 1, 1)))
    with pytest.raises(AirflowSensorTimeout, match="no data landed in " + expected):
        sensor.execute({})


def test_landing_sensor_sees_files_in_subfolders_and_not_markers(tmp_path, use_env):
    from include import storage
    from mlops_plugins.landing_sensor import LandingPartitionSensor

    use_env(MLOPS_STORAGE_ROOT=tmp_path.as_uri())
    day = date(1999, 1, 1)
    target = {
        "dataset": "breast_cancer",
        "date": day.isoformat(),
        "feeds": ["breast_cancer"],
        "dry_run": False,
        "feed": "breast_cancer",
    }
    sensor = LandingPartitionSensor(task_id="wait", targets=[target], mode="poke", timeout=0, poke_interval=0)
    directory = Path(storage.partition("landing", "breast_cancer", day).path)
    (directory / "_temporary").mkdir(parents=True)
    (directory / "_temporary" / "part-0.csv").write_bytes(b"a,b\n")
    assert sensor.poke({}) is False  # a writer's scratch folder is not data
    (directory / "late").mkdir()
    (directory / "late" / "part-1.csv").write_bytes(b"a,b\n")
    assert sensor.poke({}) is True
