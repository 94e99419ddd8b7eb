"""Does the registry's ``champion`` alias match what the audit trail says made it champion?

Only the package's promotions and rollbacks move ``champion``, and each is audited. A champion
that differs from the version of the model's last ``promoted`` or ``rollback`` event was moved
behind the package's back (or its event was lost): that is alerted once per discrepancy, audited
and the check fails. A promotion caught between its alias move and its audit write is told apart
by the run that moved the alias: while that run is still going, nothing is concluded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from include import audit, registry
from include import settings as settings_module
from include.contract import Contract
from include.errors import PermanentError

CHAMPION_MOVES = ("promoted", "rollback")


class UnexplainedAlias(PermanentError, RuntimeError):
    """The champion alias points where no audited promotion or rollback put it."""


@dataclass(frozen=True)
class Finding:
    model: str
    champion: str | None  # the version the registry serves
    audited: str | None  # the version the trail's last promotion or rollback made champion
    audited_event: dict | None
    pending_run: str | None = None  # the run that moved the alias and is still running

    @property
    def explained(self) -> bool:
        return self.champion == self.audited

    def describe(self) -> str:
        alias = f"{self.model}@{registry.CHAMPION}"
        served = f"v{self.champion}" if self.champion else "unset"
        if self.audited_event is None:
            said = "the audit trail records no promotion or rollback"
        else:
            e = self.audited_event
            said = (
                f"the audit trail's last {e['type']} (entry {e['seq']}, run {e['dag_run_id']}, "
                f"{e['time']}) made v{self.audited} champion"
            )
        if self.explained:
            return f"{alias} is {served}, as the audit trail says"
        return f"{alias} is {served}, but {said}: the alias was moved outside the package's DAGs"


def check(
    name: str,
    *,
    run_in_progress: Callable[[str], bool],
    settings: settings_module.Settings | None = None,
) -> Finding:
    """Compare ``name``'s champion with its audit stream. ``run_in_progress(run_id)`` says
    whether the DAG run that tagged the champion as its promotion is still running."""
    s = settings or settings_module.get()
    client = registry.client(s)
    champion = registry.by_alias(client, name, registry.CHAMPION) if registry.exists(client, name) else None
    event = audit.latest(name, CHAMPION_MOVES, settings=s)
    finding = Finding(
        name, champion.version if champion else None, event["version"] if event else None, event
    )
    mover = champion.tags.get("promoted_in_run") if champion else None
    if not finding.explained and mover and mover != "none" and run_in_progress(mover):
        return Finding(**{**finding.__dict__, "pending_run": mover})
    return finding


def alert_unexplained(
    contract: Contract,
    finding: Finding,
    *,
    dag_run_id: str,
    interval: tuple[datetime, datetime],
    settings: settings_module.Settings | None = None,
) -> None:
    """Audit and notify the discrepancy once (an hourly check of the same state stays quiet),
    then fail: the registry cannot be trusted until someone explains or undoes the move."""
    from include.monitoring.alerts import alert_once

    s = settings or settings_module.get()
    facts = {
        "type": "alias_unexplained",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "actor": "monitor",
        "dag_run_id": dag_run_id,
        "model": finding.model,
        "alias": registry.CHAMPION,
        "version": finding.champion or "unset",
        "audited_version": finding.audited,
        "audited_seq": finding.audited_event["seq"] if finding.audited_event else None,
    }
    alert_once(
        contract,
        f"alias-{finding.champion or 'unset'}-audited-{finding.audited or 'none'}",
        kind="registry_unexplained",
        subject=f"{finding.model}: champion moved outside the audited promotions",
        message=finding.describe() + "\nRoll back to the audited version (model_rollback) or "
        "find who moved it in the MLflow server's access log.",
        facts=facts,
        interval=interval,
        dag_run_id=dag_run_id,
        task="reconcile",
        audit_key=f"alias_unexplained:{finding.champion}:{finding.audited}",
        settings=s,
    )
    raise UnexplainedAlias(finding.describe())
