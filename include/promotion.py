"""What happens to a registered challenger, and to the champion afterwards.

Each decision moves the registry aliases (or deliberately does not), writes its audit events
and sends one notification, in that order, so a retried task finishes the job without doing
any of it twice: alias moves are no-ops the second time, audit writes are keyed by version
and decision, notifications by DAG run and task.
"""

from __future__ import annotations

from datetime import UTC, datetime

from include import notify, registry
from include import settings as settings_module
from include.audit import anchor as audit_anchor
from include.training.request import training_interval


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def announce(
    facts: dict, subject: str, message: str, *, interval, task: str, key: str, settings, notify_key=""
):
    """Audit ``facts`` (once per ``key``: the version and decision) and send the notification of
    the same kind (once per DAG run, task and ``notify_key``); ``interval`` is the data they concern."""
    run = facts["dag_run_id"]
    anchor = audit_anchor.record(
        facts, interval=interval, dag_run_id=run, task=task, key=key, settings=settings
    )
    end = interval[1]
    notify.publish(
        facts["type"],
        subject,
        message,
        facts={**facts, **anchor},
        key=f"{run}/{task}{notify_key}",
        day=end.date() if isinstance(end, datetime) else end,
        settings=settings,
    )


def _replaced(version) -> str | None:
    replaced = version.tags.get("replaced_version")
    return None if replaced in (None, "none") else replaced


def gate_lines(outcome: dict) -> str:
    return "\n".join(
        f"{'PASS' if g['passed'] else 'FAIL'} {g['name']}: {g['message']}" for g in outcome["gates"]
    )


def route(outcome: dict, request: dict, contract, settings=None) -> tuple[str, str | None]:
    """Where a registered challenger goes next (the task of ``weekly_retraining``), and why it
    waits for a person when it does: ``record_rejection`` (a gate failed), ``start_shadow``
    (shadow mode against a champion; changed inputs wait for a person at its end),
    ``request_approval`` (manual mode, changed inputs, or a bias alert holding automatic
    promotions) or ``promote``."""
    from include.monitoring.bias import promotion_hold
    from include.training.gates import schema_change

    if not outcome["gates_passed"]:
        return "record_rejection", None
    if request["mode"] == "shadow" and outcome["champion_version"]:
        return "start_shadow", None
    if request["mode"] == "manual":
        return "request_approval", None
    changed = schema_change(outcome["gates"])
    if changed:
        return (
            "request_approval",
            f"inputs differ from the champion's ({changed}): a person approves a schema change",
        )
    hold = promotion_hold(contract, settings=settings)
    if hold is not None:
        why = f"bias alert of {hold['day']} ({hold['dag_run_id']}): automatic promotion waits for a person"
        return "request_approval", why
    return "promote", None


