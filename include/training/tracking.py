"""Log a trained candidate to MLflow the way the team's guides require, then register it.

One run holds: parameters, holdout metrics, the search trials, gate results, the reference
profile of the training data (for the drift monitor), dataset
lineage (``mlflow.data`` input plus ``lineage.json`` with every partition's data version),
ROC and calibration plots, the fairness table, permutation feature importance, the model
card, and the model itself with signature, input example and pinned requirements.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from include import registry, storage
from include import settings as settings_module
from include.contract import Contract
from include.settings import PROJECT_ROOT

# Types skops does not trust by default that our own two model families contain (reviewed:
# HistGradientBoosting's tree predictor and its input check, the scorecard's numpy dtype).
# We only ever save models we just trained; a new type fails the logging instead of being trusted.
SKOPS_TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "numpy.dtype",
]


REFERENCE_PROFILE = (
    "reference_profile.json"  # run artifact the drift monitor reads (include/drift/profile.py)
)


def _pins() -> list[str]:
    import mlflow
    import scipy
    import sklearn
    import skops

    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"scipy=={scipy.__version__}",
    ]


def _figures(y_true, scores, holdout: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    roc, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {holdout['roc_auc']:.3f}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC on the holdout")
    ax.legend(loc="lower right")
    calibration, ax = plt.subplots(figsize=(5, 5))
    ax.plot(holdout["calibration"]["predicted"], holdout["calibration"]["observed"], marker="o")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(
        xlabel="predicted default rate", ylabel="observed default rate", title="Calibration (quantile bins)"
    )
    return {"plots/roc.png": roc, "plots/calibration.png": calibration}


MLFLOW_TYPES = {"int": "long", "float": "double", "bool": "boolean", "category": "string", "string": "string"}


def input_schema(contract: Contract):
    """The registered model's input: each feature in the type the curated zone stores it in.

    MLflow's schema enforcement has no nullable integer or boolean (it refuses a missing value
    in a ``long`` column and an int64 in a ``double`` one), so a nullable int or bool column is
    declared ``Any``: the model reads it as a number itself (``model_input.frame``)."""
    from mlflow.types.schema import AnyType, ColSpec, Schema

    columns = {c.name: c for c in contract.columns}
    specs = []
    for name in contract.features:
        column = columns[name]
        exact = column.nullable and column.dtype in ("int", "bool")
        specs.append(ColSpec(AnyType() if exact else MLFLOW_TYPES[column.dtype], name))
    return Schema(specs)


def _signature(contract: Contract, top_k: int):
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    outputs = Schema(
        [ColSpec("double", "score"), ColSpec("string", "decision")]
        + [ColSpec("string", f"reason_{k + 1}") for k in range(top_k)]
    )
    return ModelSignature(
        inputs=input_schema(contract),
        outputs=outputs,
        params=ParamSchema([ParamSpec("top_k", "long", top_k)]),
    )


@contextmanager
def scoring_model(
    model, contract: Contract, examples: pd.DataFrame, typical: dict, *, threads: int, top_k: int = 3
):
    """The keyword arguments that save or log the scoring pyfunc (models from code, see
    ``scoring_model``), valid inside the block. ``examples``: rows in the curated zone's types."""
    import mlflow

    from include.training import scoring_model as code

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Path(tmp) / "pipeline"
        # Pinned requirements given: MLflow would otherwise infer them in a subprocess that loads
        # the model again (about 8 s a save).
        mlflow.sklearn.save_model(
            model, str(pipeline), skops_trusted_types=SKOPS_TRUSTED_TYPES, pip_requirements=_pins()
        )
        (Path(tmp) / "typical_values.json").write_text(json.dumps(typical, default=str))
        yield {
            "python_model": code.__file__,
            "artifacts": {
                "pipeline": str(pipeline),
                "typical_values": str(Path(tmp) / "typical_values.json"),
            },
            "model_config": {
                "decision_threshold": contract.decision_threshold,
                "favorable": contract.labels.favorable,
                "top_k": top_k,
                "threads": threads,
                "numeric": list(contract.numeric_features),
                "categorical": list(contract.categorical_features),
            },
            # The model's code imports include.training.reasons and include.model_input; the package travels with it.
            "code_paths": [str(PROJECT_ROOT / "include")],
            "signature": _signature(contract, top_k),
            "input_example": examples[list(contract.features)].head(3),
            "pip_requirements": _pins(),
        }


