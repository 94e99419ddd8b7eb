"""A shadow period from start to end: the registry's ``shadow`` alias and version tags, the audit
events and the notifications, each step safe to retry.

``start`` puts a challenger whose offline gates passed in shadow against the current champion
(retiring a shadow already running); ``promote`` makes a winning shadow champion through the
same path as any promotion (``promoted``, mode ``shadow``, with the live evidence); ``retire``
ends a losing, unfair or expired one. The version keeps its tags afterwards (``shadow_status``
running, promoted or retired; ``shadow_started``, ``shadow_against``, ``shadow_ended``,
``shadow_verdict``), so the registry shows every shadow period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from include import promotion, registry
from include import settings as settings_module
from include.contract import Contract

MODE = "shadow"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current(
    contract: Contract, day: date, *, settings: settings_module.Settings | None = None
) -> dict | None:
    """The running shadow as a request for decision day ``day`` (the shape the approval step and
    ``promotion.promote`` read), or None when no version is in shadow."""
    s = settings or settings_module.get()
    client = registry.client(s)
    if not registry.exists(client, contract.name):
        return None
    shadow = registry.by_alias(client, contract.name, registry.SHADOW)
    if shadow is None:
        return None
    if "shadow_started" not in shadow.tags:
        raise registry.RegistryError(
            f"{contract.name}@{registry.SHADOW} points at v{shadow.version}, which has no shadow_started "
            "tag: the alias was set by hand. Start a shadow with weekly_retraining (promotion_mode "
            "shadow), or remove the alias"
        )
    champion = registry.by_alias(client, contract.name, registry.CHAMPION)
    started = date.fromisoformat(shadow.tags["shadow_started"])
    return {
        "dataset": contract.name,
        "version": shadow.version,
        "started": started.isoformat(),
        "against": shadow.tags.get("shadow_against"),
        "champion_now": champion.version if champion else None,
        "needs_approval": shadow.tags.get("shadow_needs_approval") or "",
        # the request's fields, for the approval step and the audit events: the shadow period
        "actor": "monitor",
        "mode": MODE,
        "reason": shadow.tags.get("shadow_reason") or "shadow period",
        "end": max(day, started).isoformat(),
        "window_days": max(1, (day - started).days + 1),
        "force": False,
        "evidence": {},
    }


def start(
    outcome: dict,
    request: dict,
    *,
    needs_approval: str = "",
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Put the registered challenger (every gate passed) in shadow against the current champion.
    The period starts the day after the training window ends: the first day the model never saw."""
    s = settings or settings_module.get()
    client = registry.client(s)
    name, version = outcome["model_name"], outcome["version"]
    started = date.fromisoformat(request["end"]) + timedelta(days=1)
    running = registry.by_alias(client, name, registry.SHADOW)
    if running is not None and running.version != version:
        retire(
            {"version": running.version, "why": f"replaced by v{version}", "day": started.isoformat()},
            {
                "started": running.tags.get("shadow_started"),
                "end": started.isoformat(),
                "window_days": 1,
                "against": running.tags.get("shadow_against"),
                "actor": request["actor"],
            },
            model=name,
            dag_run_id=dag_run_id,
            task=task,
            settings=s,
        )
    if running is None or running.version != version:
        registry.start_shadow(
            client,
            name,
            version,
            {
                "shadow_started": started.isoformat(),
                "shadow_against": outcome["champion_version"],
                "shadow_run": dag_run_id,
                "shadow_reason": request["reason"][:250],
                "shadow_needs_approval": needs_approval[:250],
            },
        )
    facts = {
        "type": "shadow_started",
        "time": _now(),
        "actor": request["actor"],
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "champion_version": outcome["champion_version"],
        "started": started.isoformat(),
        "reason": request["reason"],
        "metrics": {"roc_auc": outcome["holdout"]["roc_auc"]},
    }
    promotion.announce(
        facts,
        f"{name} v{version} is in shadow against v{outcome['champion_version']}",
        f"{name} v{version} passed every offline gate and now scores the live traffic beside "
        f"champion v{outcome['champion_version']} without deciding anything, from {started}. It is "
        "promoted when it does significantly better on the same matured applications, retired when "
        f"it does worse or after the shadow period.\nReason: {request['reason']}",
        interval=(started, started),
        task=task,
        key=f"{version}:shadow_started",
        settings=s,
    )
    return {"shadow": version, "against": outcome["champion_version"], "started": started.isoformat()}


