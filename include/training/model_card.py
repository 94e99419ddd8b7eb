"""The model card of a registered version (fields from the team's guides), as facts and as Markdown.

``facts`` gathers the card's content in one JSON-able dict (logged as ``model_card.json``, for
tools and auditors); ``render`` writes the same facts as Markdown (``model_card.md`` and the
version's description in the registry). Written once the version number is known.
"""

from __future__ import annotations

from collections import Counter

from include.contract import Contract

INTENDED_USE = (
    "Scoring new `{name}` records like those in the training window, as one input to a decision that a "
    "person can review; each score comes with reason codes (the features that raised the risk) for the "
    "applicant and the regulator."
)
OUT_OF_SCOPE = (
    "Populations, products or markets absent from the training data; decisions without human review or "
    "recourse; any use of the protected attributes as inputs."
)
ETHICS = (
    "Fairness is measured per protected attribute on the holdout, on the favorable decision ({favorable}): "
    "the four-fifths rule on favorable-decision rates and the gaps in true-positive rate (favorable decisions "
    "among {wanted} rows) and false-positive rate (among {unwanted} rows), each judged by its confidence "
    "interval as the live monitor does; it gates promotion. Groups too small to judge are named below. "
    "The audit trail records who approved the model and why."
)


def _small_groups(gates: list[dict]) -> list[str]:
    """The gate messages' notes on groups too small to judge (one per fairness gate naming some)."""
    return [
        f"{g['name']}: {g['message'].split('not judged, under ', 1)[1].split(';')[0]}"
        for g in gates
        if g["name"].startswith("fairness_") and "not judged, under " in g["message"]
    ]


def facts(
    *,
    contract: Contract,
    model_name: str,
    version: str,
    created: str,
    author: str,
    family: str,
    params: dict,
    window: tuple[str, str],
    lineage: list[dict],
    counts: dict,
    holdout: dict,
    train_auc: float,
    gates: list[dict],
    fairness: dict[str, list[dict]],
    reason: str,
) -> dict:
    """Name, version, date, authors, model type, training and test data, metrics, gates, biases,
    intended and out-of-scope use, limitations, ethical considerations, recommendations."""
    partitions = Counter(feed for feed, _ in sorted({(e["feed"], e["partition"]) for e in lineage}))
    return {
        "name": model_name,
        "version": str(version),
        "date": created,
        "authors": author,
        "reason": reason,
        "model_type": {
            "family": family,
            "parameters": {k: v for k, v in params.items() if k != "categorical_encoding"},
            "library": "scikit-learn Pipeline",
            # Categories whose rare levels share one code (include/training/candidates.py); the others
            # keep a code per level.
            "categorical_encoding": params.get("categorical_encoding") or "every level its own code",
        },
        "contract": {
            "name": contract.name,
            "file": contract.source.name,
            "features": list(contract.features),
            "protected_attributes": list(contract.protected),
        },
        "training_data": {
            "window": list(window),
            "partitions_per_feed": dict(partitions),
            "labelled_rows": int(counts.get("labelled", 0)),
            "younger_events_left_out": int(counts.get("not_matured", 0)),
            "label_maturity_days": contract.labels.maturity_days,
            "data_versions": "lineage.json",
        },
        "test_data": {
            "rows": int(holdout["rows"]),
            "split": "the most recent labelled rows (time-based holdout)",
        },
        "metrics": {
            "roc_auc": holdout["roc_auc"],
            "pr_auc": holdout["pr_auc"],
            "ks": holdout["ks"],
            "brier": holdout["brier"],
            "train_auc": train_auc,
            "confusion": holdout["confusion"],
        },
        "gates": [{k: g[k] for k in ("name", "passed", "observed", "threshold")} for g in gates],
        "biases": [
            {
                "attribute": attribute,
                "group": str(row["group"]),
                "rows": int(row["rows"]),
                "favorable_rate": float(row["favorable_rate"]),
                "true_positive_rate": _rate(row["true_positive_rate"]),
                "false_positive_rate": _rate(row["false_positive_rate"]),
                "judged": bool(all(row.get("judged", {}).values())),
            }
            for attribute, rows in fairness.items()
            for row in rows
        ],
        "favorable": _favorable(contract),
        "small_groups": _small_groups(gates),
        "intended_use": INTENDED_USE.format(name=contract.name),
        "out_of_scope_use": OUT_OF_SCOPE,
        "limitations": (
            f"Trained on {window[0]}..{window[1]} only; performance is monitored hourly for drift and "
            "daily against matured outcomes, and degrades when the population or the feature-outcome "
            "link moves."
        ),
        "ethical_considerations": ETHICS.format(
            favorable=_favorable(contract),
            wanted=contract.labels.name(contract.labels.favorable_outcome),
            unwanted=contract.labels.name(1 - contract.labels.favorable_outcome),
        ),
        "recommendations": (
            f"Promote only with every gate passing; roll back with the rollback DAG if live metrics "
            f"fall below the AUC floor ({contract.auc_floor}); review this card at each approval."
        ),
    }


