"""How often a promotion rule promotes a challenger that is no better, and one that is better,
over many seeds of the simulator: the contract's DeLong gates against the fixed margins they
replaced (the named peer), both judged on the very same comparisons.

Per seed: 30 days of credit applications with their outcomes (3,000 a day, the simulator's
default volume), a holdout of the last 2 days (6,000 rows, ~730 defaulters: the size of a
weekly retraining's holdout), and three models of the first plan candidate (gradient boosting,
fixed seed, one thread):

- the champion, fitted on days 1-14;
- a challenger that is **no better**: fitted on days 15-28 of the same population;
- a challenger that is **better**: fitted on days 1-28 (twice the data), against a champion
  fitted on days 1-3 only (a model that learnt from too little).

Each model's true AUC is measured on 30,000 fresh applications (days 59-68): a promotion is
false when the challenger's true AUC is not above the champion's.

Rules, each on (challenger, champion) scored on the same holdout:

- **peer** (the package until this change): promote when the AUC gain is at least 0.002 and the
  drop at most 0.005, point estimates;
- **ours** (``model.gates``): DeLong's one-sided 95 % lower bound of the difference above 0
  (superiority) and above -0.01 (non-inferiority).

**Shadow mode** (``model.shadow``): the same pairs then run a shadow period on live traffic,
days 31-58 (3,000 applications a day, each model's true AUC now from days 59-68 instead). Each
decision day the matured cohorts so far are pooled and judged by ``include.shadow.evaluate.judge``
(the function ``shadow_evaluation`` runs), until the first verdict: promoted, retired or expired.
The peer for shadow is the same daily DeLong test at the contract's 95 % on every look, without
the Bonferroni share: what peeking every morning does to the false-promotion rate. A shadow's
first verdict can come on day 8 (the label delay of 7 days, then the start day's cohort is
judged): ``days_after_label_delay`` is the N of "promoted within the label delay plus N days".

The rollback test is the same superiority test with the roles turned (previous against current
champion): over the "no better" pairs, the share where an equally good predecessor would be
judged significantly better is its false-rollback rate (the monitor only asks when a cohort is
below the floor, which on stable data it never is).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

SEEDS = 20
ROWS_PER_DAY = 3000
FIRST_DAY = date(2026, 3, 1)
DAYS = 30
SHADOW_DAYS = 28  # days 31-58: the live traffic of a shadow period (the contract's max_days)
POPULATION_DAYS = 10  # days 59-68: 30,000 fresh applications give each model's true AUC
PEER = {"min_improvement": 0.002, "regression_tolerance": 0.005}


def _fit(contract, frame, seed: int):
    from threadpoolctl import threadpool_limits

    from include.training.candidates import gradient_boosting

    features, outcome = _xy(contract, frame)
    with threadpool_limits(limits=1):
        return gradient_boosting(contract, seed).fit(features, outcome)


def _xy(contract, frame):
    from include.training.candidates import features

    return features(frame, contract), contract.outcome(frame)


def _decisions(contract, y, challenger_scores, champion_scores) -> dict:
    from include.training.compare import delong

    c = delong(y, challenger_scores, champion_scores, contract.gates.confidence)
    turned = delong(y, champion_scores, challenger_scores, contract.gates.confidence)
    gates = contract.gates
    return {
        "challenger_auc": round(c.auc_a, 4),
        "champion_auc": round(c.auc_b, 4),
        "difference": round(c.difference, 4),
        "standard_error": round(c.standard_error, 4),
        "lower": round(c.lower, 4),
        "peer_promotes": c.difference >= PEER["min_improvement"]
        and -c.difference <= PEER["regression_tolerance"],
        "ours_promotes": c.lower > gates.min_improvement and c.lower > -gates.non_inferiority_margin,
        "champion_judged_better": turned.lower > 0,
    }


def _shadow(contract, live, challenger, champion) -> dict:
    """The shadow period of ``challenger`` against ``champion`` over ``live`` (one frame per live
    day, oldest first): the first verdict of the contract's judge, and of the peer's (the same
    test at the uncorrected level on every look)."""
    import numpy as np
    import pandas as pd

    from include.shadow.evaluate import WAIT, judge

    maturity = contract.labels.maturity_days
    scored = []
    for frame in live:
        x, y = _xy(contract, frame)
        scored.append(
            pd.DataFrame(
                {
                    "positive": np.asarray(y).astype(int),
                    "score": challenger.predict_proba(x)[:, 1],
                    "champion_score": champion.predict_proba(x)[:, 1],
                    **{a: frame[a].to_numpy() for a in contract.protected},
                }
            )
        )
    out = {}
    for rule, level in (("ours", None), ("peer", contract.gates.confidence)):
        for day_number in range(maturity + 1, contract.shadow.max_days + 1):
            pooled = pd.concat(scored[: day_number - maturity], ignore_index=True)
            verdict = judge(pooled, contract, day_number, confidence=level)
            if verdict["verdict"] != WAIT:
                break
        out[rule] = {
            "verdict": verdict["verdict"],
            "why": verdict["why"],
            "day": day_number,
            "days_after_label_delay": day_number - maturity,
            "outcomes": verdict["outcomes"],
        }
    return out


def _seed(contract, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from include.simulator import credit as simulator

    started = time.perf_counter()
    days = [FIRST_DAY + timedelta(days=n) for n in range(DAYS + SHADOW_DAYS + POPULATION_DAYS)]
    frame = simulator.labelled_applications(
        days, seed=seed, rows=ROWS_PER_DAY, maturity_days=contract.labels.maturity_days
    )
    day = frame[contract.event_timestamp].dt.date

    def between(first: int, last: int):
        return frame[(day >= days[first - 1]) & (day <= days[last - 1])]

    holdout = between(DAYS - 1, DAYS)
    x_holdout, y = _xy(contract, holdout)
    x_population, y_population = _xy(
        contract, between(DAYS + SHADOW_DAYS + 1, DAYS + SHADOW_DAYS + POPULATION_DAYS)
    )
    live = [between(n, n) for n in range(DAYS + 1, DAYS + SHADOW_DAYS + 1)]

    def judged(challenger, champion) -> dict:
        """The rules on the holdout, and the truth on the fresh population."""
        out = _decisions(
            contract, y, challenger.predict_proba(x_holdout)[:, 1], champion.predict_proba(x_holdout)[:, 1]
        )
        truth = [
            roc_auc_score(y_population, m.predict_proba(x_population)[:, 1]) for m in (challenger, champion)
        ]
        return {
            **out,
            "true_difference": round(truth[0] - truth[1], 4),
            "truly_better": truth[0] > truth[1],
            "shadow": _shadow(contract, live, challenger, champion),
        }

    champion = _fit(contract, between(1, 14), seed)
    return {
        "seed": seed,
        "holdout_rows": int(len(y)),
        "holdout_defaulters": int(y.sum()),
        "no_better": judged(_fit(contract, between(15, 28), seed), champion),
        "better": judged(_fit(contract, between(1, 28), seed), _fit(contract, between(1, 3), seed)),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _rate(rows: list[dict], kind: str, key: str) -> float:
    return round(sum(r[kind][key] for r in rows) / len(rows), 3)


def _false(rows: list[dict], rule: str) -> dict:
    """Promotions of a challenger whose AUC on the fresh population is not above the champion's."""
    pairs = [r[kind] for r in rows for kind in ("no_better", "better")]
    wrong = [p for p in pairs if p[rule] and not p["truly_better"]]
    promoted = [p for p in pairs if p[rule]]
    return {
        "false_promotions": len(wrong),
        "promotions": len(promoted),
        "pairs": len(pairs),
        "false_promotion_rate": round(len(wrong) / len(pairs), 3),
        "worst_true_loss": min((p["true_difference"] for p in wrong), default=None),
    }


