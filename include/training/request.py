"""What a retraining run was asked to do, from its Params, run type and data interval; and the
conf a monitor sends to ask for one.

Validated here as well as by the trigger form: a manual run needs a reason, the window
and mode must be in range, the dataset must have a contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from include import contract as contract_module
from include import settings as settings_module
from include.run_target import RunParamsError

MODES = ("auto", "manual")
MONITOR_KINDS = ("drift", "performance")


@dataclass(frozen=True)
class RetrainRequest:
    dataset: str
    end: str  # last partition date of the training window, YYYY-MM-DD
    window_days: int
    mode: str
    force: bool
    reason: str
    actor: str
    evidence: dict

    @property
    def end_date(self) -> date:
        return date.fromisoformat(self.end)

    def as_dict(self) -> dict:
        return asdict(self)


def resolve(
    params: dict,
    *,
    run_type,
    interval_end: datetime,
    triggered_by: str | None = None,
    settings: settings_module.Settings | None = None,
) -> RetrainRequest:
    s = settings or settings_module.get()
    # The task SDK hands over its own DagRunType enum, whose str() is "DagRunType.SCHEDULED".
    run_type = getattr(run_type, "value", run_type)
    dataset = params.get("dataset") or s.dataset
    known = contract_module.available(s.contracts_dir)
    if dataset not in known:
        raise RunParamsError(f"param 'dataset'={dataset!r} is not a known dataset; choose one of {known}")
    window = params.get("window_days", 28)
    if isinstance(window, bool) or not isinstance(window, int) or not 7 <= window <= 365:
        raise RunParamsError(f"param 'window_days'={window!r} must be a whole number of days from 7 to 365")
    maturity = contract_module.load(dataset, s.contracts_dir).labels.maturity_days
    if window <= maturity:
        raise RunParamsError(
            f"param 'window_days'={window} holds no matured labels: {dataset} outcomes mature "
            f"after {maturity} days, so the window needs at least {maturity + 1} days"
        )
    mode = params.get("promotion_mode", "auto")
    if mode not in MODES:
        raise RunParamsError(f"param 'promotion_mode'={mode!r} must be one of {MODES}")
    force = params.get("force", False)
    if not isinstance(force, bool):
        raise RunParamsError(f"param 'force'={force!r} must be true or false")
    reason = str(params.get("reason") or "").strip()
    if run_type == "scheduled":
        reason, actor = reason or "weekly schedule", "schedule"
    else:
        if not reason:
            raise RunParamsError(
                "param 'reason' is required for a manual retraining run: say why it is retrained"
            )
        actor = (
            "monitor"
            if (params.get("evidence") or {}).get("source") == "monitor"
            else f"user:{triggered_by or 'unknown'}"
        )
    # Keyed by the data interval, never the wall clock: the run for Monday 03:00 trains on
    # partitions up to Sunday, whenever it actually runs (retry, backfill, manual trigger).
    end = interval_end.astimezone(ZoneInfo(s.timezone)).date() - timedelta(days=1)
    return RetrainRequest(
        dataset, end.isoformat(), window, mode, force, reason[:500], actor, dict(params.get("evidence") or {})
    )


def monitor_request(
    contract: contract_module.Contract, *, kind: str, reason: str, window_days: int, evidence: dict
) -> dict:
    """The conf a monitor sends to ``weekly_retraining`` (``resolve`` reads it; ``source:
    monitor`` in the evidence makes the monitor its actor).

    One policy for every monitor: it triggers only when the champion is known to be failing
    (sustained input drift, or realized AUC below the floor), so the challenger replaces it when
    it passes the hard gates and does not regress, without the improvement margin:
    ``force=True`` and ``promotion_mode="auto"`` for every kind.
    """
    if kind not in MONITOR_KINDS:
        raise ValueError(f"monitor kind {kind!r} must be one of {MONITOR_KINDS}")
    return {
        "reason": reason,
        "window_days": window_days,
        "promotion_mode": "auto",
        "force": True,
        "dataset": contract.name,
        "evidence": {"source": "monitor", "kind": kind, **evidence},
    }
