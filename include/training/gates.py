"""Promotion gates: each returns a GateResult with its own pass/fail and numbers.

The challenger is promoted only when every gate passes; a failed gate is a normal outcome
(recorded, audited, notified), not an error. Fairness metrics come from fairlearn.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Gates that compare with the champion of the day. The others are "hard": a version that
# passed them stays a valid rollback target after a better champion has replaced it.
RELATIVE = ("no_regression", "min_improvement")


def hard_gates_passed(results: list[dict]) -> bool:
    return all(g["passed"] for g in results if g["name"] not in RELATIVE)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    observed: float | str | None
    threshold: float | str | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def auc_floor(holdout_auc: float, floor: float) -> GateResult:
    ok = holdout_auc >= floor
    return GateResult(
        "auc_floor",
        ok,
        round(holdout_auc, 6),
        floor,
        f"holdout AUC {holdout_auc:.4f} {'>=' if ok else '<'} the contract floor {floor}",
    )


def _shown(c) -> str:
    return (
        f"challenger - champion AUC on the same holdout {c.difference:+.4f} ({c.auc_a:.4f} vs {c.auc_b:.4f}; "
        f"DeLong SE {c.standard_error:.4f}, p {c.p_value:.3g}; one-sided {c.confidence:.0%} bounds "
        f"[{c.lower:+.4f}, {c.upper:+.4f}])"
    )


def no_regression(comparison, margin: float) -> GateResult:
    """Non-inferiority: the lower bound of challenger - champion AUC (``compare.delong``) above
    ``-margin``. None: no champion (or its inputs are not in the holdout) to compare with."""
    if comparison is None:
        return GateResult("no_regression", True, None, -margin, "no champion to compare with on this holdout")
    ok = comparison.lower > -margin
    return GateResult(
        "no_regression",
        ok,
        round(comparison.lower, 6),
        -margin,
        f"{_shown(comparison)}: {'not worse' if ok else 'possibly worse'} than the champion by the "
        f"non-inferiority margin {margin} ({'lower bound above' if ok else 'lower bound at or below'} {-margin})",
    )


def min_improvement(comparison, margin: float, force: bool) -> GateResult:
    """Superiority: the lower bound of challenger - champion AUC above ``margin`` (0: significantly
    better at the comparison's level). ``force`` passes it (the hard gates still apply)."""
    if comparison is None:
        return GateResult(
            "min_improvement", True, None, margin, "no champion: the first model needs no improvement"
        )
    ok = comparison.lower > margin
    if not ok and force:
        return GateResult(
            "min_improvement",
            True,
            round(comparison.lower, 6),
            margin,
            f"{_shown(comparison)}: not shown better than the champion by {margin}; passed because the "
            "trigger forced it",
        )
    return GateResult(
        "min_improvement",
        ok,
        round(comparison.lower, 6),
        margin,
        f"{_shown(comparison)}: {'significantly better' if ok else 'not shown better'} than the champion "
        f"(lower bound {'above' if ok else 'at or below'} {margin})",
    )


def overfitting(train_auc: float, holdout_auc: float, max_gap: float = 0.1) -> GateResult:
    gap = train_auc - holdout_auc
    ok = gap <= max_gap
    return GateResult(
        "overfitting",
        ok,
        round(gap, 6),
        max_gap,
        f"train AUC {train_auc:.4f} - holdout AUC {holdout_auc:.4f} = {gap:.4f} "
        f"({'within' if ok else 'above'} {max_gap})",
    )


def fairness_table(y_true, scores, groups, threshold: float) -> pd.DataFrame:
    """Per group of a protected attribute: rows, approval rate (score below the threshold)
    and true-positive rate (defaulters the model flags). Rows without a group are left out."""
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

    groups = pd.Series(groups).reset_index(drop=True)
    known = groups.notna().to_numpy()
    y = np.asarray(y_true, dtype=int)[known]
    flagged = (np.asarray(scores, dtype=float) >= threshold).astype(int)[known]
    frame = MetricFrame(
        metrics={
            "approval_rate": lambda yt, yp: selection_rate(yt, 1 - yp),
            "true_positive_rate": true_positive_rate,
            "rows": lambda yt, yp: len(yt),
            "defaulters": lambda yt, yp: int(np.sum(yt)),
        },
        y_true=y,
        y_pred=flagged,
        sensitive_features=groups[known].astype(str).to_numpy(),
    )
    return frame.by_group


def fairness(
    attribute: str,
    table: pd.DataFrame,
    min_approval_ratio: float = 0.8,
    max_tpr_gap: float = 0.1,
    min_group_defaulters: int = 0,
) -> list[GateResult]:
    """Four-fifths rule on approval rates, and the true-positive-rate gap. A group with fewer
    than ``min_group_defaulters`` defaulters fails the TPR gate: its rate cannot be judged
    (at 60 defaulters a group's TPR alone has a 95 % interval of about +-0.1)."""
    rates = table["approval_rate"]
    ratio = float(rates.min() / rates.max()) if rates.max() > 0 else 0.0
    shown = ", ".join(f"{g}: {r:.3f}" for g, r in rates.items())
    approval = GateResult(
        f"fairness_approval_ratio[{attribute}]",
        ratio >= min_approval_ratio,
        round(ratio, 6),
        min_approval_ratio,
        f"lowest / highest approval rate by {attribute} = {ratio:.3f} ({shown}); "
        f"four-fifths rule needs >= {min_approval_ratio}",
    )
    name = f"fairness_tpr_gap[{attribute}]"
    small = {str(g): int(n) for g, n in table["defaulters"].items() if n < min_group_defaulters}
    if small:
        return [
            approval,
            GateResult(
                name,
                False,
                None,
                max_tpr_gap,
                f"too few defaulters by {attribute} to measure true-positive rates: {small} "
                f"(need {min_group_defaulters} per group); widen the training window",
            ),
        ]
    tpr = table["true_positive_rate"]
    high, low = tpr.idxmax(), tpr.idxmin()
    gap = float(tpr[high] - tpr[low])
    spread = 1.96 * float(
        np.sqrt(sum(tpr[g] * (1 - tpr[g]) / max(table.loc[g, "defaulters"], 1) for g in (high, low)))
    )
    return [
        approval,
        GateResult(
            name,
            gap <= max_tpr_gap,
            round(gap, 6),
            max_tpr_gap,
            f"true-positive-rate gap by {attribute} = {gap:.3f} ({high} {tpr[high]:.3f} vs {low} "
            f"{tpr[low]:.3f}; 95 % interval +-{spread:.3f}); limit {max_tpr_gap}",
        ),
    ]


def schema_compatible(
    challenger_columns: list[str], champion_columns: list[str] | None, reason: str | None = None
) -> GateResult:
    if champion_columns is None:
        return GateResult("schema_compatible", True, None, None, "no champion signature to compare with")
    added = sorted(set(challenger_columns) - set(champion_columns))
    removed = sorted(set(champion_columns) - set(challenger_columns))
    if not added and not removed:
        return GateResult(
            "schema_compatible", True, "same inputs", None, "inputs match the champion's signature"
        )
    change = f"added {added or '[]'}, removed {removed or '[]'}"
    if reason:
        return GateResult(
            "schema_compatible", True, change, None, f"inputs changed ({change}); recorded reason: {reason}"
        )
    return GateResult(
        "schema_compatible",
        False,
        change,
        None,
        f"inputs differ from the champion's signature ({change}) and no reason was recorded",
    )


def schema_change(results: list[dict]) -> str | None:
    """The input change a passed ``schema_compatible`` gate recorded (with its reason), or None."""
    gate = next((g for g in results if g["name"] == "schema_compatible"), None)
    if gate is None or gate["observed"] in (None, "same inputs"):
        return None
    return gate["message"]


def latency(
    score, rows: pd.DataFrame, p99_limit_ms: float = 200.0, single_calls: int = 200, threads: int = 1
) -> tuple[GateResult, dict]:
    """p99 of ``score`` (a callable taking a frame: the loaded scoring pyfunc) on one application
    at a time, and batch throughput, measured on ``rows``; ``threads``: the BLAS/OpenMP threads
    the scorer runs on.

    The gate judges CPU time, which other processes cannot inflate the way they stretch wall
    time (a sound model measured 530 ms wall p99 on a loaded 2-core machine, 40 ms idle). With
    one thread every instruction of a call runs on the calling thread, so the calling thread's
    own CPU time is measured: spinning OpenMP workers, the other cost load used to add, are
    not there to count. With more threads the work spreads over the pool and the process's CPU
    time is what a call costs (spinning included). Wall figures are kept for the model card."""
    clock, method = (
        (time.thread_time, "CPU time of the calling thread")
        if threads == 1
        else (time.process_time, f"CPU time of the process ({threads} threads)")
    )
    singles = [rows.iloc[[i % len(rows)]] for i in range(single_calls)]
    score(singles[0])  # the first call pays lazy initialisation
    wall, cpu = [], []
    for row in singles:
        start, start_cpu = time.perf_counter(), clock()
        score(row)
        cpu.append((clock() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    score(rows)
    batch_seconds = time.perf_counter() - start
    p99 = float(np.percentile(cpu, 99))
    stats = {
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "cpu_p99_ms": p99,
        "p50_ms": float(np.percentile(wall, 50)),
        "p99_ms": float(np.percentile(wall, 99)),
        "batch_rows_per_second": len(rows) / batch_seconds if batch_seconds > 0 else float("inf"),
        "threads": threads,
        "single_calls": single_calls,
    }
    return GateResult(
        "latency_p99",
        p99 <= p99_limit_ms,
        round(p99, 3),
        p99_limit_ms,
        f"p99 {method} of single-application scoring {p99:.1f} ms over {single_calls} calls on "
        f"{threads} BLAS/OpenMP thread(s) (wall p99 {stats['p99_ms']:.1f} ms); limit {p99_limit_ms} ms",
    ), stats
