"""Candidate models as scikit-learn Pipelines whose preprocessing comes from the contract,
and a small, deterministic hyperparameter search with a wall-clock cap.

Two families, as the credit team asked: gradient-boosted trees (HistGradientBoosting, with
the contract's categories as native categorical features) and a logistic-regression
scorecard (median-imputed, standardised numbers and one-hot categories). Only columns with
role ``feature`` enter a model: ids, timestamps and protected attributes never do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from include.contract import Contract

NUMERIC = ("int", "float")


def feature_columns(contract: Contract) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names, in contract order."""
    numeric = [c.name for c in contract.columns if c.role == "feature" and c.dtype in NUMERIC]
    categorical = [c.name for c in contract.columns if c.role == "feature" and c.dtype not in NUMERIC]
    return numeric, categorical


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The model input: contract features only, numbers as float (nullable ints become NaN)."""
    numeric, categorical = feature_columns(contract)
    out = frame[numeric + categorical].copy()
    out[numeric] = out[numeric].astype(float)
    out[categorical] = out[categorical].astype(object).where(out[categorical].notna(), None)
    return out


def gradient_boosting(contract: Contract, seed: int, **params) -> Pipeline:
    numeric, categorical = feature_columns(contract)
    prep = ColumnTransformer([
        ("numeric", "passthrough", numeric),
        # Unknown or missing categories become -1, which HistGradientBoosting treats as missing.
        ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                       encoded_missing_value=-1), categorical),
    ], verbose_feature_names_out=False)
    model = HistGradientBoostingClassifier(
        categorical_features=list(range(len(numeric), len(numeric) + len(categorical))), random_state=seed, **params)
    return Pipeline([("prep", prep), ("model", model)])


def logistic_scorecard(contract: Contract, seed: int, **params) -> Pipeline:
    numeric, categorical = feature_columns(contract)
    prep = ColumnTransformer([
        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
        ("categorical", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                                  ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical),
    ], verbose_feature_names_out=False)
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=2000, random_state=seed, **params))])


FAMILIES = {
    "hist_gradient_boosting": (gradient_boosting, {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31],
                                                   "l2_regularization": [0.0, 1.0]}),
    "logistic_scorecard": (logistic_scorecard, {"C": [0.1, 1.0, 10.0]}),
}


@dataclass
class Trial:
    family: str
    params: dict
    validation_auc: float
    train_auc: float
    seconds: float


@dataclass
class SearchResult:
    best: Pipeline
    best_trial: Trial
    trials: list[Trial] = field(default_factory=list)
    budget_exhausted: bool = False


def _grid(space: dict) -> list[dict]:
    keys = sorted(space)
    return [dict(zip(keys, values)) for values in product(*(space[k] for k in keys))]


def search(contract: Contract, train: pd.DataFrame, validation: pd.DataFrame, *, seed: int = 0,
           budget_seconds: float = 300.0) -> SearchResult:
    """Fit every grid point of every family in a fixed order, keep the best validation AUC.

    The order and seeds are fixed, so the same data give the same models; the wall-clock cap
    only stops the search early on a slow machine, and the result says when it did.
    """
    x_train, y_train = features(train, contract), train[contract.target].astype(int).to_numpy()
    x_val, y_val = features(validation, contract), validation[contract.target].astype(int).to_numpy()
    for name, y in (("train", y_train), ("validation", y_val)):
        if len(np.unique(y)) < 2:
            raise ValueError(f"the {name} split ({len(y)} rows) holds a single class; cannot train or compare models")
    started = time.monotonic()
    trials, best, best_trial, exhausted = [], None, None, False
    for family, (build, space) in FAMILIES.items():
        for params in _grid(space):
            if trials and time.monotonic() - started > budget_seconds:
                exhausted = True
                break
            t0 = time.monotonic()
            model = build(contract, seed, **params).fit(x_train, y_train)
            trial = Trial(family, params, float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])),
                          float(roc_auc_score(y_train, model.predict_proba(x_train)[:, 1])), time.monotonic() - t0)
            trials.append(trial)
            if best_trial is None or trial.validation_auc > best_trial.validation_auc:
                best, best_trial = model, trial
    return SearchResult(best, best_trial, trials, exhausted)
