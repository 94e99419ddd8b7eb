"""What a window is compared with: the reference profile logged with a registered model version
(never the training data itself), and which version is the champion."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from include import registry
from include import settings as settings_module
from include.drift.profile import Profile


@lru_cache(maxsize=64)
def _text(tracking_uri: str, name: str, version: str, path: str, required: bool) -> tuple[str, str | None]:
    """(run id of ``name`` v``version``, the text of its artifact ``path``); the text is None when
    the artifact is absent and not ``required`` (a required one fails, naming the run)."""
    settings = settings_module.load({"MLFLOW_TRACKING_URI": tracking_uri})
    client = registry.client(settings)
    found = registry.get(client, name, version)
    if not required:
        folder, _, _ = path.rpartition("/")
        listed = registry.call(
            client,
            f"list the artifacts of {name} v{version}",
            client.list_artifacts,
            found.run_id,
            folder or None,
        )
        if path not in {a.path for a in listed}:
            return found.run_id, None
    local = registry.call(
        client,
        f"read {path} of {name} v{version} (run {found.run_id})",
        client.download_artifacts,
        found.run_id,
        path,
    )
    return found.run_id, Path(local).read_text()


@lru_cache(maxsize=8)
def _reference(tracking_uri: str, name: str, version: str) -> tuple[Profile, str, list[dict]]:
    run_id, profile = _text(tracking_uri, name, version, "reference_profile.json", True)
    _, lineage = _text(tracking_uri, name, version, "lineage.json", True)
    return Profile.from_dict(json.loads(profile)), run_id, json.loads(lineage)


def reference(settings: settings_module.Settings, name: str, version: str) -> tuple[Profile, str, list[dict]]:
    """The reference profile logged with a registered version, its run id and its lineage."""
    return _reference(settings.mlflow_tracking_uri, name, str(version))


def champion_version(settings: settings_module.Settings, name: str) -> str | None:
    current = registry.by_alias(registry.client(settings), name, registry.CHAMPION)
    return current.version if current else None


def version_artifact(settings: settings_module.Settings, name: str, version: str, path: str):
    """A JSON artifact logged with a registered version, or None when that version has none
    (versions registered before the monitor that reads it existed)."""
    _, text = _text(settings.mlflow_tracking_uri, name, str(version), path, False)
    return None if text is None else json.loads(text)
