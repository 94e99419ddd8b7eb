"""The live window an hourly check judges: the capture hours ``[end - look-back, end)``.

The scoring side logs every scored application to ``capture/<dataset>/dt=<day>/hour=<HH>/``
(the simulator does it by default). A run's window is derived from its data interval, never
from the clock, so a backfilled hour reads exactly what the original run read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from include import settings as settings_module
from include import storage


@dataclass(frozen=True)
class Window:
    dataset: str
    start: datetime
    end: datetime
    frame: pd.DataFrame = field(repr=False)
    hours_read: list[str] = field(default_factory=list)
    hours_missing: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.frame)


def bounds(interval_end: datetime, lookback_hours: int) -> tuple[datetime, datetime]:
    """The window of a run whose data interval ends at ``interval_end``: whole UTC hours up to it."""
    end = interval_end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=lookback_hours), end


def hours(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start).total_seconds() // 3600)
    return [start + timedelta(hours=n) for n in range(count)]


def hour_path(dataset: str, hour_start: datetime, settings: settings_module.Settings | None = None):
    return storage.path(
        "capture",
        dataset,
        f"dt={hour_start.date().isoformat()}",
        f"hour={hour_start.hour:02d}",
        "capture.parquet",
        settings=settings,
    )


def read(
    dataset: str, start: datetime, end: datetime, settings: settings_module.Settings | None = None
) -> Window:
    """Every capture row of the hours in ``[start, end)``; missing hours are listed, not errors."""
    import pyarrow.parquet as pq

    frames, read_hours, missing = [], [], []
    for hour in hours(start, end):
        path = hour_path(dataset, hour, settings)
        label = hour.strftime("%Y-%m-%dT%H:00Z")
        if not storage.exists(path):
            missing.append(label)
            continue
        frames.append(pq.read_table(io.BytesIO(storage.read_bytes(path))).to_pandas())
        read_hours.append(label)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Window(dataset, start, end, frame, read_hours, missing)


def scoring_version(window: Window) -> str | None:
    """The model version that scored most rows of the window (its reference is the one to use)."""
    if "model_version" not in window.frame or window.frame["model_version"].dropna().empty:
        return None
    return str(window.frame["model_version"].dropna().astype(str).value_counts().idxmax())
