"""Realized and estimated AUC by day against the floor, and fairness by group over time, from the
daily monitors' records (each written once: ``monitoring/<dataset>/<monitor>/dt=<day>.json``)."""

from __future__ import annotations

from datetime import date

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.health import records as records_module
from include.monitoring import bias, estimated


def _records(contract: Contract, monitor: str, first: date, last: date, settings) -> list[dict]:
    directory = storage.path("monitoring", contract.name, *monitor.split("/"), settings=settings)
    names = [
        n
        for n in storage.list_names(directory)
        if n.startswith("dt=") and n.endswith(".json") and first.isoformat() <= n[3:-5] <= last.isoformat()
    ]
    return records_module.read_many(directory, names)


def performance(
    contract: Contract, first: date, last: date, *, settings: settings_module.Settings | None = None
) -> dict:
    """Per application day: the realized AUC of its matured cohort and the AUC estimated from the
    scores the morning after (CBPE) with its sampling band, against the floor and the drop line
    (the reference estimate - max_drop); the days an estimate alerted, with the rules fired."""
    s = settings or settings_module.get()
    realized = {r["cohort"]: r for r in _records(contract, "performance", first, last, s)}
    guessed = {r["day"]: r for r in _records(contract, estimated.MONITOR, first, last, s)}
    days = sorted(set(realized) | set(guessed))

    def band(day: str, end: int):
        found = (guessed.get(day) or {}).get("band")
        return found[end] if found else None

    return {
        "floor": contract.auc_floor,
        "confidence": contract.monitoring.estimated.confidence,
        "max_drop": contract.monitoring.estimated.max_drop,
        "days": days,
        "realized": [realized[d].get("auc") if d in realized else None for d in days],
        "estimated": [guessed[d].get("estimated_auc") if d in guessed else None for d in days],
        "estimated_low": [band(d, 0) for d in days],
        "estimated_high": [band(d, 1) for d in days],
        "drop_line": [(guessed.get(d) or {}).get("drop_line") for d in days],
        "estimated_alerts": [
            {"day": d, "rules": [r["text"] for r in estimated.fired_rules(guessed[d])]}
            for d in days
            if d in guessed and estimated.fired_rules(guessed[d])
        ],
        "labelled": [realized[d].get("labelled") if d in realized else None for d in days],
        "versions": [
            (guessed.get(d) or {}).get("model_version")
            or next(iter((realized.get(d) or {}).get("model_versions") or {}), None)
            for d in days
        ],
    }


def fairness(
    contract: Contract, first: date, last: date, *, settings: settings_module.Settings | None = None
) -> dict:
    """Per protected attribute, each group's rate of favorable decisions by day (decisions), and
    the four-fifths ratio with its interval against the limit; alerts marked, and the groups some
    day left unjudged as too small (with their largest daily size)."""
    s = settings or settings_module.get()
    found = sorted(_records(contract, bias.DECISIONS, first, last, s), key=lambda r: r["day"])
    out = {
        "limit": contract.monitoring.fairness.min_approval_ratio,
        "decision": (
            f"score {'below' if contract.labels.favorable == 'negative' else 'at or above'} "
            f"{contract.decision_threshold} ({contract.labels.name(contract.labels.favorable_outcome)})"
        ),
        "min_group_rows": contract.monitoring.fairness.min_group_rows,
        "days": [r["day"] for r in found],
        "by": {},
    }
    for attribute in contract.protected:
        groups: dict[str, list] = {}
        small: dict[str, int] = {}
        ratio, low, high = [], [], []
        for n, record in enumerate(found):
            check = next(
                (
                    c
                    for c in record.get("checks", [])
                    if c["attribute"] == attribute and c["metric"] == "approval_ratio"
                ),
                None,
            )
            for g in (check or {}).get("groups", []):
                groups.setdefault(g["group"], [None] * len(found))[n] = g["rate"]
                if not g.get("judged", True):
                    small[g["group"]] = max(small.get(g["group"], 0), int(g["rows"]))
            judged = check is not None and check.get("status") == "judged"
            ratio.append(check["value"] if judged else None)
            low.append(check["low"] if judged else None)
            high.append(check["high"] if judged else None)
        out["by"][attribute] = {
            "approval_rate": groups,
            "ratio": ratio,
            "low": low,
            "high": high,
            "alerts": [n for n, r in enumerate(found) if r.get("alert")],
            "not_judged": small,
        }
    return out
