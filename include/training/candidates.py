"""Candidate models as scikit-learn Pipelines whose preprocessing comes from the contract,
and a deterministic search over a fixed plan of candidates, bounded by a count.

Two families, as the credit team asked: gradient-boosted trees (HistGradientBoosting, with
the contract's categories as native categorical features) and a logistic-regression
scorecard (median-imputed, standardised numbers and one-hot categories). Only columns with
role ``feature`` enter a model: ids, timestamps and protected attributes never do.

High-cardinality categories (postcodes, employers: thousands of levels) train in both
families: a category keeps at most ``MAX_LEVELS`` categories, its most frequent levels (and
the missing value where the training rows have one) each their own code and every other level
one shared "infrequent" code (scikit-learn's ``max_categories``, a stable count sort: the same
data groups the same levels). HistGradientBoosting takes at most ``max_bins`` (255) codes per
native categorical feature, its -1 for a missing or unseen level included, hence 254; the
scorecard groups at the same count, so that a 2,000-level category gives 254 coefficients,
not 2,000 fitted on a handful of rows each. A category with
fewer levels is encoded exactly as before (``max_categories`` leaves it alone), so the models
of the existing contracts are the same to the last digit. ``encodings`` reads from a fitted
pipeline which features were grouped; the search records it (``SearchResult.encoding``).
Target encoding was weighed for the trees and left out: its cross-fitting shuffles with a
splitter object that the registered model's skops loader does not trust, and by default
with no seed at all.

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
from include.errors import PermanentError

MAX_LEVELS = 254  # codes a category keeps: HistGradientBoosting's max_bins (255) less the missing code


class CandidateError(PermanentError, ValueError):
    """A candidate cannot be fitted on this data (the same data fails the same way on a retry);
    names the family, its parameters and the categories with their number of levels."""


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The model input of ``frame``: the contract's features as the pipelines take them."""
    return model_input.frame(frame, contract.numeric_features, contract.categorical_features)


def gradient_boosting(contract: Contract, seed: int, **params) -> Pipeline:
    numeric, categorical = list(contract.numeric_features), list(contract.categorical_features)
    # Codes 0..max_categories-1 plus -1 must fit in max_bins: the missing code counts as one.
    max_categories = min(MAX_LEVELS, params.get("max_bins", 255) - 1)
    prep = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            # Unknown or missing categories become -1; levels past the most frequent
            # max_categories - 1 share one code (no effect on a category with fewer levels).
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                    max_categories=max_categories,
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
                        # An unseen level joins the infrequent ones where a category has them,
                        # else it is all zeros (as handle_unknown="ignore").
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_LEVELS),
                        ),
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


def _encoder(model: Pipeline):
    """The fitted category encoder of a candidate and the names of its columns."""
    prep = model.named_steps["prep"]
    names = next(columns for name, _, columns in prep.transformers_ if name == "categorical")
    encoder = prep.named_transformers_["categorical"]
    return (encoder.named_steps["onehot"] if isinstance(encoder, Pipeline) else encoder), list(names)


def encodings(model: Pipeline) -> dict[str, dict]:
    """Per category of a fitted candidate: the levels seen in training (the missing value
    aside), the codes the model keeps, and how many levels share the "infrequent" one."""
    encoder, names = _encoder(model)
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(encoder.categories_))
    out = {}
    for name, categories, rare in zip(names, encoder.categories_, infrequent, strict=True):
        levels = sum(1 for c in categories if not (c is None or c != c or c == "missing"))
        grouped = 0 if rare is None else len(rare)
        out[str(name)] = {
            "levels": int(levels),
            "encoding": "grouped"
            if grouped
            else ("ordinal" if isinstance(encoder, OrdinalEncoder) else "one_hot"),
            "kept_levels": int(levels - grouped),  # each with a code of its own
            "grouped_levels": int(grouped),
        }
    return out


def encoding_summary(encoding: dict[str, dict], limit: int = 4000) -> str | None:
    """One line for the MLflow params and the model card: the grouped categories, or None."""
    parts = [
        f"{name}: {e['levels']} levels, the {e['kept_levels']} most frequent kept, "
        f"{e['grouped_levels']} grouped as infrequent"
        for name, e in encoding.items()
        if e["encoding"] == "grouped"
    ]
    if not parts:
        return None
    text = "; ".join(parts)
    return (
        text if len(text) <= limit else text[:limit].rsplit("; ", 1)[0] + f"; ... ({len(parts)} categories)"
    )


def _levels(x: pd.DataFrame, contract: Contract) -> str:
    counts = sorted(
        ((int(x[c].nunique(dropna=True)), c) for c in contract.categorical_features), reverse=True
    )
    return ", ".join(f"{c} {n} levels" for n, c in counts[:5]) or "no categories"


def fit(family: str, contract: Contract, seed: int, params: dict, x: pd.DataFrame, y) -> Pipeline:
    """The candidate fitted on ``x``; a ValueError of the fit (one the same data repeats on any
    retry) as a CandidateError naming the categories and their levels, at once."""
    try:
        return FAMILIES[family][0](contract, seed, **params).fit(x, y)
    except ValueError as exc:
        raise CandidateError(
            f"{family} {params} cannot be fitted on the {contract.name} training rows "
            f"(categories: {_levels(x, contract)}): {exc}"
        ) from exc


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
    encoding: dict = field(default_factory=dict)  # the best candidate's ``encodings``

    @property
    def params(self) -> dict:
        """The best candidate's parameters as recorded (MLflow params, model card): its grid
        parameters, and ``categorical_encoding`` when some category had its levels grouped."""
        summary = encoding_summary(self.encoding)
        return dict(self.best_trial.params) | ({"categorical_encoding": summary} if summary else {})


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
            raise CandidateError(
                f"the {name} split ({len(y)} rows) holds a single class; cannot train or compare models"
            )
    trials, best, best_trial = [], None, None
    for family, params in full[:count]:
        started = time.perf_counter()
        model = fit(family, contract, seed, params, x_train, y_train)
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
        encodings(best),
    )
