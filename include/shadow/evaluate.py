"""The shadow version against the champion on the same live applications, once outcomes mature.

Every day of the period the matured cohorts so far are pooled (each application once, scored
live by the champion the shadow started against) and compared:

- **DeLong's paired test** of the two AUCs. The period allows up to ``looks`` daily verdicts
  (``ShadowLimits.looks``), and looking every day at a fixed level would promote a no better
  shadow far more often than the level says; so each look uses the Bonferroni share of the
  error, a one-sided level of ``1 - (1 - model.gates.confidence) / looks``, which bounds the
  false promotions of the whole period by ``1 - confidence``.
- **Decisions**: the share of applications both models decide alike at the contract's threshold,
  and the two rates of favorable decisions (``labels.favorable``).
- **Fairness by group**, on the shadow's decisions: the four-fifths ratio of favorable-decision
  rates and the TPR and FPR gaps, with the intervals, limits and small-group policy of
  ``monitoring.fairness`` (the champion's beside it).

Verdict: with at least ``min_outcomes`` matured outcomes, a shadow whose decisions cross a
fairness limit is retired, one significantly better (lower bound above ``min_improvement``) is
promoted, one significantly worse (upper bound below zero) is retired; otherwise it waits,
until ``max_days``, when it is retired. The record of each day is stored once.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from include import settings as settings_module
from include.contract import Contract
from include.monitoring import daily

PROMOTE, RETIRE, WAIT = "promote", "retire", "wait"


def look_confidence(contract: Contract) -> float:
    """The one-sided confidence of each daily look (Bonferroni over the period's looks)."""
    looks = contract.shadow.looks(contract.labels.maturity_days)
    return 1 - (1 - contract.gates.confidence) / looks


def _fairness(frame: pd.DataFrame, contract: Contract, score: str) -> list[dict]:
    from include.monitoring.bias import fairness_checks

    return fairness_checks(frame, contract, score)


def _gate(name: str, passed: bool, message: str) -> dict:
    return {"name": name, "passed": bool(passed), "message": message}


def judge(frame: pd.DataFrame, contract: Contract, day_number: int, confidence: float | None = None) -> dict:
    """The verdict on ``frame`` (one row per matured application: ``positive``, the shadow's
    ``score``, the ``champion_score``, and the protected attributes where known) on day
    ``day_number`` of the period (1: the day it started); ``confidence``: the one-sided level of
    this look (``look_confidence`` unless given). A pure function of its inputs."""
    from include.training.compare import delong

    limits, gates = contract.shadow, contract.gates
    n, positives = int(len(frame)), int(frame["positive"].sum()) if len(frame) else 0
    positive_name = contract.labels.names.get(1, "positive outcomes")
    out = {
        "day_number": day_number,
        "max_days": limits.max_days,
        "outcomes": n,
        "positive_outcomes": positives,
        "min_outcomes": limits.min_outcomes,
    }
    enough = n >= limits.min_outcomes and 0 < positives < n
    expired = day_number >= limits.max_days
    checks = [
        _gate(
            "matured_outcomes",
            enough,
            f"{n} matured outcomes ({positives} {positive_name}) of at least {limits.min_outcomes}",
        )
    ]
    if not enough:
        verdict, why = (RETIRE, "expired") if expired else (WAIT, "too few matured outcomes")
        return {**out, "checks": checks, "verdict": verdict, "why": why}
    confidence = confidence or look_confidence(contract)
    c = delong(frame["positive"], frame["score"], frame["champion_score"], confidence)
    from include.monitoring.bias import blocked

    shadow_favorable = contract.favorable_decision(frame["score"])
    champion_favorable = contract.favorable_decision(frame["champion_score"])
    out |= {
        "comparison": c.as_dict(),
        "agreement": float((shadow_favorable == champion_favorable).mean()),
        "approval_rate": {  # the rate of favorable decisions (labels.favorable)
            "shadow": float(shadow_favorable.mean()),
            "champion": float(champion_favorable.mean()),
            "difference": float(shadow_favorable.mean() - champion_favorable.mean()),
        },
        "fairness": {"shadow": _fairness(frame, contract, "score")},
    }
    out["fairness"]["champion"] = _fairness(frame, contract, "champion_score")
    crossed = [f"{f['metric']} by {f['attribute']}" for f in out["fairness"]["shadow"] if f["crossed"]]
    small = blocked(out["fairness"]["shadow"], contract.monitoring.fairness)
    better = c.lower > gates.min_improvement
    worse = c.upper < 0
    checks += [
        _gate(
            "superiority",
            better,
            f"shadow AUC {c.auc_a:.4f} vs champion {c.auc_b:.4f} on the same {n} applications: "
            f"difference {c.difference:+.4f} (SE {c.standard_error:.4f}, p {c.p_value:.3g}), one-sided "
            f"{confidence:.2%} bounds [{c.lower:+.4f}, {c.upper:+.4f}]; needs the lower above "
            f"{gates.min_improvement:+.4f}",
        ),
        _gate(
            "fairness",
            not crossed and not small,
            "; ".join(
                [f"shadow decisions cross {', '.join(crossed)}"] * bool(crossed)
                + [f"groups too small to judge, and small_groups is block: {'; '.join(small)}"] * bool(small)
            )
            or "no fairness limit crossed",
        ),
        _gate(
            "decisions",
            True,  # reported for the reviewer, never a reason on its own
            f"{out['agreement']:.1%} of decisions agree; favorable-decision rate {out['approval_rate']['shadow']:.1%} "
            f"(shadow) vs {out['approval_rate']['champion']:.1%} (champion)",
        ),
    ]
    if crossed:
        verdict, why = RETIRE, f"unfair decisions: {', '.join(crossed)}"
    elif small:
        verdict, why = RETIRE, f"fairness not judgeable (small_groups: block): {'; '.join(small)}"
    elif better:
        verdict, why = PROMOTE, "significantly better"
    elif worse:
        verdict, why = RETIRE, "significantly worse"
    elif expired:
        verdict, why = RETIRE, "expired"
    else:
        verdict, why = WAIT, "no significant difference yet"
    return {**out, "checks": checks, "verdict": verdict, "why": why}


def matured(
    contract: Contract, shadow: dict, first: date, last: date, settings: settings_module.Settings
) -> tuple[pd.DataFrame, dict]:
    """The period's matured applications ``first``..``last`` scored by both models: the stored
    shadow scores joined with the outcomes and the protected attributes. Rows the champion did not
    score live (another version served them) are left out and counted."""
    from include.ingestion.partition import read_curated
    from include.monitoring.performance import matured_outcomes
    from include.shadow import scores

    keys = list(contract.primary_key)
    frames, facts = [], {"cohorts": [], "not_scored": [], "labels_missing": [], "other_version_rows": 0}
    day = first
    while day <= last:
        stored = scores.read(contract, shadow["version"], day, settings)
        if stored is None:
            facts["not_scored"].append(day.isoformat())
        else:
            try:
                outcome = matured_outcomes(contract, day, settings=settings)
            except FileNotFoundError:
                facts["labels_missing"].append(day.isoformat())
                outcome = None
            if outcome is not None:
                served = stored["champion_version"] == str(shadow["against"])
                facts["other_version_rows"] += int((~served).sum())
                joined = stored[served].merge(outcome, on=keys, how="inner")
                try:
                    protected = read_curated(contract.name, day, settings=settings)
                    joined = joined.merge(protected[[*keys, *contract.protected]], on=keys, how="left")
                except FileNotFoundError:
                    pass  # the comparison still holds; fairness is judged on the days that have them
                joined["positive"] = contract.outcome(joined).astype(int)
                frames.append(joined)
                facts["cohorts"].append(day.isoformat())
        day += timedelta(days=1)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["positive"])
    return frame, facts


