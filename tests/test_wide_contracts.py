"""Issue 23: a category with thousands of levels trains in every family and scores; reason codes
stay one predict call per application as features grow, with the same codes as the per-feature
copies they replaced; the model input's fast paths give what the nullable route gave."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from include import contract as contract_module
from include.errors import PermanentError
from include.simulator import credit as simulator
from include.training import candidates, tracking
from include.training.dataset import time_split
from include.training.reasons import contributions, explain, typical_values
from tests.support import wide
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
POSTCODES = wide.contract(CREDIT, 5, 2, name="postcodes")  # c000: 2,000 levels, c001: 4


def _old_scored_contributions(model, x: pd.DataFrame, typical: dict):
    """The reference: reason codes as computed before issue 23, one frame copy per feature."""
    copies = [x] + [x.assign(**{name: [typical[name]] * len(x)}) for name in x.columns]
    scores = model.predict_proba(pd.concat(copies, ignore_index=True))[:, 1].reshape(len(copies), len(x))
    return scores[0], (scores[0] - scores[1:]).T


def _old_explain(model, x, typical, threshold, top_k=3, favorable="negative"):
    score, table = _old_scored_contributions(model, x, typical)
    high = score >= threshold
    if favorable == "positive":
        high, table = ~high, -table
    order = np.argsort(-table, axis=1, kind="stable")[:, :top_k]
    raised = np.take_along_axis(table, order, axis=1) > 1e-9
    names = np.array(list(x.columns) + [""], dtype=object)
    out = pd.DataFrame({"score": score, "decision": np.where(high, "decline", "approve")})
    for rank in range(top_k):
        if rank < order.shape[1]:
            out[f"reason_{rank + 1}"] = names[np.where(raised[:, rank], order[:, rank], len(names) - 1)]
        else:
            out[f"reason_{rank + 1}"] = ""
    return out


@pytest.fixture(scope="module")
def postcodes():
    data = wide.rows(POSTCODES, 12_000, seed=3, levels={"c000": 2000, "c001": 4})
    return time_split(data, POSTCODES)


def test_a_2000_level_category_trains_for_every_family_and_scores(postcodes):
    x_train, y_train = candidates.features(postcodes.train, POSTCODES), POSTCODES.outcome(postcodes.train)
    assert x_train["c000"].nunique() > 1500  # far past HistGradientBoosting's 255
    rows = postcodes.holdout[list(POSTCODES.features)].head(50).copy()
    rows.loc[rows.index[0], "c000"] = "never-seen"
    typical = typical_values(x_train)
    for family in candidates.FAMILIES:
        params = next(p for f, p in candidates.plan() if f == family)
        with threadpool_limits(limits=1):
            model = candidates.fit(family, POSTCODES, 0, params, x_train, y_train)
            again = candidates.fit(family, POSTCODES, 0, params, x_train, y_train)
        x_holdout = candidates.features(postcodes.holdout, POSTCODES)
        scores = model.predict_proba(x_holdout)[:, 1]
        assert np.array_equal(scores, again.predict_proba(x_holdout)[:, 1])  # same data, same model
        encoding = candidates.encodings(model)
        assert encoding["c000"]["encoding"] == "grouped" and encoding["c000"]["kept_levels"] <= 253
        assert encoding["c000"]["levels"] == x_train["c000"].nunique()
        assert (
            encoding["c001"]["encoding"] in ("ordinal", "one_hot") and encoding["c001"]["grouped_levels"] == 0
        )
        summary = candidates.encoding_summary(encoding)
        assert summary.startswith(f"c000: {encoding['c000']['levels']} levels") and "c001" not in summary
        # Scored as production scores: the registered pyfunc, saved and loaded back (skops).
        with tracking.scoring_model(model, POSTCODES, postcodes.holdout, typical, threads=1) as kw:
            served = tracking.load_scoring_model(kw).predict(rows)
        assert served["score"].between(0, 1).all() and len(served) == 50
        assert np.allclose(served["score"].to_numpy()[1:], scores[1:50])


def test_the_search_records_which_categories_were_grouped(postcodes):
    result = candidates.search(POSTCODES, postcodes.train, postcodes.validation, seed=0, candidates=2)
    assert {t.family for t in result.trials} == set(candidates.FAMILIES)
    assert result.encoding["c000"]["encoding"] == "grouped"
    assert result.params == result.best_trial.params | {
        "categorical_encoding": candidates.encoding_summary(result.encoding)
    }


def test_the_credit_contract_records_no_grouping():
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(4)]
    data = simulator.labelled_applications(days, seed=5, rows=1000, maturity_days=CREDIT.labels.maturity_days)
    splits = time_split(data, CREDIT)
    result = candidates.search(CREDIT, splits.train, splits.validation, seed=0, candidates=2)
    assert result.params == result.best_trial.params  # nothing new in the MLflow params
    assert {e["grouped_levels"] for e in result.encoding.values()} == {0}


def test_a_fit_that_cannot_be_honoured_fails_at_once_naming_the_categories(postcodes):
    x_train, y_train = candidates.features(postcodes.train, POSTCODES), POSTCODES.outcome(postcodes.train)
    with pytest.raises(PermanentError, match=r"categories: c000 \d{4} levels, c001 4 levels") as caught:
        candidates.fit("hist_gradient_boosting", POSTCODES, 0, {"max_bins": 300}, x_train, y_train)
    assert isinstance(caught.value, ValueError) and "hist_gradient_boosting" in str(caught.value)
    with pytest.raises(PermanentError, match="single class"):
        candidates.search(POSTCODES, postcodes.train.assign(defaulted=0), postcodes.validation)


def _fitted(contract, data, family):
    x = candidates.features(data, contract)
    params = next(p for f, p in candidates.plan() if f == family)
    return candidates.fit(family, contract, 0, params, x, contract.outcome(data)), x


@pytest.mark.parametrize("family", list(candidates.FAMILIES))
@pytest.mark.parametrize("shape", [(0, 0), (24, 6)])  # the credit contract, and a wider one
def test_reason_codes_are_those_of_the_per_feature_copies(family, shape):
    if shape == (0, 0):
        days = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]
        contract = CREDIT
        data = simulator.labelled_applications(
            days, seed=5, rows=800, maturity_days=CREDIT.labels.maturity_days
        )
    else:
        contract = wide.contract(CREDIT, *shape)
        data = wide.rows(contract, 3000, seed=1)
    model, x = _fitted(contract, data, family)
    typical = typical_values(x)
    typical[x.columns[-1]] = None  # a category never seen filled (all missing in training)
    sample = x.sample(n=120, random_state=0)
    for favorable in ("negative", "positive"):
        old = _old_explain(model, sample, typical, 0.3, top_k=4, favorable=favorable)
        new = explain(model, sample, typical, 0.3, top_k=4, favorable=favorable)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    table = contributions(model, sample, typical)
    assert np.array_equal(table.to_numpy(), _old_scored_contributions(model, sample, typical)[1])
    one = sample.iloc[[3]]
    pd.testing.assert_frame_equal(explain(model, one, typical, 0.3), _old_explain(model, one, typical, 0.3))


class Counting:
    """A model that counts its predict_proba calls and the rows they score."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict_proba(self, x):
        self.calls.append(len(x))
        return self.model.predict_proba(x)


