"""Bias drift: fairness of the live decisions, audited every day.

The scorer never sees the protected attributes; the curated zone keeps them. The captured
decisions of an application day are joined with that day's curated applications by the primary
key, and per protected attribute:

- the same day: each group's rate of favorable decisions (Wilson interval) and the four-fifths
  ratio, lowest over highest rate (Katz's interval for a ratio of proportions, scipy's
  ``relative_risk``);
- once the outcomes matured: the gaps in true-positive rate (favorable decisions among the rows
  whose outcome was favorable: equal opportunity) and false-positive rate (favorable decisions
  among the rows whose outcome was not) between the highest and lowest group (Newcombe's hybrid
  score interval for a difference of proportions).

The favorable decision follows the contract's ``labels.favorable``: for credit (``negative``, the
default) an approval, a score below the decision threshold; for a dataset whose positive class is
wanted (``positive``: hired, selected) a score at or above it.

A limit counts as crossed only when the whole interval lies past it ("with statistical
confidence"), so a small group's noise does not alert. Groups below the contract's minimum sizes
are reported, named and not judged (``small_groups``: the promotion gates of
include/training/gates.py apply the same policy, and ``block`` makes them fail instead). An alert
is audited and notified; it does not retrain (a model retrained on the same data reproduces the
bias) and, when the contract says ``hold_promotion``, the next promotion waits for a person's
approval (``promotion_hold``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include import settings as settings_module
from include.contract import Contract, FairnessLimits
from include.monitoring import daily

DECISIONS, OUTCOMES = "bias/decisions", "bias/outcomes"


def wilson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def ratio_interval(low_hits: int, low_n: int, high_hits: int, high_n: int, confidence: float) -> tuple:
    """(ratio, lower, upper) of the rate ``low_hits/low_n`` over ``high_hits/high_n`` (Katz)."""
    from scipy.stats.contingency import relative_risk

    result = relative_risk(int(low_hits), int(low_n), int(high_hits), int(high_n))
    interval = result.confidence_interval(confidence)
    return float(result.relative_risk), float(interval.low), float(interval.high)


def difference_interval(a_hits: int, a_n: int, b_hits: int, b_n: int, confidence: float) -> tuple:
    """(difference, lower, upper) of ``a_hits/a_n - b_hits/b_n``: Newcombe's method 10, built
    from the two Wilson intervals (Newcombe 1998, Statistics in Medicine 17:873)."""
    p1, p2 = a_hits / a_n, b_hits / b_n
    (l1, u1), (l2, u2) = wilson(a_hits, a_n, confidence), wilson(b_hits, b_n, confidence)
    d = p1 - p2
    return d, d - float(np.hypot(p1 - l1, u2 - p2)), d + float(np.hypot(u1 - p1, p2 - l2))


def _groups(frame: pd.DataFrame, attribute: str, flag: str, min_rows: int, confidence: float) -> list[dict]:
    out = []
    for group, part in frame.dropna(subset=[attribute]).groupby(frame[attribute].astype(str), sort=True):
        n, hits = len(part), int(part[flag].sum())
        low, high = wilson(hits, n, confidence) if n else (None, None)
        out.append(
            {
                "group": group,
                "rows": n,
                "count": hits,
                "rate": hits / n if n else None,
                "low": low,
                "high": high,
                "judged": n >= min_rows,
            }
        )
    return out


def _compare(frame, attribute: str, flag: str, metric: str, limit: float, min_rows: int, limits, statistic):
    """The check of ``flag``'s rate between the lowest and highest of ``attribute``'s groups with
    ``min_rows`` rows: ``statistic(low, high)`` gives (value, lower, upper) and whether the
    interval is past ``limit``, or None when it is undefined."""
    groups = _groups(frame, attribute, flag, min_rows, limits.confidence)
    judged = [g for g in groups if g["judged"]]
    out = {"attribute": attribute, "metric": metric, "limit": limit, "groups": groups, "crossed": False}
    if len(judged) < 2:
        return {
            **out,
            "status": "not_judged",
            "detail": f"fewer than two groups with {min_rows} rows to judge",
        }
    low = min(judged, key=lambda g: (g["rate"], g["group"]))
    high = max(judged, key=lambda g: (g["rate"], g["group"]))
    found = statistic(low, high)
    if found is None:
        return {**out, "status": "not_judged", "detail": "no favorable decision in any group"}
    (value, lower, upper), crossed = found
    return {
        **out,
        "status": "judged",
        "value": value,
        "low": lower,
        "high": upper,
        "lowest_group": low["group"],
        "highest_group": high["group"],
        "crossed": crossed,
    }


def small_groups(check: dict) -> list[dict]:
    """The groups of ``check`` too small to judge: {group, rows}."""
    return [{"group": g["group"], "rows": g["rows"]} for g in check["groups"] if not g["judged"]]


def approval_check(frame: pd.DataFrame, attribute: str, limits: FairnessLimits) -> dict:
    """Four-fifths rule on ``frame``'s ``favorable`` column (1: a favorable decision) by
    ``attribute``: lowest over highest rate, crossed when the interval's upper end is below the
    limit. Groups under ``min_group_rows`` rows are listed and not judged."""

    def ratio(low, high):
        if high["count"] == 0:  # no favorable decision anywhere: no ratio to speak of
            return None
        found = ratio_interval(low["count"], low["rows"], high["count"], high["rows"], limits.confidence)
        return found, found[2] < limits.min_approval_ratio

    limit = limits.min_approval_ratio
    return _compare(
        frame, attribute, "favorable", "approval_ratio", limit, limits.min_group_rows, limits, ratio
    )


def gap_check(frame: pd.DataFrame, attribute: str, metric: str, limit: float, limits: FairnessLimits) -> dict:
    """Highest minus lowest group rate of ``favorable`` decisions among ``frame``'s rows (those
    with the favorable outcome for the TPR, the others for the FPR), crossed when the interval's
    lower end is above the limit. Groups under ``min_group_outcomes`` rows are not judged."""

    def gap(low, high):
        found = difference_interval(high["count"], high["rows"], low["count"], low["rows"], limits.confidence)
        return found, found[1] > limit

    return _compare(frame, attribute, "favorable", metric, limit, limits.min_group_outcomes, limits, gap)


def outcome_checks(
    frame: pd.DataFrame, attribute: str, favorable_outcome, limits: FairnessLimits, tpr_limit, fpr_limit
):
    """The TPR and FPR gap checks of ``attribute`` on labelled rows: ``favorable_outcome`` is 1
    where the row's outcome was the favorable one."""
    wanted = np.asarray(favorable_outcome) == 1
    return [
        gap_check(frame[wanted], attribute, "tpr_gap", tpr_limit, limits),
        gap_check(frame[~wanted], attribute, "fpr_gap", fpr_limit, limits),
    ]


