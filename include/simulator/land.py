"""Write the simulator's frames into storage exactly as a producer would.

Only ``include.storage`` touches storage, so a file:// root and an s3:// root behave the
same. Serialisation is byte-deterministic: the same seed and day always give the same
bytes, which lets ingestion's data versions and the tests compare runs.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from include import storage
from include.contract import Contract
from include.settings import Settings
from include.simulator import breast_cancer, card_defaults, census_income, credit, defects
from include.simulator.credit import Scorer, as_utc

DEFECT_STREAM = 9001  # RNG stream of the injected defects, apart from the generators' streams
FLOAT_FORMAT = "%.12g"  # enough digits for every value we produce, and no trailing zeros


# --------------------------------------------------------------------- serialisation
def _is_timestamp(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype)


def _as_utc_series(series: pd.Series) -> pd.Series:
    return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")


def _iso_utc(series: pd.Series) -> pd.Series:
    """'2026-11-02T13:45:07Z'; fractions of a second only when there are any."""
    utc = _as_utc_series(series)
    fractional = (utc.dt.microsecond.fillna(0) != 0).any()
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fractional else "%Y-%m-%dT%H:%M:%SZ")


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with '\\n' line ends, ISO UTC timestamps, empty fields for nulls and
    integers without '.0' (nullable Int64 prints 3, never 3.0)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if _is_timestamp(column):
            out[name] = _iso_utc(column)
        elif pd.api.types.is_integer_dtype(column.dtype):
            out[name] = column.astype("Int64")
    return out.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT).encode("utf-8")


def _arrow_field(field: pa.Field) -> pa.Field:
    if pa.types.is_null(field.type):  # an all-null (or empty) text column
        return field.with_type(pa.string())
    if pa.types.is_timestamp(field.type):
        return field.with_type(pa.timestamp("us", tz="UTC"))
    return field


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """zstd Parquet with timestamp[us, tz=UTC] and text columns typed even when empty."""
    out = frame.copy()
    for name in out.columns:
        if _is_timestamp(out[name]):
            out[name] = _as_utc_series(out[name])
    table = pa.Table.from_pandas(out, preserve_index=False)
    schema = pa.schema([_arrow_field(f) for f in table.schema], metadata=table.schema.metadata)
    buffer = io.BytesIO()
    pq.write_table(table.cast(schema), buffer, compression="zstd")
    return buffer.getvalue()


SERIALISERS: dict[str, Callable[[pd.DataFrame], bytes]] = {"csv": to_csv_bytes, "parquet": to_parquet_bytes}


# ------------------------------------------------------------------------ generators
def onset_of(settings: Settings) -> datetime | None:
    """The scenario onset from settings (ISO text; naive means UTC)."""
    return None if not settings.simulator_onset else as_utc(datetime.fromisoformat(settings.simulator_onset))


def _scenario(settings: Settings) -> dict:
    """The seeded generators' common arguments: seed, scenario and its onset."""
    return {
        "seed": settings.simulator_seed,
        "scenario": settings.simulator_scenario,
        "onset": onset_of(settings),
    }


def _credit_day(contract: Contract, day: date, settings: Settings) -> dict[str, pd.DataFrame]:
    common = {"rows": settings.simulator_rows_per_day, **_scenario(settings)}
    return {
        contract.name: credit.applications(day, **common),
        contract.label_feed_name: credit.outcomes(day, maturity_days=contract.labels.maturity_days, **common),
    }


def _breast_cancer_day(contract: Contract, day: date, settings: Settings) -> dict[str, pd.DataFrame]:
    # A fixed table cut into small batches: the credit rows-per-day setting does not apply.
    return {contract.name: breast_cancer.batch(day)}


def _one_feed_day(generate):
    """A day generator for a dataset with one feed: ``generate(day, rows=..., seed=...)``."""

    def day_frames(contract: Contract, day: date, settings: Settings) -> dict[str, pd.DataFrame]:
        return {contract.name: generate(day, rows=settings.simulator_rows_per_day, **_scenario(settings))}

    return day_frames


