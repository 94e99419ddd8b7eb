"""Assemble a training set from curated partitions, keeping only matured labels.

The window is the ``days`` partition dates ending at ``end`` (inclusive). Events come from
the curated events feed; when labels arrive separately they come from the curated label
feed up to ``end`` and are joined on the primary key. An event is labelled only when its
outcome is known by the end of ``end`` and at least ``maturity_days`` have passed since it,
so nothing the model sees comes from after the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.errors import PermanentError
from include.ingestion import commit
from include.ingestion.partition import partition_window, read_curated


class TrainingDataError(PermanentError, RuntimeError):
    """Too little or no matured data in the window; the message names the numbers."""


@dataclass
class TrainingSet:
    frame: pd.DataFrame  # events with the target column, sorted by event time
    window: tuple[date, date]
    lineage: list[dict] = field(default_factory=list)  # feed, partition, data_version, rows
    counts: dict[str, int] = field(default_factory=dict)


def _partitions(
    feed: str, days: list[date], s: settings_module.Settings, pinned: list[dict] | None
) -> tuple[list[pd.DataFrame], list[dict]]:
    """The current curated partitions, or with ``pinned`` (a model's lineage) exactly the data
    versions it names, verified by hash."""
    versions = {(e["feed"], e["partition"]): e["data_version"] for e in pinned or []}
    frames, lineage = [], []
    for day in days:
        directory = storage.partition("curated", feed, day, settings=s)
        if pinned is not None:
            version = versions.get((feed, day.isoformat()))
            if version is None:
                continue
            frame = commit.read_version(directory, version)
        else:
            report = commit.read_report(directory)
            if report is None or report["status"] != "passed":
                continue
            version, frame = report["data_version"], read_curated(feed, day, settings=s)
        frames.append(frame)
        lineage.append(
            {"feed": feed, "partition": day.isoformat(), "data_version": version, "rows": len(frame)}
        )
    return frames, lineage


def assemble(
    contract: Contract,
    end: date,
    days: int,
    *,
    min_rows: int,
    pinned: list[dict] | None = None,
    settings: settings_module.Settings | None = None,
) -> TrainingSet:
    """Labelled rows of the ``days`` partitions ending at ``end`` whose label has matured. With
    ``pinned``, a registered model's lineage, the exact training set it was built from."""
    s = settings or settings_module.get()
    if days < 1:
        raise TrainingDataError(f"training window must cover at least 1 day, got {days}")
    dates = [end - timedelta(days=n) for n in range(days - 1, -1, -1)]
    as_of: datetime = partition_window(end, s.timezone)[1]
    events_feed = contract.events_feed()
    frames, lineage = _partitions(events_feed.name, dates, s, pinned)
    if not frames:
        raise TrainingDataError(
            f"no curated {events_feed.name} partition between {dates[0]} and {end} "
            f"under {storage.describe(storage.path('curated', events_feed.name, settings=s))}"
        )
    events = pd.concat(frames, ignore_index=True)
    ts = contract.event_timestamp
    matured = events[ts] <= pd.Timestamp(as_of) - timedelta(days=contract.labels.maturity_days)
    label_feed = contract.label_feed()
    if label_feed is not None:
        label_frames, label_lineage = _partitions(label_feed.name, dates, s, pinned)
        lineage += label_lineage
        labels = (
            pd.concat(label_frames, ignore_index=True)
            if label_frames
            else pd.DataFrame(columns=list(label_feed.column_names))
        )
        labels = labels[labels[contract.labels.observed_timestamp] < pd.Timestamp(as_of)]
        # A producer may resend an outcome on a later day; the first one observed counts.
        labels = labels.sort_values(contract.labels.observed_timestamp, kind="mergesort").drop_duplicates(
            list(contract.primary_key), keep="first"
        )
        events = events.merge(
            labels[[*contract.primary_key, contract.target]], on=list(contract.primary_key), how="left"
        )
    labelled = matured & events[contract.target].notna()
    frame = events[labelled].sort_values([ts, *contract.primary_key], kind="mergesort").reset_index(drop=True)
    counts = {
        "events": len(events),
        "not_matured": int((~matured).sum()),
        "matured_without_label": int((matured & events[contract.target].isna()).sum()),
        "labelled": len(frame),
    }
    if len(frame) < min_rows:
        raise TrainingDataError(
            f"only {len(frame)} labelled rows in the window {dates[0]}..{end} (minimum {min_rows}): "
            f"{counts['events']} events, {counts['not_matured']} younger than the {contract.labels.maturity_days}-day "
            f"label maturity, {counts['matured_without_label']} matured without a label"
        )
    return TrainingSet(frame, (dates[0], end), lineage, counts)


@dataclass
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame


def time_split(
    frame: pd.DataFrame, contract: Contract, validation_share: float = 0.15, holdout_share: float = 0.15
) -> Splits:
    """Oldest rows train, then validation, the most recent slice is the holdout.

    Cuts fall between distinct event times, so equal timestamps never straddle two splits,
    and an id that appears more than once is kept only in the latest split it reaches.
    """
    if not 0 < validation_share < 1 or not 0 < holdout_share < 1 or validation_share + holdout_share >= 1:
        raise ValueError(
            f"split shares {validation_share}, {holdout_share} must be in (0, 1) and sum below 1"
        )
    ts = contract.event_timestamp
    ordered = frame.sort_values([ts, *contract.primary_key], kind="mergesort").reset_index(drop=True)
    times = ordered[ts]
    n = len(ordered)
    cut_validation = times.iloc[int(n * (1 - validation_share - holdout_share))]
    cut_holdout = times.iloc[int(n * (1 - holdout_share))]
    split = pd.Series(0, index=ordered.index)
    split[times >= cut_validation] = 1
    split[times >= cut_holdout] = 2
    latest = split.groupby([ordered[k] for k in contract.primary_key]).transform("max")
    keep = split == latest
    parts = [ordered[keep & (split == i)].reset_index(drop=True) for i in range(3)]
    if any(len(p) == 0 for p in parts):
        raise TrainingDataError(
            f"{n} rows cannot be split into train/validation/holdout with shares "
            f"{1 - validation_share - holdout_share:.2f}/{validation_share}/{holdout_share}"
        )
    return Splits(*parts)