def test_one_application_is_one_predict_call_however_many_features():
    contract = wide.contract(CREDIT, 180, 20)
    data = wide.rows(contract, 1500, seed=2)
    model, x = _fitted(contract, data, "logistic_scorecard")
    counting = Counting(model)
    out = explain(counting, x.iloc[[0]], typical_values(x), 0.5)
    assert counting.calls == [201] and len(out) == 1
    counting.calls.clear()
    explain(counting, x.head(500), typical_values(x), 0.5)  # stacked copies bounded: 65 a call
    assert sum(counting.calls) == 500 * 201 and max(counting.calls) <= 65 * 201


def _old_frame(data, numeric, categorical):
    """model_input.frame before its fast paths (the nullable route for every column)."""

    def numbers(column):
        if pd.api.types.is_bool_dtype(column.dtype):
            return column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if column.dtype == object:
            column = column.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v)
        return pd.to_numeric(column, errors="raise").astype("Float64").to_numpy(dtype=float, na_value=np.nan)

    def text(column):
        return column.astype("string").astype(object).where(column.notna(), None)

    out = {name: numbers(data[name]) for name in numeric}
    out |= {name: text(data[name]).to_numpy(dtype=object) for name in categorical}
    return pd.DataFrame(out, index=data.index, columns=[*numeric, *categorical])


def test_the_model_input_fast_paths_give_what_the_nullable_route_gave():
    from include.model_input import frame

    data = pd.DataFrame(
        {
            "f": [1.5, np.nan, -0.0, 3.0],
            "i": np.array([1, 2, 3, 2**40], dtype=np.int64),
            "b": [True, False, True, False],
            "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "o": pd.Series([1, None, 2.5, True], dtype=object),
            "t": ["a", None, np.nan, "b"],
            "s": pd.array(["x", None, "y", "z"], dtype="string"),
            "mixed": pd.Series([1, "a", None, 2.0], dtype=object),
            "empty": pd.Series([None, None, None, None], dtype=object),
        },
        index=[10, 11, 12, 13],
    )
    numeric, categorical = ["f", "i", "b", "nullable", "flag", "o"], ["t", "s", "mixed", "empty"]
    new, old = frame(data, numeric, categorical), _old_frame(data, numeric, categorical)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert [type(v) for v in new["t"]] == [type(v) for v in old["t"]]
    assert np.signbit(new["f"].to_numpy()[2])


@pytest.mark.parametrize("family", list(candidates.FAMILIES))
def test_categories_with_few_levels_are_encoded_as_before_to_the_last_digit(family):
    """``max_categories`` leaves a category with fewer levels alone: the credit contract's models
    are those of the encoders without it (as before issue 23), prediction for prediction."""
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]
    data = simulator.labelled_applications(days, seed=5, rows=1500, maturity_days=CREDIT.labels.maturity_days)
    x, y = candidates.features(data, CREDIT), CREDIT.outcome(data)
    for params in [p for f, p in candidates.plan() if f == family]:
        model = candidates.FAMILIES[family][0](CREDIT, 0, **params)
        before = candidates.FAMILIES[family][0](CREDIT, 0, **params)
        if family == "hist_gradient_boosting":
            before.set_params(prep__categorical__max_categories=None)
        else:
            before.set_params(
                prep__categorical__onehot__max_categories=None,
                prep__categorical__onehot__handle_unknown="ignore",
            )
        assert np.array_equal(model.fit(x, y).predict_proba(x), before.fit(x, y).predict_proba(x))
