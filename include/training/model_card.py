"""The model card logged with every registered version (fields from the team's guides)."""

from __future__ import annotations

from include.contract import Contract


def render(*, contract: Contract, model_name: str, version: str | None, created: str, author: str, family: str,
           params: dict, window: tuple[str, str], lineage: list[dict], counts: dict, holdout: dict,
           train_auc: float, gates: list[dict], fairness: dict[str, list[dict]], reason: str) -> str:
    """Markdown: name, version, date, authors, model type, training and test data, metrics,
    intended and out-of-scope use, limitations, biases, ethical considerations, recommendations."""
    partitions = sorted({(e["feed"], e["partition"]) for e in lineage})
    gate_rows = "\n".join(f"| {g['name']} | {'pass' if g['passed'] else 'FAIL'} | {g['observed']} | {g['threshold']} |"
                          for g in gates)
    fairness_rows = "\n".join(f"| {attribute} | {row['group']} | {row['rows']} | {row['approval_rate']:.3f} | "
                              f"{row['true_positive_rate']:.3f} |" for attribute, rows in fairness.items() for row in rows)
    confusion = holdout["confusion"]
    return f"""# Model card: {model_name} {f'v{version}' if version else '(unregistered)'}

- **Date**: {created}
- **Authors**: {author} (the run that trained it; reason: {reason})
- **Model type**: {family}, scikit-learn Pipeline; parameters `{params}`
- **Dataset contract**: `{contract.name}` ({contract.source.name}); features: {', '.join(contract.features)}
- **Protected attributes** (audited, never model inputs): {', '.join(contract.protected) or 'none'}

## Training data
Curated partitions from {window[0]} to {window[1]} ({len(partitions)} partitions, data versions in
`lineage.json`): {counts.get('labelled')} labelled rows whose outcome matured
({contract.labels.maturity_days} days); {counts.get('not_matured', 0)} younger events were left out.

## Test data and metrics
The most recent {holdout['rows']} labelled rows (time-based holdout, never seen in training).

| metric | value |
|---|---:|
| ROC AUC | {holdout['roc_auc']:.4f} |
| PR AUC | {holdout['pr_auc']:.4f} |
| KS | {holdout['ks']:.4f} |
| Brier | {holdout['brier']:.4f} |
| train AUC | {train_auc:.4f} |
| confusion at {confusion['threshold']} | tn {confusion['tn']}, fp {confusion['fp']}, fn {confusion['fn']}, tp {confusion['tp']} |

## Gates
| gate | result | observed | threshold |
|---|---|---|---|
{gate_rows}

## Biases
| attribute | group | rows | approval rate | true-positive rate |
|---|---|---:|---:|---:|
{fairness_rows or '| - | - | - | - | - |'}

## Intended use
Scoring new `{contract.name}` records like those in the training window, as one input to a
decision that a person can review; each score comes with reason codes (the features that
raised the risk) for the applicant and the regulator.

## Out-of-scope use
Populations, products or markets absent from the training data; decisions without human
review or recourse; any use of the protected attributes as inputs.

## Limitations
Trained on {window[0]}..{window[1]} only; performance is monitored hourly for drift and daily
against matured outcomes, and degrades when the population or the feature-outcome link moves.

## Ethical considerations
Fairness is measured per protected attribute on the holdout (four-fifths rule on approval
rates and the true-positive-rate gap) and gates promotion; the audit trail records who
approved the model and why.

## Recommendations
Promote only with every gate passing; roll back with the rollback DAG if live metrics fall
below the AUC floor ({contract.auc_floor}); review this card at each approval.
"""
