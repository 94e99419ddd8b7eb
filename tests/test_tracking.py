"""A trained candidate logged and registered in a real MLflow store, every artifact checked."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from include import contract as contract_module
from include import registry
from include import settings as settings_module
from include.drift.profile import Profile
from include.settings import PROJECT_ROOT
from include.simulator import credit as simulator
from include.training import gates
from include.training.candidates import features, search
from include.training.challenger import reference_profile
from include.training.dataset import time_split
from include.training.evaluation import evaluate
from include.training.reasons import typical_values
from include.training.tracking import log_and_register, scoring_model
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
NAME = "credit_default"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracking")
    s = settings_module.load(
        {"MLOPS_LOCAL_DIR": str(root), "MLOPS_STORAGE_ROOT": (root / "storage").as_uri()}
    )
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(4)]
    data = simulator.labelled_applications(days, seed=3, rows=1500, maturity_days=CREDIT.labels.maturity_days)
    splits = time_split(data, CREDIT)
    result = search(CREDIT, splits.train, splits.validation, candidates=1)  # one trial is enough here
    x_holdout, y_holdout = features(splits.holdout, CREDIT), splits.holdout["defaulted"]
    holdout = evaluate(y_holdout, result.best.predict_proba(x_holdout)[:, 1], CREDIT.decision_threshold)
    table = gates.fairness_table(
        y_holdout,
        result.best.predict_proba(x_holdout)[:, 1],
        splits.holdout["gender"],
        CREDIT,
    )
    fairness = {"gender": table.reset_index(names="group").to_dict("records")}
    gate_results = [gates.auc_floor(holdout["roc_auc"], CREDIT.auc_floor).as_dict()]
    lineage = [
        {"feed": CREDIT.name, "partition": f"2026-03-0{n + 1}", "data_version": f"sha256:{n}", "rows": 1500}
        for n in range(4)
    ]
    typical = typical_values(features(splits.train, CREDIT))
    with scoring_model(result.best, CREDIT, splits.holdout, typical, threads=1) as scoring:
        run_id, version = log_and_register(
            settings=s,
            contract=CREDIT,
            model_name=NAME,
            model=result.best,
            family=result.best_trial.family,
            params=result.best_trial.params,
            x_holdout=x_holdout,
            y_holdout=y_holdout,
            holdout=holdout,
            train_auc=result.best_trial.train_auc,
            trials=result.trials,
            gates=gate_results,
            fairness=fairness,
            training_frame=data,
            scoring=scoring,
            reference=reference_profile(data, CREDIT),
            lineage=lineage,
            counts={"labelled": len(data), "not_matured": 0},
            window=("2026-03-01", "2026-03-04"),
            author="schedule",
            reason="weekly",
            created="2026-03-09T03:00:00+00:00",
            dag_run_id="scheduled__2026-03-09",
            latency={"p99_ms": 1.0},
            comparison={"champion_version": None},
            plan=result.plan,
        )
    return s, run_id, version, holdout


def test_the_version_is_registered_with_lineage_tags_and_a_description(logged):
    s, run_id, version, _ = logged
    registered = registry.get(registry.client(s), NAME, version)
    assert registered.run_id == run_id
    assert registered.tags["window"] == "2026-03-01..2026-03-04" and registered.tags["reason"] == "weekly"
    description = registry.client(s).get_model_version(NAME, version).description
    assert description.startswith(f"# Model card: {NAME} v{version}")


def test_the_run_holds_params_metrics_dataset_input_and_every_artifact(logged):
    s, run_id, _, holdout = logged
    client = registry.client(s)
    run = client.get_run(run_id)
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(holdout["roc_auc"])
    assert {"family", "window_start", "window_end", "reason", "seed", "threads", "search_candidates"} <= set(
        run.data.params
    )
    assert run.data.params["search_candidates"] == "1" and run.data.params["threads"] == "1"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "credit_applications_2026-03-01_2026-03-04"
    assert f"{s.storage_root}/curated/credit_applications" in dataset_input.dataset.source
    artifacts = {a.path for a in client.list_artifacts(run_id)} | {
        a.path for d in ("plots", "evaluation", "search") for a in client.list_artifacts(run_id, d)
    }
    assert {
        "lineage.json",
        "gates.json",
        "fairness.json",
        "feature_importance.json",
        "model_card.md",
        "model_card.json",
        "plots/roc.png",
        "plots/calibration.png",
        "evaluation/holdout.json",
        "search/trials.json",
        "reference_profile.json",
        "comparison.json",
        "latency.json",
        "search/plan.json",
    } <= artifacts
    plan = json.loads(Path(client.download_artifacts(run_id, "search/plan.json")).read_text())
    assert (plan["seed"], plan["threads"], len(plan["candidates"])) == (0, 1, 11)
    assert [c["fitted"] for c in plan["candidates"]] == [True] + [False] * 10
    local = client.download_artifacts(run_id, "lineage.json")
    assert json.loads(Path(local).read_text())[0]["data_version"] == "sha256:0"
    reference = Profile.from_dict(
        json.loads(Path(client.download_artifacts(run_id, "reference_profile.json")).read_text())
    )
    assert reference.rows == 4 * 1500 and set(reference.features) == set(CREDIT.features)
    assert reference.partitions == ("dt=2026-03-01", "dt=2026-03-02", "dt=2026-03-03", "dt=2026-03-04")
    assert (
        client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"]
        == "custom_model_development"
    )
    card = Path(client.download_artifacts(run_id, "model_card.md")).read_text()
    facts = json.loads(Path(client.download_artifacts(run_id, "model_card.json")).read_text())
    version = registry.get(client, NAME, facts["version"])
    assert version.run_id == run_id and card.startswith(f"# Model card: {NAME} v{facts['version']}")
    assert facts["training_data"]["partitions_per_feed"] == {"credit_applications": 4}
    assert (
        "4 of credit_applications" in card
        and f"{facts['training_data']['labelled_rows']} labelled rows" in card
    )
    assert (
        all(isinstance(b["rows"], int) for b in facts["biases"]) and ".0 |" not in card.split("## Biases")[1]
    )
    assert "Favorable decision: a score below 0.5" in card and facts["favorable"].startswith("a score below")
    for heading in (
        "## Training data",
        "## Test data and metrics",
        "## Gates",
        "## Biases",
        "## Intended use",
        "## Out-of-scope use",
        "## Limitations",
        "## Ethical considerations",
        "## Recommendations",
    ):
        assert heading in card


def test_the_registered_model_loads_with_its_signature_and_pinned_requirements(logged):
    import mlflow
    import sklearn

    s, _, version, _ = logged
    registry.use(s)
    scorer = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
    inputs = [c.name for c in scorer.metadata.get_input_schema().inputs]
    assert inputs == list(CREDIT.features)
    requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{NAME}/{version}")).read_text()
    assert f"scikit-learn=={sklearn.__version__}" in requirements


def test_the_registered_model_returns_scores_decisions_and_reason_codes(logged):
    import mlflow

    from include.training.tracking import load_pipeline

    s, _, version, _ = logged
    registry.use(s)
    scorer = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
    days = [date(2026, 3, 5)]
    rows = simulator.labelled_applications(days, seed=4, rows=200, maturity_days=0).head(20)[
        list(CREDIT.features)
    ]
    risky = rows.iloc[[0]].assign(credit_score=480, debt_to_income=1.4, recent_delinquencies=6)
    out = scorer.predict(risky, params={"top_k": 5})
    assert list(out.columns) == [
        "score",
        "decision",
        "reason_1",
        "reason_2",
        "reason_3",
        "reason_4",
        "reason_5",
    ]
    assert out.loc[0, "decision"] == "decline"
    assert {"credit_score", "debt_to_income", "recent_delinquencies"} & set(
        out.loc[0, ["reason_1", "reason_2", "reason_3"]]
    )
    pipeline = load_pipeline(s, NAME, version)
    expected = pipeline.predict_proba(features(rows, CREDIT))[:, 1]
    assert scorer.predict(rows)["score"].tolist() == pytest.approx(expected.tolist())


def test_the_registered_model_loads_outside_the_checkout(logged, tmp_path):
    """Models from code: the model carries the code it runs, so a scoring service that does not
    have this repository on its path loads it and gets reason codes."""
    import os
    import subprocess
    import sys

    s, _, version, _ = logged
    script = (
        f"import mlflow, sys; mlflow.set_tracking_uri({s.mlflow_tracking_uri!r}); "
        f"mlflow.set_registry_uri({s.mlflow_tracking_uri!r}); "
        f"m = mlflow.pyfunc.load_model('models:/{NAME}/{version}'); "
        "import pandas as pd; x = pd.DataFrame(m.input_example); "
        "print(list(m.predict(x).columns)); print('include from', sys.modules['include'].__file__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "['score', 'decision', 'reason_1', 'reason_2', 'reason_3']" in done.stdout
    assert f"include from {PROJECT_ROOT}" not in done.stdout and "/code/include/__init__.py" in done.stdout


def test_a_version_registered_without_monitoring_references_reads_as_none(logged):
    """Versions older than the daily decision monitors have no calibration or attribution
    reference; the monitors record that instead of failing."""
    from include.monitoring import attribution, estimated
    from include.monitoring.reference import version_artifact

    s, _, version, _ = logged
    assert version_artifact(s, NAME, version, estimated.CALIBRATION) is None
    assert version_artifact(s, NAME, version, attribution.REFERENCE) is None
    assert version_artifact(s, NAME, version, "lineage.json")[0]["data_version"] == "sha256:0"
    assert version_artifact(s, NAME, version, "evaluation/holdout.json")["rows"] > 0