def load_scoring_model(scoring: dict):
    """The scoring pyfunc as MLflow serves it (schema enforcement, model config, thread limit),
    saved from ``scoring`` (``scoring_model``'s arguments) into a temporary folder and loaded back."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.pyfunc.save_model(path=str(Path(tmp) / "model"), **scoring)
        return mlflow.pyfunc.load_model(str(Path(tmp) / "model"))


def load_pipeline(settings: settings_module.Settings, name: str, version: str):
    """The scikit-learn Pipeline inside a registered version (for scoring a holdout in bulk)."""
    import mlflow

    registry.use(settings)
    uri = f"models:/{name}/{version}"
    model = registry.call(registry.client(settings), f"load {uri}", mlflow.pyfunc.load_model, uri)
    if "sklearn" in model.metadata.flavors:  # versions logged before the reason-code wrapper
        return mlflow.sklearn.load_model(uri)
    return model.unwrap_python_model().pipeline


def version_scores(settings: settings_module.Settings, contract: Contract, version: str, rows: pd.DataFrame):
    """(scores of ``rows`` by a registered version from its own inputs, those inputs). The rows are
    curated or captured (``model_input.frame`` casts them); the scores are None when the rows lack
    one of the version's inputs (a column since dropped from the data)."""
    from include.contract import NUMERIC_DTYPES
    from include.model_input import frame as model_frame

    model = load_pipeline(settings, contract.name, version)
    columns = list(getattr(model, "feature_names_in_", contract.features))
    if set(columns) - set(rows.columns):
        return None, columns
    numeric = {c.name for c in contract.columns if c.dtype in NUMERIC_DTYPES}
    x = model_frame(rows, [c for c in columns if c in numeric], [c for c in columns if c not in numeric])
    return model.predict_proba(x[columns])[:, 1], columns


# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, an assistant);
# these are classic model-training experiments.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(settings: settings_module.Settings, name: str) -> str:
    client = registry.client(settings)
    existing = client.get_experiment_by_name(name)
    if existing is None:
        root = settings.mlflow_artifact_root.rstrip("/")
        # Artifacts proxied by the tracking server go where it puts them, mlflow-artifacts:/<experiment
        # id>: its basic-auth app finds the experiment (and the caller's rights) from that id.
        location = None if root.startswith("mlflow-artifacts:") else f"{root}/{name}"
        return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
    for key, value in EXPERIMENT_KIND.items():
        if existing.tags.get(key) != value:  # created by an earlier version of the package
            client.set_experiment_tag(existing.experiment_id, key, value)
    return existing.experiment_id


