"""The MLflow model registry, with aliases only (never stages).

``champion`` is what production scores with (``models:/<name>@champion``); ``challenger``
is the newest registered candidate; ``previous_champion`` keeps the replaced version one
alias away, so a rollback is a single alias move; ``shadow`` is a candidate scoring the live
traffic beside the champion without deciding anything (include/shadow/). Every move is also written as version
tags (who, why, which version it replaced), the same facts the audit trail records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from include import settings as settings_module
from include.errors import MlopsError, PermanentError

CHAMPION, CHALLENGER, PREVIOUS, SHADOW = "champion", "challenger", "previous_champion", "shadow"
GATES_TAG = "gates_passed"  # every gate passed: may be promoted
HARD_GATES_TAG = (
    "hard_gates_passed"  # the gates that do not depend on the champion passed: may be rolled back to
)


class RegistryError(MlopsError, RuntimeError):
    """The registry refused or could not be reached; the message names the URI and model."""


class RegistryUnreachable(RegistryError, PermanentError):
    """No tracking server answers at the configured URI: a retry minutes later rarely finds one,
    so the task fails at once, naming the URI, instead of waiting out MLflow's retries twice."""


def _probe(settings: settings_module.Settings) -> None:
    """Fail in seconds when an http(s) tracking server does not answer (refused, unknown host,
    dropped, or hung), before MLflow's client retries and waits on it. Any HTTP answer counts,
    an error status included: a proxy asking for credentials is a server that answers."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(settings.mlflow_tracking_uri)
    if parts.scheme not in ("http", "https"):
        return
    shown = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
    timeout = settings.mlflow_connect_timeout_seconds
    try:
        urllib.request.urlopen(f"{shown.rstrip('/')}/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RegistryUnreachable(
            f"MLflow tracking server at {shown} is unreachable ({reason}); check MLFLOW_TRACKING_URI and that the "
            f"server runs (probed for {timeout:g} s: MLOPS_MLFLOW_CONNECT_TIMEOUT_SECONDS)"
        ) from None


@dataclass(frozen=True)
class Version:
    name: str
    version: str
    run_id: str | None
    tags: dict

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def client(settings: settings_module.Settings | None = None):
    """An MlflowClient on the configured tracking and registry store."""
    from mlflow import MlflowClient

    s = settings or settings_module.get()
    settings_module.mlflow_http_limits()
    settings_module.mlflow_credentials(s)
    _probe(s)
    uri = s.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def use(settings: settings_module.Settings | None = None) -> None:
    """Point MLflow's fluent API (log_model, load_model, register_model) at the configured
    store. Both URIs: an unset registry URI follows the tracking one, a set one does not."""
    import mlflow

    s = settings or settings_module.get()
    settings_module.mlflow_http_limits()
    settings_module.mlflow_credentials(s)
    _probe(s)
    uri = s.mlflow_tracking_uri
    with settings_module.environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)


def call(mlflow_client, what: str, fn, *args, **kwargs):
    """Run an MLflow call; failures become a RegistryError naming the registry URI and ``what``."""
    from mlflow.exceptions import MlflowException

    try:
        return fn(*args, **kwargs)
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow registry at {mlflow_client._registry_uri}: cannot {what}: {exc.message}"
        ) from exc
    except (ConnectionError, OSError) as exc:
        raise RegistryError(
            f"MLflow registry at {mlflow_client._registry_uri} is unreachable while trying to {what}: {exc}"
        ) from exc


def _version(mv) -> Version:
    return Version(mv.name, str(mv.version), mv.run_id, dict(mv.tags or {}))


def by_alias(mlflow_client, name: str, alias: str) -> Version | None:
    from mlflow.exceptions import MlflowException

    try:
        return _version(mlflow_client.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        # MLflow's basic-auth app answers 403, not 404, for an alias of a model that does not exist
        if exc.error_code == "PERMISSION_DENIED" and not exists(mlflow_client, name):
            return None
        raise RegistryError(
            f"MLflow registry at {mlflow_client._registry_uri}: cannot read alias "
            f"{name}@{alias}: {exc.message}"
        ) from exc


def get(mlflow_client, name: str, version: str) -> Version:
    return _version(
        call(
            mlflow_client,
            f"read version {version} of {name}",
            mlflow_client.get_model_version,
            name,
            str(version),
        )
    )


def moved_by_run(mlflow_client, name: str, dag_run_id: str) -> Version | None:
    """The champion, if this DAG run is what made it champion (so a retry does not move it again)."""
    current = by_alias(mlflow_client, name, CHAMPION)
    return current if current is not None and current.tags.get("promoted_in_run") == dag_run_id else None


def set_challenger(
    mlflow_client, name: str, version: str, gates_passed: bool, hard_gates_passed: bool | None = None
) -> None:
    """Point ``challenger`` at the version, then tag its gate verdicts. ``gates_passed`` comes
    last: it marks a registration as complete (see ``registered_by_run``) and ``promote`` checks it."""
    set_alias(mlflow_client, name, CHALLENGER, version)
    hard = gates_passed if hard_gates_passed is None else hard_gates_passed
    tag(
        mlflow_client,
        name,
        version,
        {HARD_GATES_TAG: str(hard).lower(), GATES_TAG: str(gates_passed).lower()},  # in this order
    )


def registered_by_run(mlflow_client, name: str, dag_run_id: str) -> list[Version]:
    """Versions of ``name`` registered by one DAG run (tag ``dag_run_id``), oldest first."""
    if not exists(mlflow_client, name):
        return []
    quoted = dag_run_id.replace("'", "\\'")
    found = call(
        mlflow_client,
        f"search versions of {name} by DAG run",
        mlflow_client.search_model_versions,
        f"name = '{name}' and tags.dag_run_id = '{quoted}'",
    )
    return sorted((_version(mv) for mv in found), key=lambda v: int(v.version))


def exists(mlflow_client, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
        return True
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise RegistryError(
            f"MLflow registry at {mlflow_client._registry_uri}: cannot read model {name}: {exc.message}"
        ) from exc


def discard(mlflow_client, name: str, version: str) -> None:
    """Delete a version whose registration did not complete, so no alias or caller finds half of it."""
    call(
        mlflow_client,
        f"delete the incomplete {name} v{version}",
        mlflow_client.delete_model_version,
        name,
        str(version),
    )


def promote(
    mlflow_client,
    name: str,
    version: str,
    *,
    actor: str,
    reason: str,
    require: str = GATES_TAG,
    dag_run_id: str | None = None,
) -> Version | None:
    """Point ``champion`` at ``version``; the replaced champion moves to ``previous_champion``.

    Only a version tagged ``require``=true (every gate; the hard gates for a rollback) can
    become champion. Returns the replaced version.
    """
    target = get(mlflow_client, name, version)
    verdict = target.tags.get(require, target.tags.get(GATES_TAG) if require == HARD_GATES_TAG else None)
    if verdict != "true":
        what = "promotion gates" if require == GATES_TAG else "hard gates"
        raise RegistryError(
            f"{name} v{version} did not pass the {what} ({require}={verdict!r}); it cannot become {CHAMPION}"
        )
    previous = by_alias(mlflow_client, name, CHAMPION)
    if previous is not None and previous.version == target.version:
        return None
    # Order matters: the old champion stays reachable before the champion alias moves.
    if previous is not None:
        set_alias(mlflow_client, name, PREVIOUS, previous.version)
        tag(mlflow_client, name, previous.version, {"replaced_by": target.version})
    set_alias(mlflow_client, name, CHAMPION, target.version)
    tag(
        mlflow_client,
        name,
        target.version,
        {
            "promoted_by": actor,
            "promotion_reason": reason,
            "promoted_in_run": dag_run_id or "none",
            "replaced_version": previous.version if previous else "none",
        },
    )
    return previous


def rollback(
    mlflow_client, name: str, target: str, *, actor: str, reason: str, dag_run_id: str | None = None
) -> tuple[Version | None, Version]:
    """Re-point ``champion`` to ``target`` (a version number or ``previous``) after checking it
    exists and once passed the gates. Returns (replaced champion, new champion)."""
    if target == "previous":
        resolved = by_alias(mlflow_client, name, PREVIOUS)
        if resolved is None:
            raise RegistryError(f"{name} has no {PREVIOUS} alias: there is nothing to roll back to")
    else:
        if not str(target).isdigit():
            raise RegistryError(f"rollback target {target!r} must be a version number or 'previous'")
        resolved = get(mlflow_client, name, str(target))
    current = by_alias(mlflow_client, name, CHAMPION)
    if current is not None and current.version == resolved.version:
        raise RegistryError(f"{name} v{resolved.version} is already {CHAMPION}; nothing to roll back")
    promote(
        mlflow_client,
        name,
        resolved.version,
        actor=actor,
        reason=f"rollback: {reason}",
        require=HARD_GATES_TAG,
        dag_run_id=dag_run_id,
    )
    return current, get(mlflow_client, name, resolved.version)


def set_alias(mlflow_client, name: str, alias: str, version: str) -> None:
    call(
        mlflow_client,
        f"set {name}@{alias}",
        mlflow_client.set_registered_model_alias,
        name,
        alias,
        str(version),
    )


def tag(mlflow_client, name: str, version: str, tags: dict[str, str]) -> None:
    """Set ``tags`` on the version, one after the other in the dict's order."""
    for key, value in tags.items():
        call(
            mlflow_client,
            f"tag {name} v{version}",
            mlflow_client.set_model_version_tag,
            name,
            str(version),
            key,
            str(value),
        )


