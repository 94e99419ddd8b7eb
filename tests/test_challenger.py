"""train_challenger end to end: simulator -> ingestion -> training -> gates -> MLflow -> audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from include import audit, registry
from include import contract as contract_module
from include import settings as settings_module
from include.training.challenger import Policy, train_challenger
from tests.support.data import simulate_days
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(14)]
END = DAYS[-1]
POLICY = Policy.of(CREDIT)
GATE_NAMES = {
    "auc_floor",
    "no_regression",
    "min_improvement",
    "overfitting",
    "fairness_approval_ratio[gender]",
    "fairness_tpr_gap[gender]",
    "fairness_fpr_gap[gender]",
    "schema_compatible",
    "latency_p99",
}


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    root = tmp_path_factory.mktemp("challenger")
    settings = settings_module.load({"MLOPS_LOCAL_DIR": str(root), "MLOPS_SIMULATOR_ROWS_PER_DAY": "700"})
    simulate_days(CREDIT, DAYS, settings=settings)
    return settings


def _train(s, run_id, force=False):
    return train_challenger(
        CREDIT,
        end=END,
        window_days=14,
        force=force,
        reason="weekly",
        actor="schedule",
        dag_run_id=run_id,
        created=f"{END}T03:00:00+00:00",
        policy=POLICY,
        settings=s,
    )


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
    assert (
        "+0.0000" in by_name["min_improvement"]["message"]
        and "DeLong SE 0.0000" in by_name["min_improvement"]["message"]
    )
    assert not second.gates_passed
    assert registry.get(client, CREDIT.name, "2").tags[registry.GATES_TAG] == "false"
    with pytest.raises(registry.RegistryError, match="did not pass the promotion gates"):
        registry.promote(client, CREDIT.name, "2", actor="schedule", reason="should not happen")

    forced = _train(s, "run-3", force=True)
    assert {g["name"]: g for g in forced.gates}["min_improvement"]["passed"]
    assert (
        "passed because the trigger forced it"
        in {g["name"]: g for g in forced.gates}["min_improvement"]["message"]
    )

    events = audit.read(END, END, by="data", settings=s)
    assert [e["type"] for e in events].count("registered") == 3
    assert sum(e["type"] == "gate_result" for e in events) == 3 * len(GATE_NAMES)
    registered = next(e for e in events if e["type"] == "registered" and e["dag_run_id"] == "run-1")
    assert len(registered["data_versions"]) == 28 and registered["window"] == [str(DAYS[0]), str(END)]


@pytest.mark.integration
def test_the_training_set_of_a_version_is_rebuilt_from_its_lineage(s, use_env, capsys):
    import pandas as pd

    from include.training.dataset import assemble
    from include.training.rebuild import LineageError, main, rebuild

    rebuilt = rebuild(CREDIT, "1", s)  # registered by the first test
    current = assemble(CREDIT, END, 14, min_rows=0, settings=s)
    assert rebuilt.lineage == current.lineage and len(rebuilt.lineage) == 28
    pd.testing.assert_frame_equal(rebuilt.frame, current.frame)

    use_env(MLOPS_LOCAL_DIR=str(s.local_dir))
    assert main([CREDIT.name, "1"]) == 0
    assert capsys.readouterr().out == (
        f"{CREDIT.name} v1: 28 data versions verified, window {DAYS[0]}..{END}, "
        f"{current.counts['labelled']} labelled rows\n"
    )
    client = registry.client(s)
    recorded = registry.get(client, CREDIT.name, "1").tags["lineage_digest"]
    client.set_model_version_tag(CREDIT.name, "1", "lineage_digest", "0" * 16)
    try:
        with pytest.raises(LineageError, match="the version's lineage_digest tag says 0000000000000000"):
            rebuild(CREDIT, "1", s)
        assert main([CREDIT.name, "1"]) == 1
    finally:
        client.set_model_version_tag(CREDIT.name, "1", "lineage_digest", recorded)


@pytest.mark.integration
def test_a_retried_run_reuses_its_registration_and_discards_an_unfinished_one(s):
    client = registry.client(s)
    before = len(client.search_model_versions(f"name = '{CREDIT.name}'"))
    again = _train(s, "run-1")  # run-1 completed in the first test: a retry must not train again
    assert again.version == "1" and again.gates_passed and {g["name"] for g in again.gates} == GATE_NAMES
    assert len(client.search_model_versions(f"name = '{CREDIT.name}'")) == before

    # A version left by an attempt that died between registering and tagging its verdict.
    source = client.get_model_version(CREDIT.name, "1")
    half = client.create_model_version(
        CREDIT.name, source.source, run_id=source.run_id, tags={"dag_run_id": "run-4"}
    ).version
    retried = _train(s, "run-4")
    assert retried.version != str(half)
    assert [v.version for v in registry.registered_by_run(client, CREDIT.name, "run-4")] == [retried.version]


@pytest.mark.integration
def test_when_the_audit_cannot_be_written_nothing_stays_registered(s):
    """A failure after registration discards the version: no alias points at it, nothing reuses it."""
    day = END - timedelta(days=1)
    stream = s.local_dir / "storage" / "audit" / CREDIT.name
    stream.mkdir(parents=True, exist_ok=True)
    blocker, aside = stream / "entries", stream / "entries.aside"
    if blocker.exists():
        blocker.rename(aside)
    blocker.write_text("a file where the audit stream's entries directory should be")
    client = registry.client(s)
    challenger = registry.by_alias(client, CREDIT.name, registry.CHALLENGER)
    try:
        with pytest.raises(Exception) as failure:
            train_challenger(
                CREDIT,
                end=day,
                window_days=14,
                force=False,
                reason="weekly",
                actor="schedule",
                dag_run_id="run-audit-broken",
                created=f"{day}T03:00:00+00:00",
                policy=POLICY,
                settings=s,
            )
    finally:
        blocker.unlink()
        if aside.exists():
            aside.rename(blocker)
    assert f"audit/{CREDIT.name}/entries" in str(failure.value), failure.value
    assert registry.registered_by_run(client, CREDIT.name, "run-audit-broken") == []
    assert registry.by_alias(client, CREDIT.name, registry.CHALLENGER) == challenger


def test_a_registry_that_is_down_fails_the_run_before_training(tmp_path):
    """Before any data is read (there is none here: reading it would fail otherwise), as a
    permanent error the task does not retry, naming the URI."""
    import socket

    from include.errors import PermanentError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    down = settings_module.load(
        {"MLOPS_LOCAL_DIR": str(tmp_path), "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    )
    with pytest.raises(
        registry.RegistryUnreachable, match=rf"at http://127.0.0.1:{port} is unreachable"
    ) as info:
        train_challenger(
            CREDIT,
            end=END,
            window_days=14,
            force=False,
            reason="weekly",
            actor="schedule",
            dag_run_id="run-down",
            created=f"{END}T03:00:00+00:00",
            policy=POLICY,
            settings=down,
        )
    assert isinstance(info.value, PermanentError)


@pytest.mark.integration
def test_changed_inputs_pass_only_with_a_recorded_reason_and_then_wait_for_a_person(s):
    from dataclasses import replace

    from include.training.gates import schema_change
    from tests.support.airflow_runs import dag_from_file

    # The bureau stops sending open_accounts: the contract keeps the column but no longer feeds it
    # to the model. The champion (v1, from the first test) still needs it.
    dropped = replace(
        CREDIT,
        columns=tuple(
            replace(c, role="not_a_feature") if c.name == "open_accounts" else c for c in CREDIT.columns
        ),
    )

    def train(run_id, **kwargs):
        return train_challenger(
            dropped,
            end=END,
            window_days=14,
            reason="bureau change",
            actor="user:alice",
            dag_run_id=run_id,
            created=f"{END}T04:00:00+00:00",
            policy=POLICY,
            settings=s,
            **kwargs,
        )

    # Without a reason the gate refuses the change (tests/test_training_gates.py); with one:
    reason = "the bureau stopped sending open_accounts on 2026-03-10"
    accepted = train("run-schema-2", force=True, schema_change_reason=reason)
    gates = {g["name"]: g for g in accepted.gates}
    assert gates["schema_compatible"]["passed"] and reason in gates["schema_compatible"]["message"]
    assert "removed ['open_accounts']" in gates["schema_compatible"]["message"]
    # The champion still scores the same holdout rows from its own inputs: the comparison stands.
    assert gates["no_regression"]["observed"] is not None and "DeLong" in gates["no_regression"]["message"]
    assert accepted.gates_passed, [g["message"] for g in accepted.gates if not g["passed"]]
    assert reason in schema_change(accepted.gates)
    (registered,) = [
        e
        for e in audit.read(END, END, by="data", settings=s)
        if e["type"] == "registered" and e["dag_run_id"] == "run-schema-2"
    ]
    assert registered["schema_change_reason"] == reason

    class Ti:
        pushed: dict = {}

        def xcom_push(self, key, value):
            self.pushed[key] = value

    choose = dag_from_file("weekly_retraining").get_task("choose_path").python_callable
    auto = {"mode": "auto", "dataset": CREDIT.name}
    ti = Ti()
    assert choose(accepted.as_dict(), auto, ti=ti) == "request_approval"
    assert "a person approves a schema change" in ti.pushed["promotion_hold"]
    # In shadow mode it is judged on live traffic first; the approval is asked at the end.
    assert choose(accepted.as_dict(), auto | {"mode": "shadow"}, ti=Ti()) == "start_shadow"
    first_model = accepted.as_dict() | {"champion_version": None}  # nothing to shadow against
    assert choose(first_model, auto | {"mode": "shadow"}, ti=Ti()) == "request_approval"
