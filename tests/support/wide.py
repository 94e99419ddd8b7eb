"""Synthetic contracts and rows for scale tests and benches: many features, or a category with
thousands of levels, on the credit contract's ids, timestamp, target and protected attribute."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from include.contract import Column, Contract


def contract(base: Contract, numeric: int, categorical: int, name: str | None = None) -> Contract:
    """``base`` with its features replaced by ``numeric`` floats ``n000..`` then ``categorical``
    categories ``c000..`` (the other columns as they are)."""
    kept = tuple(c for c in base.columns if c.role != "feature")
    features = tuple(Column(f"n{i:03d}", "float", nullable=True) for i in range(numeric)) + tuple(
        Column(f"c{i:03d}", "category", nullable=True) for i in range(categorical)
    )
    return dataclasses.replace(
        base,
        name=name or f"{base.name}_{numeric}n{categorical}c",
        columns=kept[:2] + features + kept[2:],
        critical_features=(),
    )


def rows(
    contract: Contract, n: int, *, seed: int = 0, levels: int | dict = 5, start: str = "2026-03-01"
) -> pd.DataFrame:
    """``n`` labelled rows over six days: each feature moves the log-odds a little (numbers
    linearly, categories by a level effect); ``levels``: levels per category (or per name).
    About 2% of each feature is missing."""
    rng = np.random.default_rng(seed)
    logit = np.zeros(n)
    out = {}
    for i, name in enumerate(contract.numeric_features):
        values = rng.normal(size=n)
        logit += values * (0.8 if i < 5 else 0.05)
        values[rng.random(n) < 0.02] = np.nan
        out[name] = values
    for name in contract.categorical_features:
        count = levels.get(name, 5) if isinstance(levels, dict) else levels
        # Zipf-like frequencies: a long tail of rare levels, as postcodes or employers have.
        weights = 1.0 / np.arange(1, count + 1) ** 0.7
        codes = rng.choice(count, size=n, p=weights / weights.sum())
        codes[: min(n, count)] = rng.permutation(count)[: min(n, count)]  # every level appears
        effect = rng.normal(scale=0.6, size=count)
        logit += effect[codes]
        values = np.array([f"L{c:04d}" for c in codes], dtype=object)
        values[rng.random(n) < 0.02] = None
        out[name] = values
    y = (rng.random(n) < 1 / (1 + np.exp(-(logit - 1.0)))).astype(int)
    frame = pd.DataFrame(out)
    frame[contract.primary_key[0]] = [f"A{i:07d}" for i in range(n)]
    frame[contract.event_timestamp] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 6 * 86_400, size=n)), unit="s"
    )
    frame[contract.target] = y
    for name in contract.protected:
        frame[name] = rng.choice(["F", "M"], size=n)
    return frame
