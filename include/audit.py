"""Append-only audit trail in storage: ``audit/dt=YYYY-MM-DD/<run>--<task>--<hash>.jsonl``.

Each call writes one new object of JSON lines; nothing is ever rewritten. The object name
carries a hash of its content, so a retried task that records the same events writes the
same name and is a no-op, while different events can never replace earlier ones. S3 has no
append, so a new object per write is how the trail stays append-only there too (keep it
7 years with a bucket lifecycle rule and S3 Object Lock in compliance mode; see docs/governance.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime

from include import settings as settings_module
from include import storage
from include.errors import MlopsError

EVENT_TYPES = (
    "registered",
    "gate_result",
    "promoted",
    "rejected",
    "approval_requested",
    "approved",
    "declined",
    "rollback",
    "alias_change",
    "deleted",
    "archived",
    "drift_detected",
    "retrain_triggered",
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


def record(
    events: list[dict],
    *,
    day: date,
    dag_run_id: str,
    task: str,
    key: str | None = None,
    settings: settings_module.Settings | None = None,
) -> str:
    """Write ``events`` as one new JSON-lines object; return its URI.

    Without ``key`` the object is named by a hash of its content; with one, by a hash of the
    key, so a retry whose events carry a new wall-clock time still finds the first write."""
    if not events:
        raise AuditError("no audit events to record")
    for event in events:
        _check(event)
    body = "".join(json.dumps(e, sort_keys=True, default=str) + "\n" for e in events).encode()
    digest = hashlib.sha256(body if key is None else key.encode()).hexdigest()[:16]
    name = f"{_safe(dag_run_id)}--{_safe(task)}--{digest}.jsonl"
    path = storage.path("audit", f"dt={day.isoformat()}", name, settings=settings)
    storage.write_once(path, body)  # same name means the same facts: a retry, not a new fact
    return storage.describe(path)


def read(first: date, last: date, settings: settings_module.Settings | None = None) -> list[dict]:
    """Every event recorded on the days ``first``..``last``, ordered by time then type."""
    events = []
    for directory in storage.list_dirs(storage.path("audit", settings=settings)):
        day = date.fromisoformat(directory.name.removeprefix("dt="))
        if first <= day <= last:
            for path in storage.list_files(directory):
                if path.name.endswith(".jsonl"):
                    events += [
                        json.loads(line) for line in storage.read_bytes(path).decode().splitlines() if line
                    ]
    return sorted(events, key=lambda e: (e["time"], e["type"]))