def fairness_checks(
    frame: pd.DataFrame,
    contract: Contract,
    score: str = "score",
    limits: FairnessLimits | None = None,
    outcome: str | None = "positive",
) -> list[dict]:
    """Every fairness check of ``frame``'s decisions (``score`` at the contract's threshold) by
    each protected attribute it holds: the four-fifths ratio and, when ``outcome`` names its 1/0
    outcome column (1: the ``positive_value``), the TPR and FPR gaps. ``limits``: the monitor's
    by default; the promotion gates pass theirs. One code for the live monitor, the shadow and
    the gates, so they judge alike."""
    limits = limits or contract.monitoring.fairness
    decided = frame.assign(favorable=contract.favorable_decision(frame[score]))
    checks = []
    for attribute in contract.protected:
        if attribute not in decided:
            continue
        checks.append(approval_check(decided, attribute, limits))
        if outcome is not None:
            wanted = (decided[outcome].to_numpy() == contract.labels.favorable_outcome).astype(int)
            checks += outcome_checks(
                decided, attribute, wanted, limits, limits.max_tpr_gap, limits.max_fpr_gap
            )
    return checks


def blocked(checks: list[dict], limits: FairnessLimits) -> list[str]:
    """Under ``small_groups: block``, the checks a group too small to judge blocks (named, with
    sizes); empty under ``not_judged``."""
    if limits.small_groups != "block":
        return []
    return [
        f"{METRIC_NAMES[c['metric']]} by {c['attribute']}: {small_note(c, limits)}"
        for c in checks
        if small_groups(c)
    ]