def _rate(value) -> float | None:
    return None if value is None or value != value else float(value)  # NaN: no such row in the group


def _favorable(contract: Contract) -> str:
    side = "below" if contract.labels.favorable == "negative" else "at or above"
    wanted = contract.labels.name(contract.labels.favorable_outcome)
    return f"a score {side} {contract.decision_threshold}, the decision wanted for {wanted} rows"


def _shown_rate(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(card: dict) -> str:
    """The card as Markdown."""
    data, metrics, confusion = card["training_data"], card["metrics"], card["metrics"]["confusion"]
    partitions = ", ".join(f"{n} of {feed}" for feed, n in data["partitions_per_feed"].items())
    gate_rows = "\n".join(
        f"| {g['name']} | {'pass' if g['passed'] else 'FAIL'} | {g['observed']} | {g['threshold']} |"
        for g in card["gates"]
    )
    bias_rows = "\n".join(
        f"| {b['attribute']} | {b['group']} | {b['rows']} | {b['favorable_rate']:.3f} | "
        f"{_shown_rate(b['true_positive_rate'])} | {_shown_rate(b['false_positive_rate'])} | "
        f"{'yes' if b['judged'] else 'no: too small'} |"
        for b in card["biases"]
    )
    small = "\n".join(f"- {line}" for line in card.get("small_groups", [])) or "none"
    model, contract, maturity = card["model_type"], card["contract"], data["label_maturity_days"]
    counts = f"tn {confusion['tn']}, fp {confusion['fp']}, fn {confusion['fn']}, tp {confusion['tp']}"
    return f"""# Model card: {card["name"]} v{card["version"]}

- **Date**: {card["date"]}
- **Authors**: {card["authors"]} (the run that trained it; reason: {card["reason"]})
- **Model type**: {model["family"]}, {model["library"]}; parameters `{model["parameters"]}`
- **Categorical encoding**: {model.get("categorical_encoding", "every level its own code")}
- **Dataset contract**: `{contract["name"]}` ({contract["file"]}); features: {", ".join(contract["features"])}
- **Protected attributes** (audited, never model inputs): {", ".join(contract["protected_attributes"]) or "none"}

## Training data
Curated partitions from {data["window"][0]} to {data["window"][1]} ({partitions}; data versions in
`lineage.json`): {data["labelled_rows"]} labelled rows whose outcome matured ({maturity} days);
{data["younger_events_left_out"]} younger events were left out.

## Test data and metrics
The most recent {card["test_data"]["rows"]} labelled rows (time-based holdout, never seen in training).

| metric | value |
|---|---:|
| ROC AUC | {metrics["roc_auc"]:.4f} |
| PR AUC | {metrics["pr_auc"]:.4f} |
| KS | {metrics["ks"]:.4f} |
| Brier | {metrics["brier"]:.4f} |
| train AUC | {metrics["train_auc"]:.4f} |
| confusion at {confusion["threshold"]} | {counts} |

## Gates
| gate | result | observed | threshold |
|---|---|---|---|
{gate_rows}

## Biases
Favorable decision: {card.get("favorable", "-")}.

| attribute | group | rows | favorable-decision rate | true-positive rate | false-positive rate | judged |
|---|---|---:|---:|---:|---:|---|
{bias_rows or "| - | - | - | - | - | - | - |"}

Groups too small to judge (reported, not judged):
{small}

## Intended use
{card["intended_use"]}

## Out-of-scope use
{card["out_of_scope_use"]}

## Limitations
{card["limitations"]}

## Ethical considerations
{card["ethical_considerations"]}

## Recommendations
{card["recommendations"]}
"""
