"""Anchors: the audit chain's head, recorded where the audit store cannot rewrite it.

A chain alone cannot show that its newest entry was rewritten with a freshly computed hash, or
that its tail was cut: nothing comes after it. So each promotion, rollback and approval, after
writing its audit entry, records that entry's sequence number and hash on the MLflow model
version it concerns (tag ``audit_anchor.<seq>`` = sha256; one tag per entry, so they accumulate)
and in the notification it sends (``facts["audit_anchor"]``). ``python -m include.audit verify``
checks the chain against every anchor in MLflow.
"""

from __future__ import annotations

from pathlib import Path

from include import registry
from include import settings as settings_module
from include.audit import _safe, record_entry

ANCHORED = ("promoted", "rollback", "approval_requested", "approved", "declined", "approval_refused")


def record(
    facts: dict, *, interval, dag_run_id: str, task: str, key: str, settings: settings_module.Settings | None
) -> dict:
    """Audit ``facts`` (once per ``key``) and, for the kinds in ``ANCHORED``, anchor the entry on
    the model version (a model the registry does not hold has no version to tag); return
    ``{"audit_anchor": {...}}`` for the notification (``{}`` for kinds not anchored)."""
    entry = record_entry(
        [facts], interval=interval, dag_run_id=dag_run_id, task=task, key=key, settings=settings
    )
    if facts["type"] not in ANCHORED or not facts.get("version"):
        return {}
    s = settings or settings_module.get()
    if _store_exists(s) and registry.exists(client := registry.client(s), facts["model"]):
        registry.write_anchor(client, facts["model"], str(facts["version"]), entry.seq, entry.body["hash"])
    return {"audit_anchor": {"stream": _safe(facts["model"]), "seq": entry.seq, "hash": entry.body["hash"]}}


def _store_exists(settings: settings_module.Settings) -> bool:
    """False for a local SQLite store never created (opening it would create an empty one)."""
    uri = settings.mlflow_tracking_uri
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()


def read(settings: settings_module.Settings) -> dict[str, list[tuple[str, str, int, str]]]:
    """Every anchor in MLflow, by audit stream: (model, version, seq, sha256). A local SQLite store
    that was never created holds none (opening it would create it)."""
    if not _store_exists(settings):
        return {}
    client = registry.client(settings)
    found: dict[str, list] = {}
    for name in registry.model_names(client):
        for version, seq, digest in registry.read_anchors(client, name):
            found.setdefault(_safe(name), []).append((name, version, seq, digest))
    return found