def _decisions(contract: Contract, day: date, s) -> tuple[pd.DataFrame, dict]:
    """The day's captured applications with their decision and protected attributes."""
    from include.ingestion.partition import read_curated

    rows = daily.applications(daily.captured(contract, day, s), contract)
    facts = {"captured": int(len(rows)), "model_versions": {}}
    if not len(rows):
        return rows, facts
    facts["model_versions"] = {
        str(k): int(v) for k, v in rows["model_version"].astype(str).value_counts().items()
    }
    curated = read_curated(contract.name, day, settings=s)
    keys = list(contract.primary_key)
    joined = rows[[*keys, "score"]].merge(curated[[*keys, *contract.protected]], on=keys, how="inner")
    joined["favorable"] = contract.favorable_decision(joined["score"])
    facts["joined"] = int(len(joined))
    facts["not_curated"] = facts["captured"] - facts["joined"]  # quarantined at ingestion, or not landed
    return joined, facts


def _record(contract: Contract, day: date, monitor: str, facts: dict, checks: list[dict]) -> dict:
    return {
        "dataset": contract.name,
        "day": day.isoformat(),
        "monitor": monitor,
        "decision_threshold": contract.decision_threshold,
        "confidence": contract.monitoring.fairness.confidence,
        **facts,
        "status": "judged" if any(c["status"] == "judged" for c in checks) else "not_judged",
        "checks": checks,
        "alert": any(c["crossed"] for c in checks),
    }


def decisions(contract: Contract, day: date, *, settings: settings_module.Settings | None = None) -> dict:
    """Approval rates by group of the applications decided on ``day``; stored once."""
    s = settings or settings_module.get()
    found = daily.stored(contract.name, DECISIONS, day, s)
    if found is not None:
        return found
    try:
        joined, facts = _decisions(contract, day, s)
    except FileNotFoundError as exc:  # not ingested yet: said, nothing stored
        return {
            "dataset": contract.name,
            "day": day.isoformat(),
            "status": "applications_missing",
            "detail": str(exc),
            "alert": False,
        }
    if not len(joined):
        return {
            "dataset": contract.name,
            "day": day.isoformat(),
            "status": "no_scored_rows",
            **facts,
            "alert": False,
        }
    limits = contract.monitoring.fairness
    checks = [approval_check(joined, a, limits) for a in contract.protected]
    return daily.store(
        contract.name, DECISIONS, day, _record(contract, day, "bias_decisions", facts, checks), s
    )


def outcomes(contract: Contract, cohort: date, *, settings: settings_module.Settings | None = None) -> dict:
    """True- and false-positive-rate gaps by group of ``cohort``'s matured applications; stored once."""
    from include.monitoring.performance import matured_outcomes

    s = settings or settings_module.get()
    found = daily.stored(contract.name, OUTCOMES, cohort, s)
    if found is not None:
        return found
    try:
        joined, facts = _decisions(contract, cohort, s)
        labelled = matured_outcomes(contract, cohort, settings=s)
    except FileNotFoundError as exc:
        return {
            "dataset": contract.name,
            "day": cohort.isoformat(),
            "status": "labels_missing",
            "detail": str(exc),
            "alert": False,
        }
    keys = list(contract.primary_key)
    joined = joined.merge(labelled, on=keys, how="inner") if len(joined) else joined
    facts["labelled"] = int(len(joined))
    if not len(joined):
        return {
            "dataset": contract.name,
            "day": cohort.isoformat(),
            "status": "no_labelled_rows",
            **facts,
            "alert": False,
        }
    wanted = (contract.outcome(joined) == contract.labels.favorable_outcome).astype(int)
    limits = contract.monitoring.fairness
    checks = []
    for attribute in contract.protected:
        checks += outcome_checks(joined, attribute, wanted, limits, limits.max_tpr_gap, limits.max_fpr_gap)
    return daily.store(
        contract.name, OUTCOMES, cohort, _record(contract, cohort, "bias_outcomes", facts, checks), s
    )


METRIC_NAMES = {
    "approval_ratio": "favorable-decision ratio (four-fifths rule)",
    "tpr_gap": "TPR gap",
    "fpr_gap": "FPR gap",
}


