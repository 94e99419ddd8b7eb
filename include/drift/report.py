"""Evidently 0.7 on raw data: the human-readable drift report, and the peer our engine is
checked against.

``render_html`` is for people (an HTML page per drifted window, say); the hourly verdict comes
from ``include.drift.engine``, which needs only the reference profile. ``evidently_columns``
runs the same ``DataDriftPreset`` and returns each column's method, statistic and verdict, so
tests and the benchmark can compare the two on the same data.

Evidently is imported inside the functions: it costs 3-5 s and about 290 MB, which no DAG file
and no caller that only needs the engine should pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from include import model_input
from include.contract import Contract

VALUE_DRIFT = "evidently:metric_v2:ValueDrift"


@dataclass(frozen=True)
class EvidentlyColumn:
    method: str  # the StatTest name ("wasserstein", "jensenshannon", "psi", "ks", "chisquare", "z", ...)
    statistic: float  # Evidently's drift score: a distance, PSI, or the p-value of a test
    drifted: bool
    threshold: float


def columns_for(
    contract: Contract, reference: pd.DataFrame, current: pd.DataFrame, score_column: str = "score"
) -> tuple[list[str], list[str]]:
    """(numerical, categorical) columns to judge: the contract's features, numbers as the model
    pipelines decide, plus the score when both frames have it."""
    numeric, categorical = list(contract.numeric_features), list(contract.categorical_features)
    if score_column in reference.columns and score_column in current.columns and score_column not in numeric:
        numeric = numeric + [score_column]
    return numeric, categorical


def plain(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The columns as Evidently 0.7 handles them: numbers as float64 with NaN, categories as text.

    Curated ints are pandas' nullable ``Int64``, whose values numpy sees as objects; Evidently's
    correlation step then fails ("'float' object has no attribute 'shape'"), and only when the
    reference holds no missing value at all, the one case it runs that step."""
    return model_input.frame(frame, numeric, categorical)


def run(reference: pd.DataFrame, current: pd.DataFrame, contract: Contract, *, score_column: str = "score"):
    """Evidently's ``Report([DataDriftPreset(...)])`` snapshot, with an explicit data definition
    (numerical/categorical from the contract), the contract's drift share and its per-column
    method and threshold overrides."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric, categorical = columns_for(contract, reference, current, score_column)
    columns = numeric + categorical
    overrides = contract.monitoring.columns
    methods = {name: o.method for name, o in overrides.items() if o.method is not None and name in columns}
    thresholds = {
        name: o.threshold for name, o in overrides.items() if o.threshold is not None and name in columns
    }
    preset = DataDriftPreset(
        columns=columns,
        drift_share=contract.monitoring.drift_share,
        per_column_method=methods or None,
        per_column_threshold=thresholds or None,
    )
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    return Report([preset], include_tests=True).run(
        Dataset.from_pandas(plain(current, numeric, categorical), data_definition=definition),
        Dataset.from_pandas(plain(reference, numeric, categorical), data_definition=definition),
    )


def _method_names() -> dict[str, str]:
    """StatTest display names (what a 0.7 snapshot records for an auto-chosen method) and names
    (what it records for a method given explicitly) -> name."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    names = {}
    for name, by_type in _registered_stat_tests.items():
        for stattest in by_type.values():
            names[stattest.display_name] = stattest.name
        names[name] = name
    return names


def columns_from_snapshot(snapshot: dict[str, Any]) -> dict[str, EvidentlyColumn]:
    """Per-column results from a 0.7 snapshot's ``.dict()``: each ``ValueDrift`` metric holds the
    column, method and threshold in ``config`` and the drift score in ``value``; its test (in
    ``tests``, linked by ``metric_config.metric_id``) is ``FAIL`` when the column drifted."""
    names = _method_names()
    status = {
        t["metric_config"]["metric_id"]: t["status"]
        for t in snapshot.get("tests", [])
        if t.get("metric_config", {}).get("params", {}).get("type") == VALUE_DRIFT
    }
    result = {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config.get("type") != VALUE_DRIFT:
            continue
        if metric["id"] not in status:
            raise ValueError(
                f"no drift test for column {config['column']!r}: run the report with include_tests=True"
            )
        result[config["column"]] = EvidentlyColumn(
            names.get(config["method"], config["method"]),
            float(metric["value"]),
            status[metric["id"]] == "FAIL",
            float(config["threshold"]),
        )
    return result


def evidently_columns(
    reference: pd.DataFrame, current: pd.DataFrame, contract: Contract, *, score_column: str = "score"
) -> dict[str, EvidentlyColumn]:
    """Run Evidently on the raw frames and return column -> (method, statistic, drifted, threshold)."""
    return columns_from_snapshot(run(reference, current, contract, score_column=score_column).dict())


def render_html(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: Contract,
    path,
    *,
    score_column: str = "score",
    result=None,
    reference_rows: int | None = None,
) -> str:
    """Render Evidently's data drift report of ``current`` against ``reference`` and write it to
    ``path`` (an ObjectStoragePath, e.g. from ``include.storage.path``, or its URI) atomically;
    return the URI written. With the engine's ``result`` for the same window (and the profile's
    ``reference_rows``), the package's verdict opens the report (``include.drift.verdict``)."""
    from include import storage
    from include.drift import verdict

    if isinstance(path, str):
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(path)
    snapshot = run(reference, current, contract, score_column=score_column)
    html = snapshot.get_html_str(as_iframe=False)
    if result is not None:
        theirs = columns_from_snapshot(snapshot.dict())
        block = verdict.banner(
            contract,
            result,
            theirs,
            reference_rows=reference_rows or len(reference),
            sample_rows=len(reference),
        )
        html = verdict.inject(html, block)
    storage.write_bytes_atomic(path, html.encode("utf-8"))
    return storage.describe(path)
