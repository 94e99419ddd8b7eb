"""Registry reconciliation: the champion alias against the audit trail, on a real MLflow store;
a move behind the package's back is alerted once and fails every check until it is undone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.airflow_runs import dag_from_file, task_states

MODEL = "credit_applications"
HOUR = datetime(2026, 3, 2, 10, 20, tzinfo=UTC)
REQUEST = {"actor": "schedule", "reason": "weekly", "mode": "auto", "end": "2026-03-01", "window_days": 28}


def _register(client, tmp_path, count: int) -> list[str]:
    """``count`` versions that passed their gates (a promotion needs that), without training."""
    from include import registry

    client.create_registered_model(MODEL)
    versions = []
    for n in range(count):
        source = tmp_path / f"model-{n}"
        source.mkdir()
        version = client.create_model_version(MODEL, source=str(source)).version
        for tag in (registry.GATES_TAG, registry.HARD_GATES_TAG):
            client.set_model_version_tag(MODEL, version, tag, "true")
        versions.append(str(version))
    return versions


def _promote(version: str, run: str, settings):
    from include import promotion

    outcome = {
        "model_name": MODEL,
        "version": version,
        "holdout": {"roc_auc": 0.8},
        "gates": [],
        "champion_version": None,
    }
    promotion.promote(outcome, REQUEST, dag_run_id=run, task="promote", settings=settings)


def _roll_back(target: str, run: str, settings):
    from include import promotion

    promotion.rollback(
        MODEL,
        target,
        reason="drill",
        actor="user:ops",
        dag_run_id=run,
        interval=(HOUR, HOUR),
        task="roll_back",
        settings=settings,
    )


@pytest.fixture
def registry_world(tmp_path, use_env):
    """An empty registry and storage of this test's own, with two versions and v1 promoted."""
    from include import registry

    s = use_env(MLOPS_LOCAL_DIR=str(tmp_path / "local"))
    client = registry.client(s)
    versions = _register(client, tmp_path, 2)
    _promote(versions[0], "scheduled__first", s)
    return s, client, versions


def _never_running(run_id: str) -> bool:
    return False


def test_an_audited_promotion_and_rollback_are_explained(registry_world):
    from include import reconciliation

    s, client, (v1, v2) = registry_world
    assert reconciliation.check(MODEL, run_in_progress=_never_running, settings=s).explained
    _promote(v2, "scheduled__second", s)
    _roll_back("previous", "manual__rb", s)
    finding = reconciliation.check(MODEL, run_in_progress=_never_running, settings=s)
    assert finding.explained and finding.champion == v1, finding.describe()
    assert finding.audited_event["type"] == "rollback"


def test_an_alias_moved_behind_the_packages_back_is_alerted_once_and_fails(registry_world):
    from include import audit, contract, notify, reconciliation, registry

    s, client, (v1, v2) = registry_world
    client.set_registered_model_alias(MODEL, registry.CHAMPION, v2)  # someone with registry rights
    finding = reconciliation.check(MODEL, run_in_progress=_never_running, settings=s)
    assert not finding.explained and (finding.champion, finding.audited) == (v2, v1)
    assert finding.describe().startswith(f"{MODEL}@champion is v{v2}, but the audit trail's last promoted")
    credit = contract.load(MODEL)
    for run in ("scheduled__h1", "scheduled__h2"):  # two hourly checks of the same state
        with pytest.raises(reconciliation.UnexplainedAlias, match=f"is v{v2}, but .* made v{v1} champion"):
            reconciliation.alert_unexplained(
                credit, finding, dag_run_id=run, interval=(HOUR, HOUR + timedelta(hours=1)), settings=s
            )
    events = audit.read(HOUR.date(), HOUR.date(), by="data", settings=s)
    [alert] = [e for e in events if e["type"] == "alias_unexplained"]
    assert (alert["version"], alert["audited_version"], alert["actor"]) == (v2, v1, "monitor")
    sent = [n["kind"] for n in notify.read_outbox(HOUR.date(), HOUR.date(), settings=s)]
    assert sent.count("registry_unexplained") == 1


def test_a_deleted_champion_alias_is_not_explained(registry_world):
    from include import reconciliation, registry

    s, client, _ = registry_world
    client.delete_registered_model_alias(MODEL, registry.CHAMPION)
    finding = reconciliation.check(MODEL, run_in_progress=_never_running, settings=s)
    assert not finding.explained and finding.champion is None
    assert "is unset, but" in finding.describe()


def test_a_promotion_between_its_alias_move_and_its_audit_write_waits(registry_world):
    """The run that tagged the champion is still running: nothing is concluded this hour."""
    from include import reconciliation, registry

    s, client, (v1, v2) = registry_world
    registry.promote(client, MODEL, v2, actor="schedule", reason="weekly", dag_run_id="scheduled__busy")
    finding = reconciliation.check(MODEL, run_in_progress=lambda run: run == "scheduled__busy", settings=s)
    assert finding.pending_run == "scheduled__busy" and not finding.explained
    finished = reconciliation.check(MODEL, run_in_progress=_never_running, settings=s)
    assert finished.pending_run is None and not finished.explained


@pytest.mark.integration
def test_the_hourly_dag_fails_on_a_moved_alias_and_passes_once_it_is_rolled_back(registry_world):
    from airflow.utils import db

    from include import audit, registry

    s, client, (v1, v2) = registry_world
    db.initdb()
    ok = dag_from_file("registry_reconciliation").test(logical_date=HOUR)
    assert str(ok.state) == "success", task_states(ok)

    # Moved with the package's own tags but by no DAG run Airflow knows: the task asks Airflow
    # whether that run is still going, learns it is not, and alerts.
    registry.promote(client, MODEL, v2, actor="schedule", reason="copied tags", dag_run_id="manual__forged")
    moved = dag_from_file("registry_reconciliation").test(logical_date=HOUR + timedelta(hours=1))
    assert str(moved.state) == "failed" and task_states(moved) == {"reconcile": "failed"}
    [alert] = [
        e
        for e in audit.read(HOUR.date(), HOUR.date(), by="data", settings=s)
        if e["dag_run_id"] == moved.run_id
    ]
    assert (alert["type"], alert["version"], alert["audited_version"]) == ("alias_unexplained", v2, v1)

    _roll_back(v1, "manual__undo", s)
    fixed = dag_from_file("registry_reconciliation").test(logical_date=HOUR + timedelta(hours=2))
    assert str(fixed.state) == "success", task_states(fixed)