def _shadow_summary(rows: list[dict], rule: str) -> dict:
    """How the shadow periods of one rule ended, by kind of pair, and its false promotions."""
    out = {}
    for kind in ("no_better", "better"):
        ends = [r[kind]["shadow"][rule] for r in rows]
        promoted = [e for e in ends if e["verdict"] == "promote"]
        delays = sorted(e["days_after_label_delay"] for e in promoted)
        out[kind] = {
            "promoted": round(len(promoted) / len(ends), 3),
            "ended_by": {why: sum(e["why"] == why for e in ends) for why in sorted({e["why"] for e in ends})},
            "promoted_days_after_label_delay": {
                "median": delays[len(delays) // 2] if delays else None,
                "max": delays[-1] if delays else None,
            },
        }
    pairs = [r[kind] for r in rows for kind in ("no_better", "better")]
    wrong = [p for p in pairs if p["shadow"][rule]["verdict"] == "promote" and not p["truly_better"]]
    out["not_truly_better"] = {
        "false_promotions": len(wrong),
        "pairs": len(pairs),
        "false_promotion_rate": round(len(wrong) / len(pairs), 3),
        "worst_true_loss": min((p["true_difference"] for p in wrong), default=None),
    }
    return out


def run(seeds: int = SEEDS) -> dict:
    from include import contract as contract_module
    from include.settings import PROJECT_ROOT

    credit = contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")
    started = time.perf_counter()
    rows = [_seed(credit, seed) for seed in range(seeds)]
    differences = [r["no_better"]["difference"] for r in rows]
    gains = [r["better"]["difference"] for r in rows]
    return {
        "setup": {
            "seeds": seeds,
            "rows_per_day": ROWS_PER_DAY,
            "days": [FIRST_DAY.isoformat(), (FIRST_DAY + timedelta(days=DAYS - 1)).isoformat()],
            "peer": PEER,
            "ours": {
                "confidence": credit.gates.confidence,
                "min_improvement": credit.gates.min_improvement,
                "non_inferiority_margin": credit.gates.non_inferiority_margin,
            },
        },
        "no_better_challenger": {
            "promoted_by_peer": _rate(rows, "no_better", "peer_promotes"),
            "promoted_by_ours": _rate(rows, "no_better", "ours_promotes"),
            "predecessor_judged_significantly_better": _rate(rows, "no_better", "champion_judged_better"),
            "auc_difference_range": [min(differences), max(differences)],
        },
        "better_challenger": {
            "promoted_by_peer": _rate(rows, "better", "peer_promotes"),
            "promoted_by_ours": _rate(rows, "better", "ours_promotes"),
            "auc_gain_range": [min(gains), max(gains)],
        },
        "not_truly_better": {"peer": _false(rows, "peer_promotes"), "ours": _false(rows, "ours_promotes")},
        "shadow": {rule: _shadow_summary(rows, rule) for rule in ("ours", "peer")},
        "seeds_detail": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
