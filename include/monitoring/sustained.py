"""Whether drift is sustained enough to retrain, as the drift sensor asks: k drifted windows in
a row, no data-quality incident, no drift-triggered retraining within the cooldown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import history


@dataclass(frozen=True)
class Decision:
    retrain: bool
    reason: str
    drifted_features: list[str]
    windows: list[str]
    reports: list[str]
    already_triggered: bool = False  # a rerun of the window that triggered: nothing to wait for


def decide(
    contract: Contract, window_end: datetime, *, settings: settings_module.Settings | None = None
) -> Decision:
    """Whether the drift that ends at ``window_end`` is sustained and may trigger retraining."""
    s = settings or settings_module.get()
    rules = contract.monitoring
    records = history.recent(contract.name, window_end, rules.consecutive_windows, s)
    windows = [r["window_end"] for r in records if r]
    reports = [r["report"] for r in records if r and r.get("report")]

    def no(reason: str, features=()) -> Decision:
        return Decision(False, reason, list(features), windows, reports)

    if any(r is None or r.get("status") != "judged" for r in records):
        return no(f"the last {rules.consecutive_windows} windows are not all judged")
    # Windows overlap: any window sharing an hour with these ones and flagged as a data-quality
    # incident means broken rows may be what drifts here (an incident's first or last hours).
    overlapping = history.recent(
        contract.name, window_end, rules.consecutive_windows + rules.lookback_hours - 1, s
    )
    if any(r and r.get("status") == "judged" and r["result"]["data_quality_incident"] for r in overlapping):
        return no("data-quality incident in a window sharing hours with these: never retrain on broken data")
    if not all(r["result"]["dataset_drift"] for r in records):
        return no(f"drift not sustained over {rules.consecutive_windows} consecutive windows")
    drifted = sorted(set.intersection(*(set(r["result"]["drifted_columns"]) for r in records)))
    if storage.exists(history.trigger_path(contract.name, window_end, s)):
        return Decision(True, "this window already triggered retraining", drifted, windows, reports, True)
    last = history.last_trigger(contract.name, window_end, s)
    if last is not None and window_end - last < timedelta(hours=rules.cooldown_hours):
        return no(
            f"cooldown: drift triggered retraining at {last.isoformat()}, less than "
            f"{rules.cooldown_hours:g} h before",
            drifted,
        )
    return Decision(
        True,
        f"drift sustained over {rules.consecutive_windows} windows in {', '.join(drifted) or 'the dataset'}",
        drifted,
        windows,
        reports,
    )
