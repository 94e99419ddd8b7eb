"""Reason codes for one application as features grow: the vectorised occlusion of
include/training/reasons.py against the per-feature-copy method it replaced, in the same run.

For 20 and 200 features (90% numbers, 10% categories; 2,000 synthetic rows, tests/support/wide.py)
and both families, one application is explained ``REPEATS`` times each way on one BLAS/OpenMP
thread; the figures are CPU time of the calling thread (``time.thread_time``), which other
processes on the machine do not inflate the way they stretch wall time, and the ratio of the
peer's to ours is the figure to compare across machines. ``predict_one_ms`` is the floor: one
``predict_proba`` of the application without reasons. Both methods must give the same reason
codes to the last digit (checked here). At 200 features the registered pyfunc is also timed by
the latency gate itself (``gates.latency``, ``GATE_CALLS`` single-application calls).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd

WIDTHS = (20, 200)
REPEATS = 10  # per method: the peer costs about a second a call at 200 features
GATE_CALLS = 40


def per_feature_copies(model, x: pd.DataFrame, typical: dict, threshold: float, top_k: int = 3):
    """The named peer: reason codes as include/training/reasons.py computed them before issue 23
    (a copy of the frame per feature, concatenated, scored in one call)."""
    copies = [x] + [x.assign(**{name: [typical[name]] * len(x)}) for name in x.columns]
    scores = model.predict_proba(pd.concat(copies, ignore_index=True))[:, 1].reshape(len(copies), len(x))
    score, table = scores[0], (scores[0] - scores[1:]).T
    order = np.argsort(-table, axis=1, kind="stable")[:, :top_k]
    raised = np.take_along_axis(table, order, axis=1) > 1e-9
    names = np.array(list(x.columns) + [""], dtype=object)
    out = pd.DataFrame({"score": score, "decision": np.where(score >= threshold, "decline", "approve")})
    for rank in range(top_k):
        out[f"reason_{rank + 1}"] = names[np.where(raised[:, rank], order[:, rank], len(names) - 1)]
    return out


def _cpu_ms(call, repeats: int) -> float:
    call()  # the first call pays lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        call()
        times.append((time.thread_time() - start) * 1000)
    return statistics.median(times)


def _width(credit, features: int, gate: bool) -> dict:
    from include.training import gates, tracking
    from include.training.candidates import FAMILIES, plan
    from include.training.candidates import features as model_input
    from include.training.reasons import explain, typical_values
    from tests.support import wide

    categorical = max(1, features // 10)
    contract = wide.contract(credit, features - categorical, categorical)
    data = wide.rows(contract, 2000, seed=0)
    x, y = model_input(data, contract), contract.outcome(data)
    typical = typical_values(x)
    one = x.iloc[[7]]
    out = {}
    for family in FAMILIES:
        params = next(p for f, p in plan() if f == family)
        started = time.perf_counter()
        model = FAMILIES[family][0](contract, 0, **params).fit(x, y)
        fit_seconds = time.perf_counter() - started
        ours = explain(model, one, typical, contract.decision_threshold)
        peer = per_feature_copies(model, one, typical, contract.decision_threshold)
        pd.testing.assert_frame_equal(ours, peer, check_exact=True)  # the same reason codes
        new_ms = _cpu_ms(lambda m=model: explain(m, one, typical, contract.decision_threshold), REPEATS)
        old_ms = _cpu_ms(
            lambda m=model: per_feature_copies(m, one, typical, contract.decision_threshold), REPEATS
        )
        floor_ms = _cpu_ms(lambda m=model: m.predict_proba(one), REPEATS)
        figures = {
            "fit_seconds": round(fit_seconds, 2),
            "predict_one_ms": round(floor_ms, 2),
            "reasons_ms": round(new_ms, 2),
            "per_feature_copies_ms": round(old_ms, 2),
            "peer_over_ours": round(old_ms / new_ms, 1),
            "rows_per_predict_call": features + 1,
            "same_codes": True,
        }
        if gate:
            with tracking.scoring_model(model, contract, data, typical, threads=1) as kw:
                scorer = tracking.load_scoring_model(kw)
            result, stats = gates.latency(
                scorer.predict, data[list(contract.features)].head(200), single_calls=GATE_CALLS
            )
            figures["latency_gate"] = {
                "cpu_p50_ms": round(stats["cpu_p50_ms"], 1),
                "cpu_p99_ms": round(stats["cpu_p99_ms"], 1),
                "passed": result.passed,
                "single_calls": GATE_CALLS,
            }
        out[family] = figures
    return out


def run() -> dict:
    import logging

    from threadpoolctl import threadpool_limits

    from include import contract
    from include.settings import PROJECT_ROOT

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    credit = contract.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
    with threadpool_limits(limits=1):  # one thread: what the latency gate and the served model use
        return {
            "clock": "CPU time of the calling thread, median of the calls",
            "repeats": REPEATS,
            **{f"features_{n}": _width(credit, n, gate=n == max(WIDTHS)) for n in WIDTHS},
        }
