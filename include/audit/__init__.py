"""The audit trail: every event the package records, per registered model, hash-chained.

Events are appended to their model's stream (``include/audit/chain.py``) in the order they
happened; each carries when it happened (``time``) and the data interval it concerns
(``data_interval``), so a backfill's events are told apart from the days they are about.
Nothing is ever rewritten: a retried task finds its entry by key and appends nothing, and
``python -m include.audit verify`` shows a gap or an edit. Keep the ``audit/`` prefix 7 years
under S3 Object Lock in compliance mode (docs/governance.md).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

from include import settings as settings_module
from include.audit import chain
from include.errors import MlopsError

EVENT_TYPES = (
    "registered",
    "gate_result",
    "promoted",
    "rejected",
    "approval_requested",
    "approved",
    "declined",
    "approval_refused",
    "rollback",
    "alias_change",
    "deleted",
    "archived",
    "drift_detected",
    "retrain_triggered",
    "alias_unexplained",
    "bias_detected",
    "attribution_drift_detected",
    "estimated_auc_below_floor",
    "shadow_started",
    "shadow_retired",
)
REQUIRED = ("type", "time", "actor", "dag_run_id", "model")


class AuditError(MlopsError, ValueError):
    """An audit event is malformed; the message names the field."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", text)[:120] or "_"


def _check(event: dict) -> None:
    missing = [k for k in REQUIRED if not event.get(k)]
    if missing:
        raise AuditError(f"audit event {event.get('type')!r} lacks {', '.join(missing)}")
    if event["type"] not in EVENT_TYPES:
        raise AuditError(f"audit event type {event['type']!r} is not one of {', '.join(EVENT_TYPES)}")
    try:
        datetime.fromisoformat(event["time"])
    except (TypeError, ValueError):
        raise AuditError(f"audit event time {event['time']!r} is not an ISO timestamp") from None


def _interval(interval) -> dict:
    start, end = interval
    return {"start": start.isoformat(), "end": end.isoformat()}


def record(
    events: list[dict],
    *,
    interval: tuple[date | datetime, date | datetime],
    dag_run_id: str,
    task: str,
    key: str | None = None,
    settings: settings_module.Settings | None = None,
) -> str:
    """Append ``events`` (all about one model) to that model's stream; return the entry's URI.
    (``record_entry`` returns the entry itself: its sequence number and hash, to anchor it.)"""
    return record_entry(
        events, interval=interval, dag_run_id=dag_run_id, task=task, key=key, settings=settings
    ).uri


def record_entry(
    events: list[dict],
    *,
    interval: tuple[date | datetime, date | datetime],
    dag_run_id: str,
    task: str,
    key: str | None = None,
    settings: settings_module.Settings | None = None,
) -> chain.Entry:
    """``record``, returning the entry written (or found, for a retry).

    ``interval`` is the data interval the events concern. Without ``key`` a retry is
    recognised by the events' content; with one, by the key, so a retry whose events carry a
    new wall-clock time still finds the first write."""
    if not events:
        raise AuditError("no audit events to record")
    for event in events:
        _check(event)
    models = sorted({e["model"] for e in events})
    if len(models) > 1:
        raise AuditError(f"one audit record is about one model, not {', '.join(models)}")
    stamped = [{**e, "data_interval": _interval(interval)} for e in events]
    identity = key if key is not None else hashlib.sha256(chain.canonical({"e": stamped})).hexdigest()
    return chain.append(
        _safe(models[0]),
        f"{dag_run_id}\n{task}\n{identity}",
        {"dag_run_id": dag_run_id, "task": task, "events": stamped},
        settings=settings,
    )


def _utc_day(time: str) -> date:
    moment = datetime.fromisoformat(time)
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _events(entry: chain.Entry) -> list[dict]:
    return [{**e, "seq": entry.seq} for e in entry.body["events"]]


def _interval_days(event: dict) -> tuple[date, date]:
    interval = event["data_interval"]
    return _utc_day(interval["start"]), _utc_day(interval["end"])


def read(
    first: date, last: date, *, by: str = "time", settings: settings_module.Settings | None = None
) -> list[dict]:
    """Every event that happened on the days ``first``..``last`` (UTC), or with ``by="data"``
    whose data interval overlaps them; ordered by time then type."""
    if by not in ("time", "data"):
        raise AuditError(f"read by {by!r}: events are read by 'time' or by 'data' interval")

    def wanted(event: dict) -> bool:
        if by == "time":
            return first <= _utc_day(event["time"]) <= last
        start, end = _interval_days(event)
        return start <= last and first <= end

    events = []
    for stream in chain.streams(settings):
        for path in chain.entry_paths(stream, settings):
            events += [e for e in _events(chain.load(path)) if wanted(e)]
    return sorted(events, key=lambda e: (e["time"], e["type"]))


def latest(
    model: str, types: tuple[str, ...], settings: settings_module.Settings | None = None
) -> dict | None:
    """The newest event of one of ``types`` in ``model``'s stream, reading back from its head."""
    for entry in chain.newest_first(_safe(model), settings):
        found = [e for e in _events(entry) if e["type"] in types]
        if found:
            return found[-1]
    return None
