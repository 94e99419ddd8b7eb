"""The daily decision monitors on the simulator's scenarios, as ``decision_monitoring`` runs them
each morning at 04:45: bias on the previous day's decisions and on the newest matured cohort,
feature-attribution drift and the estimated AUC, each followed by its alert. Called by
``bench/detection.py`` inside a scenario's world (champion v1, stable days ingested).

Each judged day also gets the AUC its outcomes will realize, computed at once from the
simulator's own outcomes (the labels the monitors wait 8 days for), so the estimate can be
set beside it.
"""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta


def _hours(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def prepare_day(credit, s, day: date) -> None:
    """The scoring side's capture of ``day`` (scored by the champion of the moment) and the
    nightly ingestion of its export, as they exist by the next morning."""
    from include.ingestion.partition import ingest_partition
    from include.monitoring.capture import land_missing_hours
    from include.simulator.land import land_day

    land_missing_hours(credit, *_hours(day), settings=s)
    land_day(credit, day, settings=s)
    for feed in credit.feeds():
        ingest_partition(credit, feed.name, day, settings=s)


def realized_now(credit, s, day: date) -> float | None:
    """The AUC the day's applications will realize once their outcomes mature."""
    from sklearn.metrics import roc_auc_score

    from include.monitoring import daily
    from include.simulator import credit as simulator
    from include.simulator.land import onset_of

    rows = daily.applications(daily.captured(credit, day, s), credit)
    outcomes = simulator.outcomes(
        day + timedelta(days=credit.labels.maturity_days),
        seed=s.simulator_seed,
        rows=s.simulator_rows_per_day,
        maturity_days=credit.labels.maturity_days,
        scenario=s.simulator_scenario,
        onset=onset_of(s),
    )
    joined = rows.merge(outcomes[["application_id", "defaulted"]], on="application_id")
    return round(float(roc_auc_score(joined["defaulted"], joined["score"])), 4) if len(joined) else None


def morning(credit, s, run_morning: date) -> dict:
    """One decision_monitoring run (04:45 on ``run_morning``): the three monitors and their alerts."""
    from include.monitoring import attribution, bias, estimated
    from include.monitoring.performance import cohort_for

    started = clock.perf_counter()
    run_end = datetime.combine(run_morning, time(4, 45), tzinfo=UTC)
    day, cohort = run_morning - timedelta(days=1), cohort_for(credit, run_end, s.timezone)
    run_id = f"scheduled__{run_end.isoformat()}"
    decisions = bias.decisions(credit, day, settings=s)
    matured = bias.outcomes(credit, cohort, settings=s)
    reasons = attribution.check(credit, day, settings=s)
    estimate = estimated.estimate(credit, day, settings=s)
    alerts = {
        "bias": bias.alert(credit, decisions, dag_run_id=run_id, settings=s)
        | bias.alert(credit, matured, dag_run_id=run_id, settings=s),
        "attribution": attribution.alert(credit, reasons, dag_run_id=run_id, settings=s),
        "estimated_auc": estimated.alert(credit, estimate, dag_run_id=run_id, settings=s),
    }
    return {
        "morning": run_morning.isoformat(),
        "day": day.isoformat(),
        "alerts": alerts,
        "approval_ratio": _ratio(decisions),
        "matured_cohort": cohort.isoformat(),
        "matured_status": matured["status"],
        "rate_gaps": {
            c["metric"]: _interval(c) for c in matured.get("checks", []) if c["status"] == "judged"
        },
        "ndcg": None if reasons.get("ndcg") is None else round(reasons["ndcg"], 4),
        "spearman": None if reasons.get("spearman") is None else round(reasons["spearman"], 4),
        "estimated_auc": None
        if estimate.get("estimated_auc") is None
        else round(estimate["estimated_auc"], 4),
        "realized_auc_when_matured": realized_now(credit, s, day),
        "seconds": round(clock.perf_counter() - started, 2),
    }


def _interval(check: dict) -> list[float]:
    return [round(check[k], 4) for k in ("value", "low", "high")]


def _ratio(record: dict) -> dict | None:
    judged = [c for c in record.get("checks", []) if c["status"] == "judged"]
    if not judged:
        return None
    check = judged[0]
    rates = {g["group"]: round(g["rate"], 4) for g in check["groups"] if g["judged"]}
    return {"ratio": _interval(check), "approval_rates": rates}


def walk(credit, s, first_day: date, last_day: date, *, prepare: bool = True) -> list[dict]:
    """Each day from ``first_day`` to ``last_day``: its capture and ingestion, then the next
    morning's run."""
    out, day = [], first_day
    while day <= last_day:
        if prepare:
            prepare_day(credit, s, day)
        out.append(morning(credit, s, day + timedelta(days=1)))
        day += timedelta(days=1)
    return out


def summary(mornings: list[dict], onset: date) -> dict:
    """Counts and first alert per monitor, in days after the onset (the morning's date minus it)."""

    def first(kind: str) -> int | None:
        return next(
            ((date.fromisoformat(m["morning"]) - onset).days for m in mornings if m["alerts"][kind]), None
        )

    estimates = [m["estimated_auc"] for m in mornings if m["estimated_auc"] is not None]
    ndcgs = [m["ndcg"] for m in mornings if m["ndcg"] is not None]
    return {
        "mornings": len(mornings),
        "alerts": {
            k: sum(m["alerts"][k] for m in mornings) for k in ("bias", "attribution", "estimated_auc")
        },
        "first_alert_days_after_onset": {k: first(k) for k in ("bias", "attribution", "estimated_auc")},
        "estimated_auc_range": [min(estimates), max(estimates)] if estimates else None,
        "ndcg_range": [min(ndcgs), max(ndcgs)] if ndcgs else None,
        "days": mornings,
    }