def evaluate(
    contract: Contract, shadow: dict, day: date, *, settings: settings_module.Settings | None = None
) -> dict:
    """The verdict of decision day ``day`` (the day before the run), on the cohorts from the
    shadow's start to the newest matured one; stored once under
    ``monitoring/<dataset>/shadow/v<version>/dt=<day>.json``."""
    s = settings or settings_module.get()
    monitor = f"shadow/v{shadow['version']}"
    found = daily.stored(contract.name, monitor, day, s)
    if found is not None:
        return found
    started = date.fromisoformat(shadow["started"])
    day_number = (day - started).days + 1
    if shadow["champion_now"] != shadow["against"]:  # promoted or rolled back meanwhile: no pairing left
        why = f"the champion changed from v{shadow['against']} to v{shadow['champion_now']} during the period"
        facts = {"day_number": day_number, "max_days": contract.shadow.max_days}
        verdict = {"checks": [_gate("same_champion", False, why)], "verdict": RETIRE, "why": why}
    else:
        newest = day - timedelta(days=contract.labels.maturity_days)
        frame, facts = matured(contract, shadow, started, newest, s)
        verdict = judge(frame, contract, day_number)
    record = {
        "dataset": contract.name,
        "day": day.isoformat(),
        "model": contract.name,
        "version": shadow["version"],
        "champion_version": shadow["against"],
        "started": shadow["started"],
        **facts,
        **verdict,
    }
    return daily.store(contract.name, monitor, day, record, s)
