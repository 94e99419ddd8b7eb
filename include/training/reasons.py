"""Per-decision reason codes: which features pushed an application towards the unfavorable decision.

Model-agnostic occlusion: a feature's contribution is the score minus the score with that
feature set to its typical training value (median for numbers, most frequent category).
It works for the gradient-boosted trees and the scorecard alike, and for a logistic model it
orders features like coefficient times deviation from the median, the classic scorecard
reason.

Vectorised, so that its cost grows with the cells scored and not with features squared: the
occluded copies of a batch are built column by column as one stacked frame (the batch, then
one copy per feature with that feature replaced by its typical value) and scored in one
``predict_proba`` call. One application of a 200-feature contract is one call on 201 rows;
copying the frame once per feature and concatenating the copies, as this module once did,
cost a second of CPU in pandas alone (bench/reasons.py compares the two).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK_ROWS = 20_000  # applications occluded together at most
# Cells of one stacked block (rows x copies x features): the 20,000 rows x 12 copies x 11 features
# of the credit contract. A wider contract occludes fewer applications per call, so that the
# stacked copies stay within the same memory (200 features: 65 applications a call).
BLOCK_CELLS = BLOCK_ROWS * 12 * 11


def block_rows(features: int) -> int:
    """Applications occluded together with ``features`` features."""
    return max(1, min(BLOCK_ROWS, BLOCK_CELLS // max(1, features * (features + 1))))


def typical_values(x: pd.DataFrame) -> dict:
    """Median of each numeric column and most frequent value of the others."""
    out = {}
    for name in x.columns:
        column = x[name]
        if pd.api.types.is_numeric_dtype(column):
            out[name] = float(column.median())
        else:
            counts = column.dropna().value_counts()
            out[name] = counts.index[0] if len(counts) else None
    return out


def occluded(x: pd.DataFrame, typical: dict) -> pd.DataFrame:
    """``x``, then one copy of ``x`` per feature (in column order) with that feature set to its
    typical value: (features + 1) x rows rows, built column by column, without a copy per feature."""
    n, copies = len(x), x.shape[1] + 1
    columns = {}
    for j, name in enumerate(x.columns):
        column, fill = x[name], typical[name]
        dtype = _stacked_dtype(column, fill)
        if dtype is None:
            return _occluded_by_copies(x, typical)  # extension dtypes: model_input never makes them
        values = np.tile(column.to_numpy().astype(dtype, copy=False), copies)
        values[(j + 1) * n : (j + 2) * n] = (
            fill if dtype.kind == "O" or dtype == np.float64 else _cast(fill, dtype)
        )
        columns[name] = values
    return pd.DataFrame(columns, columns=x.columns)


def _stacked_dtype(column: pd.Series, fill) -> np.dtype | None:
    """The dtype pandas gives a column of ``column`` and copies of it set to ``fill`` (what
    concatenating the copies made); None when either side is not a numpy dtype."""
    if column.dtype == object:
        return column.dtype
    number = isinstance(fill, (float, int, np.floating, np.integer)) and not isinstance(
        fill, (bool, np.bool_)
    )
    if column.dtype == np.float64 and number:
        return column.dtype
    dtype = pd.concat([column.iloc[:1], pd.Series([fill])], ignore_index=True).dtype
    return dtype if isinstance(dtype, np.dtype) and isinstance(column.dtype, np.dtype) else None


def _cast(value, dtype: np.dtype):
    return pd.Series([value]).to_numpy().astype(dtype)[0]


def _occluded_by_copies(x: pd.DataFrame, typical: dict) -> pd.DataFrame:
    copies = [x] + [x.assign(**{name: [typical[name]] * len(x)}) for name in x.columns]
    return pd.concat(copies, ignore_index=True)


def _block_contributions(model, x: pd.DataFrame, typical: dict) -> tuple[np.ndarray, np.ndarray]:
    copies = x.shape[1] + 1
    scores = model.predict_proba(occluded(x, typical))[:, 1].reshape(copies, len(x))
    return scores[0], (scores[0] - scores[1:]).T


def scored_contributions(model, x: pd.DataFrame, typical: dict) -> tuple[np.ndarray, np.ndarray]:
    """(score per application, score change due to each feature: applications x features)."""
    if len(x) == 0:
        return np.empty(0), np.empty((0, x.shape[1]))
    step = block_rows(x.shape[1])
    parts = [_block_contributions(model, x.iloc[i : i + step], typical) for i in range(0, len(x), step)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def contributions(model, x: pd.DataFrame, typical: dict) -> pd.DataFrame:
    """Score change due to each feature, one row per application, one column per feature."""
    return pd.DataFrame(scored_contributions(model, x, typical)[1], index=x.index, columns=x.columns)


def _top(table: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions of the ``top_k`` largest contributions (largest first; ties in
    column order) and whether each raised the risk at all."""
    order = np.argsort(-table, axis=1, kind="stable")[:, :top_k]
    return order, np.take_along_axis(table, order, axis=1) > 1e-9


def reason_codes(model, x: pd.DataFrame, typical: dict, top_k: int = 3) -> list[list[dict]]:
    """For each application, up to ``top_k`` features that raised its risk, largest first."""
    _, table = scored_contributions(model, x, typical)
    order, raised = _top(table, top_k)
    names = list(x.columns)
    return [
        [
            {"feature": names[j], "value": _plain(x.iloc[i, j]), "contribution": round(float(table[i, j]), 6)}
            for j, up in zip(order[i], raised[i], strict=True)
            if up
        ]
        for i in range(len(x))
    ]


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def explain(
    model, x: pd.DataFrame, typical: dict, threshold: float, top_k: int = 3, favorable: str = "negative"
) -> pd.DataFrame:
    """What the registered model returns per application: the probability of the positive
    class, the decision at the contract's threshold (``approve`` is the favorable decision:
    a score below the threshold when ``favorable`` is "negative", as in credit, at or above it
    when "positive"), and the top features that pushed the score towards ``decline`` (up for
    credit, down for a selection model; ``reason_1`` strongest, an empty string where fewer did)."""
    score, table = scored_contributions(model, x, typical)
    high = score >= threshold
    if favorable == "positive":
        high, table = ~high, -table  # the adverse direction is a lower score
    order, raised = _top(table, top_k)
    names = np.array(list(x.columns) + [""], dtype=object)
    out = pd.DataFrame({"score": score, "decision": np.where(high, "decline", "approve")})
    for rank in range(top_k):
        if rank < order.shape[1]:
            out[f"reason_{rank + 1}"] = names[np.where(raised[:, rank], order[:, rank], len(names) - 1)]
        else:
            out[f"reason_{rank + 1}"] = ""
    return out
