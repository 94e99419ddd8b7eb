"""train_challenger end to end: simulator -> ingestion -> training -> gates -> MLflow -> audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from include import audit, registry
from include import contract as contract_module
from include import settings as settings_module
from include.ingestion.partition import ingest_partition
from include.settings import PROJECT_ROOT
from include.simulator.land import land_day
from include.training.challenger import Policy, train_challenger

CREDIT = contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(14)]
END = DAYS[-1]
POLICY = Policy(min_rows=1000, search_budget_seconds=600)
GATE_NAMES = {"auc_floor", "no_regression", "min_improvement", "overfitting", "fairness_approval_ratio[gender]",
              "fairness_tpr_gap[gender]", "schema_compatible", "latency_p99"}


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    root = tmp_path_factory.mktemp("challenger")
    settings = settings_module.load({"MLOPS_LOCAL_DIR": str(root), "MLOPS_SIMULATOR_ROWS_PER_DAY": "700"})
    for day in DAYS:
        land_day(CREDIT, day, settings=settings)
        for feed in CREDIT.feeds():
            ingest_partition(CREDIT, feed.name, day, settings=settings)
    return settings


def _train(s, run_id, force=False):
    return train_challenger(CREDIT, end=END, window_days=14, force=force, reason="weekly", actor="schedule",
                            dag_run_id=run_id, created=f"{END}T03:00:00+00:00", policy=POLICY, settings=s)


@pytest.mark.integration
def test_first_challenger_then_a_rerun_judged_against_the_champion(s):
    first = _train(s, "run-1")
    assert {g["name"] for g in first.gates} == GATE_NAMES
    assert first.champion_version is None and first.version == "1"
    assert first.gates_passed, [g for g in first.gates if not g["passed"]]
    client = registry.client(s)
    assert registry.by_alias(client, CREDIT.name, registry.CHALLENGER).version == "1"
    assert registry.get(client, CREDIT.name, "1").tags[registry.GATES_TAG] == "true"
    registry.promote(client, CREDIT.name, "1", actor="schedule", reason="first champion")

    # Same data, code and seed: the same model, so no improvement over the champion.
    second = _train(s, "run-2")
    assert (second.version, second.champion_version) == ("2", "1")
    assert second.champion_auc == pytest.approx(second.holdout["roc_auc"])
    by_name = {g["name"]: g for g in second.gates}
    assert by_name["no_regression"]["passed"] and not by_name["min_improvement"]["passed"]
    assert not second.gates_passed
    assert registry.get(client, CREDIT.name, "2").tags[registry.GATES_TAG] == "false"
    with pytest.raises(registry.RegistryError, match="did not pass the promotion gates"):
        registry.promote(client, CREDIT.name, "2", actor="schedule", reason="should not happen")

    forced = _train(s, "run-3", force=True)
    assert {g["name"]: g for g in forced.gates}["min_improvement"]["passed"]
    assert "forced by the trigger" in {g["name"]: g for g in forced.gates}["min_improvement"]["message"]

    events = audit.read(END, END, settings=s)
    assert [e["type"] for e in events].count("registered") == 3
    assert sum(e["type"] == "gate_result" for e in events) == 3 * len(GATE_NAMES)
    registered = next(e for e in events if e["type"] == "registered" and e["dag_run_id"] == "run-1")
    assert len(registered["data_versions"]) == 28 and registered["window"] == [str(DAYS[0]), str(END)]
