"""Automatic rollback when the champion fails on matured outcomes and its predecessor would not.

When a cohort's realized AUC is below the floor, the previous champion (``previous_champion``)
scores the same captured applications again, from its own inputs, and DeLong's paired test
compares the two on the cohort's outcomes. If the previous champion does significantly better
(the lower bound of its AUC minus the champion's, at the contract's ``model.gates.confidence``,
is above zero) and the contract allows it (``monitoring.auto_rollback``), the champion is rolled
back, audited with that evidence; otherwise the monitor retrains as before. A model that fails
because the world changed (concept drift) is not helped by its predecessor, which learnt the
same old world, so the test rarely sends those to rollback; a bad promotion is undone at once.
"""

from __future__ import annotations

from datetime import date

from include import registry
from include import settings as settings_module
from include.contract import Contract
from include.monitoring import daily
from include.monitoring.performance import matured_outcomes


def compare_previous(
    contract: Contract, cohort: date, *, settings: settings_module.Settings | None = None
) -> dict:
    """The previous champion against the champion on the cohort's labelled applications."""
    from include.training.compare import delong
    from include.training.tracking import version_scores

    s = settings or settings_module.get()
    client = registry.client(s)
    champion = registry.by_alias(client, contract.name, registry.CHAMPION)
    previous = registry.by_alias(client, contract.name, registry.PREVIOUS)
    out = {
        "cohort": cohort.isoformat(),
        "champion_version": champion.version if champion else None,
        "previous_version": previous.version if previous else None,
        "better": False,
    }
    if champion is None or previous is None or previous.version == champion.version:
        return {**out, "status": "no_previous_champion"}
    rows = daily.applications(daily.captured(contract, cohort, s), contract)
    keys = list(contract.primary_key)
    labelled = rows.merge(matured_outcomes(contract, cohort, settings=s), on=keys) if len(rows) else rows
    if len(labelled) < 200:
        return {**out, "status": "too_few_labels", "labelled": int(len(labelled))}
    y = contract.outcome(labelled)
    if y.min() == y.max():
        return {**out, "status": "too_few_labels", "labelled": int(len(labelled))}
    previous_scores, previous_inputs = version_scores(s, contract, previous.version, labelled)
    champion_scores, _ = version_scores(s, contract, champion.version, labelled)
    if previous_scores is None or champion_scores is None:
        return {**out, "status": "not_scorable", "detail": f"the capture lacks inputs of v{previous.version}"}
    comparison = delong(y, previous_scores, champion_scores, contract.gates.confidence)
    return {
        **out,
        "status": "compared",
        "labelled": int(len(labelled)),
        "previous_auc": comparison.auc_a,
        "champion_auc": comparison.auc_b,
        "difference": comparison.difference,
        "standard_error": comparison.standard_error,
        "p_value": comparison.p_value,
        "lower": comparison.lower,
        "upper": comparison.upper,
        "confidence": comparison.confidence,
        "better": comparison.lower > 0,
        "previous_inputs": previous_inputs,
    }


def fall_back(
    contract: Contract,
    result: dict,
    *,
    dag_run_id: str,
    task: str = "fall_back",
    settings: settings_module.Settings | None = None,
) -> dict:
    """For a cohort below the floor (``performance.realized``'s result): roll back when the previous
    champion is significantly better and the contract allows it. Returns the evidence and
    ``rolled_back``."""
    from include import promotion

    s = settings or settings_module.get()
    cohort = date.fromisoformat(result["cohort"])
    evidence = compare_previous(contract, cohort, settings=s)
    evidence["auto_rollback"] = contract.monitoring.auto_rollback
    if not (evidence["better"] and contract.monitoring.auto_rollback):
        return {**evidence, "rolled_back": False}
    done = promotion.rollback(
        contract.name,
        evidence["previous_version"],
        reason=(
            f"automatic: realized AUC {result['auc']:.4f} of v{evidence['champion_version']} below the floor "
            f"{contract.auc_floor} on the applications of {cohort}; v{evidence['previous_version']} scores "
            f"{evidence['previous_auc']:.4f} on the same {evidence['labelled']} outcomes (DeLong difference "
            f"{evidence['difference']:+.4f}, lower bound {evidence['lower']:+.4f}, p {evidence['p_value']:.3g})"
        ),
        actor="monitor",
        dag_run_id=dag_run_id,
        interval=(cohort, cohort),
        task=task,
        evidence=evidence,
        settings=s,
    )
    return {**evidence, "rolled_back": True, "champion": done["champion"]}