def declined(
    contract: Contract, version: str, settings: settings_module.Settings | None = None
) -> str | None:
    """Why a person's answer ends ``version``'s shadow: its promotion was declined after its shadow
    period started. None while no such answer exists. An answer that did not count
    (``approval_refused``) leaves the request open for another approver, so it ends nothing."""
    from include import audit

    last = audit.latest(contract.name, ("shadow_started", "declined"), settings)
    if last is None or last["type"] == "shadow_started" or last.get("version") != version:
        return None
    return f"promotion {last['type']} by {last['actor']} (audit entry {last['seq']})"


def as_outcome(record: dict) -> dict:
    """A day's verdict in the shape of a training outcome, for the approval step and ``promote``."""
    comparison = record.get("comparison") or {}
    return {
        "model_name": record["model"],
        "version": record["version"],
        "champion_version": record["champion_version"],
        "gates": record["checks"],
        "gates_passed": record["verdict"] == "promote",
        "holdout": {"roc_auc": comparison.get("auc_a")},
        "judged_on": f"live ({record.get('outcomes', 0)} matured applications)",
        "evidence": {
            k: record.get(k) for k in ("day", "outcomes", "comparison", "agreement", "approval_rate")
        },
        "verdict": record["verdict"],
        "why": record["why"],
    }


def promote(
    outcome: dict,
    shadow: dict,
    *,
    approver: str | None = None,
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """The shadow won: champion now (``promoted``, mode shadow), and its shadow period ends."""
    s = settings or settings_module.get()
    request = {**shadow, "reason": f"shadow v{outcome['version']}: {outcome['why']}; {shadow['reason']}"}
    done = promotion.promote(
        outcome, request, dag_run_id=dag_run_id, task=task, approver=approver, settings=s
    )
    registry.end_shadow(
        registry.client(s),
        outcome["model_name"],
        outcome["version"],
        "promoted",
        {"shadow_ended": shadow["end"], "shadow_verdict": outcome["why"]},
    )
    return done


def retire(
    verdict: dict,
    shadow: dict,
    *,
    model: str,
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """End a shadow period without promotion (``verdict``: its ``version`` and ``why``)."""
    s = settings or settings_module.get()
    version, why = verdict["version"], verdict["why"]
    registry.end_shadow(
        registry.client(s), model, version, "retired", {"shadow_ended": shadow["end"], "shadow_verdict": why}
    )
    facts = {
        "type": "shadow_retired",
        "time": _now(),
        "actor": shadow.get("actor", "monitor"),
        "dag_run_id": dag_run_id,
        "model": model,
        "version": version,
        "champion_version": shadow.get("against"),
        "reason": why,
        **({"evidence": verdict["evidence"]} if verdict.get("evidence") else {}),
    }
    end = date.fromisoformat(shadow["end"])
    first = date.fromisoformat(shadow["started"]) if shadow.get("started") else end
    promotion.announce(
        facts,
        f"{model} v{version} retired from shadow"[:100],
        f"{model} v{version} ends its shadow period without promotion: {why}. The champion stays "
        f"v{shadow.get('against')}.\n\n" + promotion.gate_lines({"gates": verdict.get("gates", [])}),
        interval=(min(first, end), end),
        task=task,
        key=f"{version}:shadow_retired",
        settings=s,
        notify_key=f"/shadow_retired_v{version}",  # a start that replaces a shadow notifies both
    )
    return {"retired": version, "why": why}