def log_and_register(
    *,
    settings: settings_module.Settings,
    contract: Contract,
    model_name: str,
    model,
    family: str,
    params: dict,
    x_holdout: pd.DataFrame,
    y_holdout,
    holdout: dict,
    train_auc: float,
    trials: list,
    gates: list[dict],
    fairness: dict[str, list[dict]],
    training_frame: pd.DataFrame,
    scoring: dict,
    reference: dict,
    lineage: list[dict],
    monitoring_references: dict[str, dict] | None = None,
    counts: dict,
    window: tuple[str, str],
    author: str,
    reason: str,
    created: str,
    dag_run_id: str,
    latency: dict,
    comparison: dict,
    plan: list[dict],
    seed: int = 0,
    threads: int = 1,
) -> tuple[str, str]:
    """Log everything in one MLflow run and register the model; return (run_id, version).

    ``scoring``: the scoring pyfunc's keyword arguments (``scoring_model``); ``plan``: the
    search's full plan, each candidate marked fitted or not."""
    import matplotlib.pyplot as plt
    import mlflow
    from sklearn.inspection import permutation_importance

    from include.training import model_card

    registry.use(settings)
    scores = model.predict_proba(x_holdout)[:, 1]
    lineage_digest = hashlib.sha256(json.dumps(lineage, sort_keys=True).encode()).hexdigest()[:16]
    with mlflow.start_run(
        experiment_id=experiment_id(settings, model_name), run_name=f"{family} {window[0]}..{window[1]}"
    ) as run:
        mlflow.log_params(
            {
                "family": family,
                **params,
                "window_start": window[0],
                "window_end": window[1],
                "reason": reason[:500],
                "seed": seed,
                "threads": threads,
                "search_candidates": sum(c["fitted"] for c in plan),
            }
        )
        mlflow.log_metrics(
            {f"holdout_{k}": holdout[k] for k in ("roc_auc", "pr_auc", "ks", "brier")}
            | {
                "train_auc": train_auc,
                "train_holdout_gap": train_auc - holdout["roc_auc"],
                "training_rows": counts.get("labelled", len(training_frame)),
            }
        )
        # The source is the curated feed; lineage.json lists its partitions and data versions.
        source = storage.describe(storage.path("curated", contract.name, settings=settings))
        with warnings.catch_warnings():
            # Two of MLflow's dataset sources claim a file:// URI; either records it as given.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = mlflow.data.from_pandas(
                training_frame,
                source=source,
                targets=contract.target,
                name=f"{contract.name}_{window[0]}_{window[1]}",
                digest=lineage_digest,
            )
        mlflow.log_input(dataset, context="training")
        mlflow.log_dict(lineage, "lineage.json")
        mlflow.log_dict(holdout, "evaluation/holdout.json")
        mlflow.log_dict([asdict(t) for t in trials], "search/trials.json")
        mlflow.log_dict({"seed": seed, "threads": threads, "candidates": plan}, "search/plan.json")
        mlflow.log_dict(reference, REFERENCE_PROFILE)
        for path, content in (monitoring_references or {}).items():
            mlflow.log_dict(content, path)
        mlflow.log_dict(gates, "gates.json")
        mlflow.log_dict(comparison, "comparison.json")
        mlflow.log_dict(latency, "latency.json")
        mlflow.log_metrics({f"latency_{k}": v for k, v in latency.items()})
        mlflow.log_dict(fairness, "fairness.json")
        for path, figure in _figures(np.asarray(y_holdout), scores, holdout).items():
            mlflow.log_figure(figure, path)
            plt.close(figure)
        importance = permutation_importance(
            model, x_holdout, np.asarray(y_holdout), scoring="roc_auc", n_repeats=3, random_state=seed
        )
        mlflow.log_dict(
            {
                name: {"mean": float(m), "std": float(s)}
                for name, m, s in zip(
                    x_holdout.columns, importance.importances_mean, importance.importances_std, strict=True
                )
            },
            "feature_importance.json",
        )
        info = mlflow.pyfunc.log_model(name="model", **scoring)
        run_id = run.info.run_id
    client = registry.client(settings)
    version = registry.call(
        client,
        f"register {model_name}",
        mlflow.register_model,
        info.model_uri,
        model_name,
        tags={
            "window": f"{window[0]}..{window[1]}",
            "lineage_digest": lineage_digest,
            "reason": reason[:500],
            "family": family,
            "run_id": run_id,
            "dag_run_id": dag_run_id,
        },
    ).version
    # The card names the registered version, so it is written once the registry gave the number.
    card = model_card.facts(
        contract=contract,
        model_name=model_name,
        version=str(version),
        created=created,
        author=author,
        family=family,
        params=params,
        window=window,
        lineage=lineage,
        counts=counts,
        holdout=holdout,
        train_auc=train_auc,
        gates=gates,
        fairness=fairness,
        reason=reason,
    )
    markdown = model_card.render(card)
    try:
        registry.call(client, "log the model card", client.log_dict, run_id, card, "model_card.json")
        registry.call(client, "log the model card", client.log_text, run_id, markdown, "model_card.md")
        registry.call(
            client,
            "describe the version",
            client.update_model_version,
            model_name,
            version,
            description=markdown.split("\n## Training data")[0],
        )
    except registry.RegistryError:
        registry.discard(client, model_name, str(version))
        raise
    return run_id, str(version)