def metric_name(metric: str, labels=None) -> str:
    """How messages call a check: the gaps name the rows they are measured on (the contract's
    class names, or neutral words)."""
    if labels is None or metric == "approval_ratio":
        return METRIC_NAMES[metric]
    wanted = labels.favorable_outcome if metric == "tpr_gap" else 1 - labels.favorable_outcome
    return f"{METRIC_NAMES[metric]} (favorable decisions among {labels.name(wanted)} rows)"


def small_note(check: dict, limits: FairnessLimits) -> str:
    """Names the groups ``check`` did not judge, with their sizes and the minimum."""
    small = small_groups(check)
    if not small:
        return ""
    need = limits.min_group_rows if check["metric"] == "approval_ratio" else limits.min_group_outcomes
    shown = ", ".join(f"{g['group']} (n={g['rows']})" for g in small)
    return f"not judged, under {need} rows: {shown}"


def shown(check: dict, labels=None, limits: FairnessLimits | None = None) -> str:
    """One line for a check: value, interval, limit, judged groups' rates, small groups."""
    name = metric_name(check["metric"], labels)
    note = small_note(check, limits) if limits is not None else ""
    if check["status"] != "judged":
        return f"{name} by {check['attribute']} not judged: {check['detail']}" + (f"; {note}" if note else "")
    side = "below" if check["metric"] == "approval_ratio" else "above"
    past = "past" if check["crossed"] else "not wholly past"
    rates = ", ".join(f"{g['group']} {g['rate']:.3f} (n={g['rows']})" for g in check["groups"] if g["judged"])
    return (
        f"{name} by {check['attribute']} {check['value']:.3f} "
        f"[{check['low']:.3f}, {check['high']:.3f}] {past} the limit {check['limit']} "
        f"({'interval ' + side if check['crossed'] else 'interval reaches it'}; {rates})"
        + (f"; {note}" if note else "")
    )


def _shown(check: dict, contract: Contract | None = None) -> str:
    if contract is None:
        return shown(check)
    return shown(check, contract.labels, contract.monitoring.fairness)


def alert(
    contract: Contract, record: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> bool:
    """Audit and notify a day whose decisions crossed a fairness limit (once per record)."""
    from include.monitoring.alerts import alert_once, monitor_event

    if not record.get("alert"):
        return False
    s = settings or settings_module.get()
    day = date.fromisoformat(record["day"])
    crossed = [c for c in record["checks"] if c["crossed"]]
    hold = contract.monitoring.fairness.hold_promotion
    alert_once(
        contract,
        f"{record['monitor']}-{day}",
        kind="bias_alert",
        subject=f"{contract.name}: bias in the decisions of {day}",
        message=(
            f"{contract.name}, decisions of {day} (confidence {record['confidence']}):\n"
            + "\n".join(_shown(c, contract) for c in crossed)
            + "\nNo retraining is started: a model retrained on the same data reproduces the bias."
            + ("\nThe next promotion waits for a person's approval (hold_promotion)." if hold else "")
        ),
        facts=monitor_event(
            "bias_detected",
            contract,
            dag_run_id,
            versions=record.get("model_versions", {}),
            day=record["day"],
            monitor=record["monitor"],
            crossed=[
                {
                    k: c[k]
                    for k in (
                        "attribute",
                        "metric",
                        "value",
                        "low",
                        "high",
                        "limit",
                        "lowest_group",
                        "highest_group",
                    )
                }
                for c in crossed
            ],
            hold_promotion=hold,
        ),
        interval=(day, day),
        dag_run_id=dag_run_id,
        task=record["monitor"],
        audit_key=f"{record['monitor']}:{day}",
        settings=s,
    )
    return True


def promotion_hold(contract: Contract, *, settings: settings_module.Settings | None = None) -> dict | None:
    """The bias alert that holds automatic promotion: the newest ``bias_detected`` event with no
    person's approval recorded after it (``approved``, later in the model's audit chain). None
    when nothing holds, or the contract does not hold promotions on bias."""
    from include import audit

    if not contract.monitoring.fairness.hold_promotion:
        return None
    alerted = audit.latest(contract.name, ("bias_detected",), settings)
    if alerted is None:
        return None
    approved = audit.latest(contract.name, ("approved",), settings)
    return None if approved is not None and approved["seq"] > alerted["seq"] else alerted
