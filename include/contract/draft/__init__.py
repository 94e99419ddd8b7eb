"""Draft a contract from landed files (``python -m include.contract draft PATH --name NAME``).

A landed file, or a folder of them at any depth (CSV read as text, as ingestion reads it;
Parquet with its own types; both optionally gzip-compressed), is profiled column by column: the
dtype its values fit (judged by ingestion's own converter, ``include.ingestion.coerce``), the
range, the levels of a category with their counts, the null rate per batch, and the markers a
producer writes for a missing value (``?``, ``NA``, ``-``...). The flags name the roles; the
rest is guessed, and every guess a person must confirm is marked ``CHECK`` in the YAML. A
column it cannot place (mixed values that fit no dtype, no value at all) is listed at the top
and returned in ``Draft.unplaced``; it is declared as text outside the model, so the drafted
contract still ingests the files it was drafted from.

Reading the files is ``sample``, one column's profile ``profiling``, the key ``keys``, the other
decisions ``plan``, the YAML ``render`` (with ``yaml_text`` for scalars and comments).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from include.contract import _NAME, ContractError, parse, suggest_name
from include.contract.draft.errors import DraftError
from include.contract.draft.plan import Plan, check_headers
from include.contract.draft.profiling import MARKERS, profile
from include.contract.draft.render import render
from include.contract.draft.sample import read_sample


@dataclass
class Draft:
    text: str  # the YAML contract
    unplaced: list[str]  # "header: why" for each column it could not place
    warnings: list[str]  # what a person must look at besides the CHECK comments

    @property
    def messages(self) -> list[str]:
        return [f"could not place column {u}" for u in self.unplaced] + self.warnings


def draft(
    path: Path | str,
    name: str,
    *,
    target: str | None = None,
    favorable: str | None = None,
    timestamp: str | None = None,
    ids: list[str] | None = None,
    protected: list[str] | None = None,
    labels: Path | str | None = None,
    timezone: str = "UTC",
) -> Draft:
    """Draft the contract ``name`` from the files at ``path`` (and a separate label feed at
    ``labels``). Raises DraftError when the flags or the files do not allow one."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DraftError(
            f"--name {name!r} is not a lower-case identifier; use e.g. {suggest_name(str(name))}"
        )
    if favorable not in (None, "negative", "positive"):
        raise DraftError(f"--favorable {favorable!r}: give negative or positive")
    sample = read_sample(path)
    check_headers(sample.headers, str(path))
    label_sample = read_sample(labels) if labels is not None else None
    if label_sample is not None:
        check_headers(label_sample.headers, str(labels))
    plan = Plan(name, Path(path), sample, label_sample, favorable, timezone)
    plan.decide(target, timestamp, ids or [], protected or [], labels)
    text = render(plan)
    _loads(text, name)
    return Draft(text, plan.unplaced, plan.warnings)


def _loads(text: str, name: str) -> None:
    """The draft must load as it is; a failure here is a bug in the draft, not in the data."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{name}.yaml"
        target.write_text(text, encoding="utf-8")
        try:
            parse(target)
        except ContractError as exc:
            raise RuntimeError(f"the drafted contract does not load ({exc}); the draft was:\n{text}") from exc


__all__ = ["Draft", "DraftError", "MARKERS", "draft", "profile", "read_sample"]
