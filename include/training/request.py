"""What a retraining run was asked to do, from its Params, run type and data interval; and the
conf a monitor sends to ask for one.

Validated here as well as by the trigger form: a manual run needs a reason, the window
and mode must be in range, the dataset must have a contract, and no key is unknown.

The actor comes from Airflow's facts, never from the conf: a scheduled run is the schedule, a
manual run its triggering user. A run is the monitor's only when the monitor recorded, under
the storage root and before triggering it, a request for that very run id (``record``) and the
run's params match it; a person who types monitor evidence into a trigger form is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from include import contract as contract_module
from include import settings as settings_module
from include import storage
from include.run_target import RunParamsError, refuse_unknown
from include.run_target import shown as _shown

MODES = ("auto", "manual", "shadow")
MONITOR_KINDS = ("drift", "performance")
PARAMS = ("dataset", "window_days", "promotion_mode", "force", "reason", "evidence", "schema_change_reason")
REASON_CHARS = 500  # a longer reason is cut when recorded


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
    schema_change_reason: str = ""  # why the inputs may differ from the champion's; needs a person

    @property
    def end_date(self) -> date:
        return date.fromisoformat(self.end)

    def as_dict(self) -> dict:
        return asdict(self)


def training_interval(request: dict) -> tuple[date, date]:
    """The first and last partition day of a request's training window (the data interval its
    audit events concern)."""
    end = date.fromisoformat(request["end"])
    return end - timedelta(days=int(request["window_days"]) - 1), end


def resolve(
    params: dict,
    *,
    run_type,
    interval_end: datetime,
    triggered_by: str | None = None,
    run_id: str | None = None,
    settings: settings_module.Settings | None = None,
) -> RetrainRequest:
    s = settings or settings_module.get()
    # The task SDK hands over its own DagRunType enum, whose str() is "DagRunType.SCHEDULED".
    run_type = getattr(run_type, "value", run_type)
    refuse_unknown(params, PARAMS)
    dataset = params.get("dataset") or s.dataset
    known = contract_module.available(s.contracts_dir)
    if not isinstance(dataset, str) or dataset not in known:
        raise RunParamsError(
            f"param 'dataset'={_shown(dataset)} is not a known dataset; choose one of {known}"
        )
    window = params.get("window_days", 28)
    if isinstance(window, bool) or not isinstance(window, int) or not 7 <= window <= 365:
        raise RunParamsError(
            f"param 'window_days'={_shown(window)} must be a whole number of days from 7 to 365"
        )
    maturity = contract_module.load(dataset, s.contracts_dir).labels.maturity_days
    if window <= maturity:
        raise RunParamsError(
            f"param 'window_days'={window} holds no matured labels: {dataset} outcomes mature "
            f"after {maturity} days, so the window needs at least {maturity + 1} days"
        )
    mode = params.get("promotion_mode", "auto")
    if mode not in MODES:
        raise RunParamsError(f"param 'promotion_mode'={_shown(mode)} must be one of {MODES}")
    force = params.get("force", False)
    if not isinstance(force, bool):
        raise RunParamsError(f"param 'force'={_shown(force)} must be true or false")
    reason = str(params.get("reason") or "").strip()
    if run_type == "scheduled":
        reason, actor = reason or "weekly schedule", "schedule"
    else:
        if not reason:
            raise RunParamsError(
                "param 'reason' is required for a manual retraining run: say why it is retrained"
            )
        actor = f"user:{triggered_by or 'unknown'}"
    evidence = params.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise RunParamsError(f"param 'evidence'={_shown(evidence)} must be an object")
    schema_change = params.get("schema_change_reason") or ""
    if not isinstance(schema_change, str):
        raise RunParamsError(f"param 'schema_change_reason'={_shown(schema_change)} must be text")
    if evidence.get("source") == "monitor":
        _check_recorded(params, dataset, run_id, s)
        actor = "monitor"
    # Keyed by the data interval, never the wall clock: the run for Monday 03:00 trains on
    # partitions up to Sunday, whenever it actually runs (retry, backfill, manual trigger).
    end = interval_end.astimezone(ZoneInfo(s.timezone)).date() - timedelta(days=1)
    return RetrainRequest(
        dataset,
        end.isoformat(),
        window,
        mode,
        force,
        reason[:REASON_CHARS],
        actor,
        evidence,
        schema_change.strip()[:REASON_CHARS],
    )


def request_path(dataset: str, run_id: str, settings: settings_module.Settings | None = None):
    """Where a monitor records the request for the retraining run it triggers."""
    return storage.path("monitoring", dataset, "requests", f"{run_id}.json", settings=settings)


def monitor_run_id(conf: dict) -> str:
    """The id of the retraining run a monitor triggers: one per dataset and window (drift) or
    cohort (performance), so a retry or a backfill of the monitor finds it and skips."""
    evidence = conf["evidence"]
    key = evidence["window_end"][:16].replace(":", "") if evidence["kind"] == "drift" else evidence["cohort"]
    return f"{evidence['kind']}__{conf['dataset']}__{key}"


def record(conf: dict, settings: settings_module.Settings | None = None) -> str:
    """Record a monitor's request before it triggers the run; returns the run id to trigger.
    Written once: a rerun of the monitor finds it and triggers nothing new."""
    run_id = monitor_run_id(conf)
    path = request_path(conf["dataset"], run_id, settings)
    storage.write_once(path, json.dumps(conf, sort_keys=True, default=str).encode())
    return run_id


def _check_recorded(params: dict, dataset: str, run_id: str | None, s: settings_module.Settings) -> None:
    try:
        path = request_path(dataset, run_id or "", s)
    except storage.StorageError:  # not a name a monitor gives its runs (manual__2026-...+00:00)
        path = None
    if path is None or not storage.exists(path):
        where = storage.describe(path or storage.path("monitoring", dataset, "requests", settings=s))
        raise RunParamsError(
            f"param 'evidence' says a monitor asked for run {_shown(run_id)}, but no monitor recorded a "
            f"request for it at {where}: a run started by a person cannot carry "
            "monitor evidence; trigger it without 'evidence'"
        )
    recorded = json.loads(storage.read_bytes(path))
    differs = sorted(k for k in PARAMS if k in params and params[k] != recorded.get(k))
    if differs:
        raise RunParamsError(
            f"param(s) {', '.join(differs)} of run {_shown(run_id)} differ from the monitor's request "
            f"recorded at {storage.describe(path)}"
        )


def monitor_request(
    contract: contract_module.Contract, *, kind: str, reason: str, window_days: int, evidence: dict
) -> dict:
    """The conf a monitor sends to ``weekly_retraining`` (``resolve`` reads it; with the request
    ``record``-ed under the run's id, the monitor is its actor).

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