def promote(
    outcome: dict,
    request: dict,
    *,
    dag_run_id: str,
    task: str,
    approver: str | None = None,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Make the challenger champion (its gates passed, and a person approved it in manual mode)."""
    s = settings or settings_module.get()
    client = registry.client(s)
    name, version = outcome["model_name"], outcome["version"]
    actor = approver or request["actor"]
    done = registry.moved_by_run(client, name, dag_run_id)
    if done is not None and done.version == version:  # a retry: the alias already moved
        replaced = _replaced(done)
    else:
        previous = registry.promote(
            client, name, version, actor=actor, reason=request["reason"], dag_run_id=dag_run_id
        )
        replaced = previous.version if previous else None
    facts = {
        "type": "promoted",
        "time": _now(),
        "actor": actor,
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "replaced_version": replaced,
        "mode": request["mode"],
        "reason": request["reason"],
        "metrics": {"roc_auc": outcome["holdout"]["roc_auc"]},
        **({"evidence": outcome["evidence"]} if outcome.get("evidence") else {}),
    }
    announce(
        facts,
        f"{name} v{version} is the new champion",
        f"{name} v{version} replaced {f'v{replaced}' if replaced else 'no earlier champion'} "
        f"({outcome.get('judged_on', 'holdout')} AUC {outcome['holdout']['roc_auc']:.4f}; "
        f"{request['mode']} promotion by {actor}).\n"
        f"Reason: {request['reason']}\n\n{gate_lines(outcome)}",
        interval=training_interval(request),
        task=task,
        key=f"{version}:promoted",
        settings=s,
    )
    return {"champion": version, "replaced": replaced, "actor": actor}


def reject(
    outcome: dict,
    request: dict,
    *,
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """A challenger that failed a gate stays registered, tagged, and is never promoted."""
    s = settings or settings_module.get()
    failed = [g["name"] for g in outcome["gates"] if not g["passed"]]
    name, version = outcome["model_name"], outcome["version"]
    facts = {
        "type": "rejected",
        "time": _now(),
        "actor": request["actor"],
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "failed_gates": failed,
        "reason": request["reason"],
        "champion_version": outcome["champion_version"],
    }
    announce(
        facts,
        f"{name} v{version} was not promoted",
        f"{name} v{version} failed {', '.join(failed)}; the champion stays "
        f"{'v' + outcome['champion_version'] if outcome['champion_version'] else 'unset'}.\n\n"
        f"{gate_lines(outcome)}",
        interval=training_interval(request),
        task=task,
        key=f"{version}:rejected",
        settings=s,
    )
    return {"rejected": version, "failed_gates": failed}


def approval_requested(
    outcome: dict,
    request: dict,
    *,
    dag_run_id: str,
    task: str,
    timeout_hours: float,
    settings: settings_module.Settings | None = None,
) -> None:
    s = settings or settings_module.get()
    name, version = outcome["model_name"], outcome["version"]
    facts = {
        "type": "approval_requested",
        "time": _now(),
        "actor": request["actor"],
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "timeout_hours": timeout_hours,
    }
    announce(
        facts,
        f"Approve {name} v{version} as champion?",
        f"Every gate passed. Approve or reject in the Airflow UI (Required Actions, DAG run "
        f"{dag_run_id}) within {timeout_hours:g} h; no answer rejects it.\n\n{gate_lines(outcome)}",
        interval=training_interval(request),
        task=task,
        key=f"{version}:approval_requested",
        settings=s,
        notify_key="/requested",
    )


def approval_answered(
    outcome: dict,
    request: dict,
    *,
    approved: bool,
    responder: str | None,
    responded_at: str,
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Record the person's answer, or that nobody answered before the timeout (a rejection)."""
    s = settings or settings_module.get()
    name, version = outcome["model_name"], outcome["version"]
    kind = "approved" if approved else "declined"
    actor = f"user:{responder}" if responder else "timeout"
    facts = {
        "type": kind,
        "time": responded_at,
        "actor": actor,
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "timed_out": responder is None,
    }
    who = f"by {responder}" if responder else "by nobody before the timeout"
    announce(
        facts,
        f"{name} v{version} {kind} {who}"[:100],
        f"{name} v{version} was {kind} {who}."
        + ("" if approved else " The promotion was not made: the champion stays."),
        interval=training_interval(request),
        task=task,
        key=f"{version}:{kind}",
        settings=s,
        notify_key="/answered",
    )
    return facts


def approval_refused(
    outcome: dict,
    request: dict,
    *,
    responder: str,
    why: str,
    dag_run_id: str,
    task: str,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Record an approval that does not count (four eyes: the requester approving their own
    promotion, or a user who is not an approver); the request stays open for another approver."""
    s = settings or settings_module.get()
    name, version = outcome["model_name"], outcome["version"]
    facts = {
        "type": "approval_refused",
        "time": _now(),
        "actor": f"user:{responder}",
        "dag_run_id": dag_run_id,
        "model": name,
        "version": version,
        "reason": why,
    }
    announce(
        facts,
        f"{name} v{version}: approval by {responder} refused"[:100],
        f"{responder} approved {name} v{version}, which does not count: {why}. The request stays "
        "open for another approver until its deadline.",
        interval=training_interval(request),
        task=task,
        key=f"{version}:approval_refused:{responder}",
        settings=s,
        notify_key=f"/refused/{responder}",
    )
    return facts


def rollback(
    name: str,
    target: str,
    *,
    reason: str,
    actor: str,
    dag_run_id: str,
    interval: tuple[datetime, datetime],
    task: str,
    evidence: dict | None = None,
    settings: settings_module.Settings | None = None,
) -> dict:
    """Re-point ``champion`` to ``target`` (a version or ``previous``) and say who and why;
    ``interval`` is the data the decision concerns (the rollback run's interval, or the cohort an
    automatic rollback judged); ``evidence`` is what a monitor measured to decide it."""
    s = settings or settings_module.get()
    if not reason.strip():
        raise registry.RegistryError("a rollback needs a reason: say why the champion is replaced")
    client = registry.client(s)
    done = registry.moved_by_run(client, name, dag_run_id)
    if done is not None:  # a retry: this rollback already happened
        replaced_version, resolved = _replaced(done), done.version
    else:
        replaced, champion = registry.rollback(
            client, name, target, actor=actor, reason=reason, dag_run_id=dag_run_id
        )
        replaced_version, resolved = (replaced.version if replaced else None), champion.version
    facts = {
        "type": "rollback",
        "time": _now(),
        "actor": actor,
        "dag_run_id": dag_run_id,
        "model": name,
        "version": resolved,
        "replaced_version": replaced_version,
        "target": target,
        "reason": reason,
        **({"evidence": evidence} if evidence else {}),
    }
    announce(
        facts,
        f"{name} rolled back to v{resolved}",
        f"{actor} rolled {name} back from v{replaced_version} to v{resolved}.\nReason: {reason}",
        interval=interval,
        task=task,
        key=f"{resolved}:rollback",
        settings=s,
    )
    return {"champion": resolved, "replaced": replaced_version, "actor": actor}