def start_shadow(mlflow_client, name: str, version: str, tags: dict[str, str]) -> None:
    """Tag ``version``'s shadow period (``shadow_status``=running last), then point ``shadow`` at it."""
    tag(mlflow_client, name, version, {**tags, "shadow_status": "running"})
    set_alias(mlflow_client, name, SHADOW, version)


def end_shadow(mlflow_client, name: str, version: str, status: str, tags: dict[str, str]) -> None:
    """Tag how ``version``'s shadow period ended, then remove ``shadow`` if it still points there."""
    tag(mlflow_client, name, version, {**tags, "shadow_status": status})
    current = by_alias(mlflow_client, name, SHADOW)
    if current is not None and current.version == str(version):
        call(
            mlflow_client,
            f"remove {name}@{SHADOW}",
            mlflow_client.delete_registered_model_alias,
            name,
            SHADOW,
        )


ANCHOR_TAG = "audit_anchor."  # audit_anchor.<seq> = the sha256 of audit entry <seq> (include/audit/anchor.py)


def write_anchor(mlflow_client, name: str, version: str, seq: int, digest: str) -> None:
    """Record on the version that entry ``seq`` of ``name``'s audit stream hashes to ``digest``.
    One tag per entry, so every anchor a version ever received is kept."""
    tag(mlflow_client, name, version, {f"{ANCHOR_TAG}{seq}": digest})


def _paged(mlflow_client, what: str, fn, *args):
    token = None
    while True:
        page = call(mlflow_client, what, fn, *args, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def model_names(mlflow_client) -> list[str]:
    return [
        m.name
        for m in _paged(mlflow_client, "list registered models", mlflow_client.search_registered_models)
    ]


def read_anchors(mlflow_client, name: str) -> list[tuple[str, int, str]]:
    """Every audit anchor on ``name``'s versions: (version, entry seq, sha256), by seq then version."""
    quoted = name.replace("'", "\\'")
    found = []
    for mv in _paged(
        mlflow_client,
        f"read the versions of {name}",
        mlflow_client.search_model_versions,
        f"name = '{quoted}'",
    ):
        for key, value in (mv.tags or {}).items():
            seq = key.removeprefix(ANCHOR_TAG)
            if key.startswith(ANCHOR_TAG) and seq.isdigit():
                found.append((str(mv.version), int(seq), value))
    return sorted(found, key=lambda a: (a[1], int(a[0])))
