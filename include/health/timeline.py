"""The champion now and since when, and the version timeline, from the audit trail and the registry.

The trail is the record of who did what (the registry's tags say the same, but can be edited in
MLflow's UI); the registry says which version serves now. When the two disagree, the page says
so, as ``registry_reconciliation`` does.
"""

from __future__ import annotations

from include import registry, storage
from include import settings as settings_module
from include.audit import chain
from include.health import records as records_module

DECISIONS = (
    "registered",
    "promoted",
    "rejected",
    "approval_requested",
    "approved",
    "declined",
    "approval_refused",
    "rollback",
    "shadow_started",
    "shadow_retired",
    "alias_unexplained",
)
ALERTS = (
    "retrain_triggered",
    "bias_detected",
    "attribution_drift_detected",
    "estimated_auc_below_floor",
)
CHAMPION_MOVES = ("promoted", "rollback")
KEPT = (
    "type",
    "time",
    "actor",
    "dag_run_id",
    "version",
    "seq",
    "reason",
    "mode",
    "replaced_version",
    "failed_gates",
    "timed_out",
    "champion_version",
    "evidence",
    "metrics",
    "schema_change_reason",
    "data_interval",
    "task",
)


def events(name: str, settings: settings_module.Settings | None = None) -> list[dict]:
    """Every event of ``name``'s audit stream, in sequence order."""
    s = settings or settings_module.get()
    directory = chain.stream_dir(name, s) / "entries"
    names = [n for n in storage.list_names(directory) if "/" not in n and n.endswith(".json")]
    out = []
    for body in records_module.read_many(directory, names):  # zero-padded names: sequence order
        out += [{**e, "seq": int(body["seq"])} for e in body["events"]]
    return out


def _shown(event: dict) -> dict:
    return {k: event[k] for k in KEPT if k in event}


def timeline(name: str, settings: settings_module.Settings | None = None) -> dict:
    """The champion (registry) with the event that made it champion (trail), the other aliases,
    and the decisions and alerts of the trail, newest first."""
    s = settings or settings_module.get()
    client = registry.client(s)
    aliases = {}
    if registry.exists(client, name):
        for alias in (registry.CHAMPION, registry.CHALLENGER, registry.PREVIOUS, registry.SHADOW):
            found = registry.by_alias(client, name, alias)
            aliases[alias] = found.version if found else None
    trail = events(name, s)
    moves = [e for e in trail if e["type"] in CHAMPION_MOVES]
    made = moves[-1] if moves else None
    champion = aliases.get(registry.CHAMPION)
    return {
        "model": name,
        "aliases": aliases,
        "champion": {
            "version": champion,
            "since": made["time"] if made and made.get("version") == champion else None,
            "by": made["actor"] if made and made.get("version") == champion else None,
            "event": _shown(made) if made else None,
            # the registry serves a version the trail's last promotion or rollback did not make champion
            "unexplained": bool(champion) and (made is None or made.get("version") != champion),
        },
        "decisions": [_shown(e) for e in reversed(trail) if e["type"] in DECISIONS],
        "alerts": [_shown(e) for e in reversed(trail) if e["type"] in ALERTS],
    }
