"""The Model health page's JSON, built from what the monitors store (a few days of generated
history, shaped by the drift engine's own result type), and its refusals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from include import contract as contract_module
from include.settings import PROJECT_ROOT

FIRST = date(2026, 1, 1)


@pytest.fixture(scope="module")
def credit():
    return contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")


@pytest.fixture(scope="module")
def world(tmp_path_factory, credit):
    """Four days of history, shared by the tests of this file (the one that adds a window adds it
    after the four days)."""
    import os

    from bench.health import history
    from include import settings as settings_module
    from include.health import drift, records

    records.clear()
    drift._days.clear()
    s = settings_module.load(
        {**os.environ, "MLOPS_LOCAL_DIR": str(tmp_path_factory.mktemp("health") / "local")}
    )
    history(credit, 4, settings=s, first=FIRST)
    return s


def _until(days: int) -> datetime:
    return datetime.combine(FIRST + timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)


def test_the_page_holds_every_window_feature_day_and_decision(world, credit):
    from include.health import overview
    from include.monitoring import history

    page = overview.build(credit, days=4, until=_until(4), settings=world)
    drift = page["drift"]
    # 4 days of hourly windows, minus the first hour of the 1st (it ends on 01-01 01:00) plus the 5th's 00:00
    assert len(drift["ends"]) == 4 * 24 - 1
    assert drift["features"] == [*credit.features, "score"]
    assert all(len(row) == len(drift["ends"]) for row in drift["scores"])
    # Each cell is the record's statistic over its threshold, as the engine stored it.
    end = datetime(2026, 1, 2, 5, tzinfo=UTC)
    record = history.read_record(credit.name, end, world)
    w = drift["ends"].index(int(end.timestamp()))
    column = next(c for c in record["result"]["columns"] if c["column"] == "annual_income")
    f = drift["features"].index("annual_income")
    assert drift["scores"][f][w] == round(column["statistic"] / column["threshold"], 3)
    alerted = [
        i
        for i, e in enumerate(drift["ends"])
        if history.read_record(credit.name, datetime.fromtimestamp(e, UTC), world)["alert"]
    ]
    assert drift["alerts"] == alerted and alerted  # the generated drifted stretch alerts
    (trigger,) = drift["triggers"]
    assert trigger["link"] == "dags/weekly_retraining/runs/" + trigger["run_id"]
    assert page["performance"]["days"] == [(FIRST + timedelta(days=n)).isoformat() for n in range(4)]
    assert page["performance"]["floor"] == credit.auc_floor and None not in page["performance"]["realized"]
    fairness = page["fairness"]["by"]["gender"]
    assert set(fairness["approval_rate"]) == {"F", "M"} and len(fairness["ratio"]) == 4
    (promoted,) = page["versions"]["decisions"]
    assert (promoted["type"], promoted["version"], promoted["actor"]) == ("promoted", "1", "schedule")
    assert promoted["links"]["run"] == "dags/weekly_retraining/runs/scheduled__2026-01-01"
    # No registered model in this store: no champion, said as such.
    assert page["versions"]["champion"]["version"] is None


def test_a_late_window_rebuilds_its_days_summary(world, credit):
    from bench.health import _drift_record
    from include import storage
    from include.health import drift, overview
    from include.monitoring import history

    late = datetime(2026, 1, 6, 3, tzinfo=UTC)
    before = overview.build(credit, days=6, until=_until(6), settings=world)["drift"]["ends"]
    summary = storage.path("monitoring", credit.name, "drift_days", "dt=2026-01-02.json", settings=world)
    assert json.loads(storage.read_bytes(summary))["day"] == "2026-01-02"  # stored for the next process
    import numpy as np

    history.write_record(
        credit.name, late, _drift_record(credit, late, np.random.default_rng(1), True, "1"), world
    )
    after = overview.build(credit, days=6, until=_until(6), settings=world)["drift"]["ends"]
    assert after == before + [int(late.timestamp())]
    drift._days.clear()  # a fresh process reads the stored summaries and finds the same
    assert overview.build(credit, days=6, until=_until(6), settings=world)["drift"]["ends"] == after


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"statistic": 0.05, "threshold": 0.1, "p_adjusted": None}, 0.5),
        ({"statistic": "inf", "threshold": 0.1, "p_adjusted": None}, 1e6),  # unseen category
        ({"statistic": 12.0, "threshold": 0.05, "p_adjusted": 0.01}, 5.0),  # a test: threshold / p
        ({"statistic": "nan", "threshold": 0.1, "p_adjusted": None}, None),
        ({"statistic": 0.2, "threshold": 0, "p_adjusted": None}, None),
    ],
)
def test_a_cell_is_the_statistic_over_its_threshold(column, expected):
    from include.health.drift import ratio

    assert ratio(column) == expected


def test_reports_are_named_only_inside_the_datasets_report_folder(world, credit):
    from include import storage
    from include.health import overview

    inside = storage.describe(
        storage.path("monitoring", credit.name, "reports", "dt=2026-01-02", "hour=05.html", settings=world)
    )
    assert overview.report_link(credit, inside, world) == f"reports/{credit.name}/dt=2026-01-02/hour=05.html"
    assert overview.report_link(credit, "s3://elsewhere/dt=2026-01-02/hour=05.html", world) is None
    for name in ("../../audit/x.json", "dt=2026-01-02/hour=05.html/../../x", "dt=2026-1-2/hour=5.html"):
        assert overview.report_path(credit, name, world) is None
    assert overview.report_path(credit, "dt=2026-01-02/hour=05.html", world).name == "hour=05.html"


def test_the_plugin_refuses_a_caller_without_a_session():
    from fastapi.testclient import TestClient

    from mlops_plugins.health.model_health_app import app

    client = TestClient(app)
    for url in (
        "/",
        "/api/datasets",
        "/api/health/credit_applications",
        "/static/health.js",
        "/reports/credit_applications/dt=2026-01-02/hour=05.html",
    ):
        response = client.get(url)
        assert response.status_code == 401, (url, response.status_code)


def test_the_plugin_serves_no_schema_or_doc_pages():
    from fastapi.testclient import TestClient

    from mlops_plugins.health.model_health_app import app, viewer

    client = TestClient(app)
    for url in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        response = client.get(url)
        assert response.status_code in (401, 403, 404), (url, response.status_code)
        assert "openapi" not in response.text.lower(), url
    app.dependency_overrides[viewer] = lambda: object()
    try:
        assert client.get("/static/health.js").status_code == 200
        for url in ("/docs", "/redoc", "/openapi.json"):  # not even for a signed-in user
            assert client.get(url).status_code == 404, url
    finally:
        app.dependency_overrides.clear()


def test_each_decision_links_the_dag_that_made_it():
    from include.health.overview import _dag_of

    assert _dag_of({"type": "promoted", "mode": "shadow", "dag_run_id": "r"}) == "shadow_evaluation"
    assert _dag_of({"type": "shadow_retired", "dag_run_id": "r"}) == "shadow_evaluation"
    assert _dag_of({"type": "promoted", "mode": "auto", "dag_run_id": "r"}) == "weekly_retraining"
    assert _dag_of({"type": "rollback", "actor": "monitor", "dag_run_id": "r"}) == "performance_monitoring"
    assert _dag_of({"type": "rollback", "actor": "user:ann", "dag_run_id": "r"}) == "model_rollback"