def _credit_capture(hour_start: datetime, settings: Settings, scorer: Scorer | None) -> pd.DataFrame:
    return credit.capture(
        hour_start,
        rows_per_day=settings.simulator_rows_per_day,
        scorer=scorer,
        scoring_calls_per_hour=settings.simulator_scoring_calls_per_hour,
        **_scenario(settings),
    )


def _breast_cancer_capture(hour_start: datetime, settings: Settings, scorer: Scorer | None) -> pd.DataFrame:
    return breast_cancer.capture(hour_start, scorer=scorer)


def _one_feed_capture(capture):
    """A capture generator for a seeded one-feed dataset: ``capture(hour, rows_per_day=..., ...)``."""

    def hour_frame(hour_start: datetime, settings: Settings, scorer: Scorer | None) -> pd.DataFrame:
        return capture(
            hour_start, rows_per_day=settings.simulator_rows_per_day, scorer=scorer, **_scenario(settings)
        )

    return hour_frame


DAY_GENERATORS = {
    "credit_applications": _credit_day,
    "breast_cancer": _breast_cancer_day,
    "card_defaults": _one_feed_day(card_defaults.statements),
    "census_income": _one_feed_day(census_income.records),
}
CAPTURE_GENERATORS = {
    "credit_applications": _credit_capture,
    "breast_cancer": _breast_cancer_capture,
    "card_defaults": _one_feed_capture(card_defaults.capture),
    "census_income": _one_feed_capture(census_income.capture),
}


def _generator(registry: dict, contract: Contract):
    try:
        return registry[contract.name]
    except KeyError:
        raise ValueError(
            f"the simulator has no generator for dataset {contract.name!r}; "
            f"it knows {', '.join(sorted(registry))}"
        ) from None


# ---------------------------------------------------------------------------- landing
def _write(path, data: bytes) -> str:
    storage.write_bytes_atomic(path, data)
    return storage.describe(path)


def land_day(contract: Contract, day: date, *, settings: Settings) -> list[str]:
    """Land one file per feed of ``contract`` for ``day``; return their URIs.

    The events feed carries the producer's occasional defects (MLOPS_SIMULATOR_DEFECT_RATE). A
    day is landed once, as a producer exports it once: a feed whose landing partition already
    holds a data file keeps it (a rerun, a backfill, or services started with other simulator
    settings would otherwise rewrite the export the curated data came from)."""
    frames = _generator(DAY_GENERATORS, contract)(contract, day, settings)
    events = contract.events_feed()
    rng = np.random.default_rng([settings.simulator_seed, day.toordinal(), DEFECT_STREAM])
    frames[events.name] = defects.inject(frames[events.name], events, rng, settings.simulator_defect_rate)
    fmt = settings.simulator_format
    written = []
    for feed in contract.feeds():
        directory = storage.partition("landing", feed.name, day, settings=settings)
        landed_before = [f for f in storage.list_files(directory) if not f.name.startswith(("_", "."))]
        if landed_before:
            written += [storage.describe(f) for f in landed_before]
            continue
        # As the producer exports it: the headers are the contract's source names.
        landed = frames[feed.name].rename(columns={c.name: c.source for c in feed.columns})
        if fmt == "parquet" and contract.null_values:  # a Parquet writer's missing value is a null
            landed = landed.replace(list(contract.null_values), None)
        written.append(_write(directory / f"{feed.name}-{day.isoformat()}.{fmt}", SERIALISERS[fmt](landed)))
    return written


def land_capture_hour(
    contract: Contract, hour_start: datetime, *, settings: Settings, scorer: Scorer | None = None
) -> str:
    """Land the scoring service's capture of one hour as Parquet; return its URI."""
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    frame = _generator(CAPTURE_GENERATORS, contract)(start, settings, scorer)
    directory = storage.path(
        "capture",
        contract.name,
        f"dt={start.date().isoformat()}",
        f"hour={start.hour:02d}",
        settings=settings,
    )
    return _write(directory / "capture.parquet", to_parquet_bytes(frame))


__all__ = ["land_day", "land_capture_hour", "to_csv_bytes", "to_parquet_bytes", "onset_of"]
