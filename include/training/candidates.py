"""Candidate models as scikit-learn Pipelines whose preprocessing comes from the contract,
and a deterministic search over a fixed plan of candidates, bounded by a count.

Two families, as the credit team asked: gradient-boosted trees (HistGradientBoosting, with
the contract's categories as native categorical features) and a logistic-regression
scorecard (median-imputed, standardised numbers and one-hot categories). Only columns with
role ``feature`` enter a model: ids, timestamps and protected attributes never do.

Reproducible to the last digit: the plan's order, the seeds and the count of candidates are
fixed, and the caller fixes the BLAS/OpenMP threads (``MLOPS_THREADS``; a parallel sum's
rounding depends on how many threads share it). Nothing depends on the clock or on how busy
the machine is: a loaded worker takes longer and chooses the same model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product, zip_longest

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from include import model_input
from include.contract import Contract


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The model input of ``frame``: the contract's features as the pipelines take them."""
    return model_input.frame(frame, contract.numeric_features, contract.categorical_features)


def gradient_boosting(contract: Contract, seed: int, **params) -> Pipeline:
    numeric, categorical = list(contract.numeric_features), list(contract.categorical_features)
    prep = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            # Unknown or missing categories become -1, which HistGradientBoosting treats as missing.
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    model = HistGradientBoostingClassifier(
        categorical_features=list(range(len(numeric), len(numeric) + len(categorical))),
        random_state=seed,
        **params,
    )
    return Pipeline([("prep", prep), ("model", model)])


def logistic_scorecard(contract: Contract, seed: int, **params) -> Pipeline:
    numeric, categorical = list(contract.numeric_features), list(contract.categorical_features)
    prep = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline(
        [("prep", prep), ("model", LogisticRegression(max_iter=2000, random_state=seed, **params))]
    )


FAMILIES = {
    "hist_gradient_boosting": (
        gradient_boosting,
        {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31], "l2_regularization": [0.0, 1.0]},
    ),
    "logistic_scorecard": (logistic_scorecard, {"C": [0.1, 1.0, 10.0]}),
}


@dataclass
class Trial:
    family: str
    params: dict
    validation_auc: float
    train_auc: float
    seconds: float  # wall time of the fit, for the record only: nothing is decided on it


@dataclass
class SearchResult:
    best: Pipeline
    best_trial: Trial
    trials: list[Trial] = field(default_factory=list)
    plan: list[dict] = field(default_factory=list)  # every candidate of the full plan, in order


def _grid(space: dict) -> list[dict]:
    keys = sorted(space)
    return [dict(zip(keys, values, strict=True)) for values in product(*(space[k] for k in keys))]


def plan() -> list[tuple[str, dict]]:
    """Every candidate in the order the search fits them: the families' grids interleaved, so
    that the first few candidates of a smaller search already cover both families."""
    grids = [[(family, params) for params in _grid(space)] for family, (_, space) in FAMILIES.items()]
    return [candidate for round_ in zip_longest(*grids) for candidate in round_ if candidate is not None]


def search(
    contract: Contract,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    seed: int = 0,
    candidates: int | None = None,
) -> SearchResult:
    """Fit the first ``candidates`` of the plan (all of them by default) in order; keep the best
    validation AUC (the earlier candidate on a tie)."""
    full = plan()
    count = len(full) if candidates is None else candidates
    if not 1 <= count <= len(full):
        raise ValueError(f"the search fits 1 to {len(full)} candidates, not {candidates}")
    x_train, y_train = features(train, contract), contract.outcome(train)
    x_val, y_val = features(validation, contract), contract.outcome(validation)
    for name, y in (("train", y_train), ("validation", y_val)):
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"the {name} split ({len(y)} rows) holds a single class; cannot train or compare models"
            )
    trials, best, best_trial = [], None, None
    for family, params in full[:count]:
        build = FAMILIES[family][0]
        started = time.perf_counter()
        model = build(contract, seed, **params).fit(x_train, y_train)
        trial = Trial(
            family,
            params,
            float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])),
            float(roc_auc_score(y_train, model.predict_proba(x_train)[:, 1])),
            time.perf_counter() - started,
        )
        trials.append(trial)
        if best_trial is None or trial.validation_auc > best_trial.validation_auc:
            best, best_trial = model, trial
    return SearchResult(
        best,
        best_trial,
        trials,
        [{"order": i + 1, "family": f, "params": p, "fitted": i < count} for i, (f, p) in enumerate(full)],
    )
