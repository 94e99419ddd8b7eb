"""Rebuild the exact training set of a registered model version and verify it.

The version's MLflow run holds ``lineage.json`` (every curated partition and data version it was
trained on) and its tags the window and the lineage digest. The rebuild reads exactly those
data versions, checking each file's sha256, whatever was re-ingested since.

    python -m include.training.rebuild <dataset> <version>
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from include import contract as contract_module
from include import registry
from include import settings as settings_module
from include.errors import MlopsError
from include.training.dataset import TrainingSet, assemble


class LineageError(MlopsError, RuntimeError):
    """A version's recorded lineage is missing or does not match its digest."""


def lineage_of(mlflow_client, version: registry.Version) -> list[dict]:
    """The version's ``lineage.json``, checked against its ``lineage_digest`` tag."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow_client.download_artifacts(version.run_id, "lineage.json", tmp)
        except Exception as exc:  # MLflow raises several types for a missing artifact
            raise LineageError(f"{version.uri}: run {version.run_id} has no lineage.json ({exc})") from exc
        lineage = json.loads(Path(path).read_text())
    digest = hashlib.sha256(json.dumps(lineage, sort_keys=True).encode()).hexdigest()[:16]
    if digest != version.tags.get("lineage_digest"):
        raise LineageError(
            f"{version.uri}: lineage.json hashes to {digest}, the version's lineage_digest tag says "
            f"{version.tags.get('lineage_digest')}"
        )
    return lineage


def rebuild(
    contract: contract_module.Contract, version: str, settings: settings_module.Settings | None = None
) -> TrainingSet:
    """The training set ``version`` of ``contract``'s model was trained on, verified by hash."""
    s = settings or settings_module.get()
    client = registry.client(s)
    found = registry.get(client, contract.name, version)
    lineage = lineage_of(client, found)
    first, last = (date.fromisoformat(d) for d in found.tags["window"].split(".."))
    return assemble(contract, last, (last - first).days + 1, min_rows=0, pinned=lineage, settings=s)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m include.training.rebuild <dataset> <version>", file=sys.stderr)
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per download otherwise
    s = settings_module.get()
    try:
        training = rebuild(contract_module.load(argv[0], s.contracts_dir), argv[1], s)
    except MlopsError as exc:
        print(f"rebuild failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"{argv[0]} v{argv[1]}: {len(training.lineage)} data versions verified, window "
        f"{training.window[0]}..{training.window[1]}, {training.counts['labelled']} labelled rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
