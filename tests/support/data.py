"""Test data: valid credit application batches to spoil cell by cell, their bytes as a producer
lands them, and whole simulated days landed and ingested."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

import numpy as np
import pandas as pd

# Column order of the credit applications events feed (the target arrives in its own feed).
CREDIT_EVENT_COLUMNS = (
    "application_id",
    "application_ts",
    "age",
    "annual_income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "debt_to_income",
    "credit_score",
    "open_accounts",
    "recent_delinquencies",
    "home_ownership",
    "loan_purpose",
    "gender",
)


def credit_frame(day: date, n: int, seed: int = 0, id_prefix: str = "app") -> pd.DataFrame:
    """``n`` valid credit applications with ``application_ts`` inside ``day`` (UTC).

    Values are plain Python/numpy scalars (ints, floats, strings, ISO timestamps as text),
    so a test can overwrite any cell with a bad value before turning it into bytes.
    """
    rng = np.random.default_rng([seed, day.toordinal()])
    start = datetime.combine(day, dtime(0), tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400, n))
    income = np.round(rng.lognormal(10.8, 0.5, n), 2)
    frame = pd.DataFrame(
        {
            "application_id": [f"{id_prefix}-{day:%Y%m%d}-{i:06d}" for i in range(n)],
            "application_ts": [
                (start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds
            ],
            "age": rng.integers(18, 80, n),
            "annual_income": income,
            "employment_years": np.round(rng.uniform(0, 30, n), 1),
            "loan_amount": np.round(rng.uniform(1_000, 50_000, n), 2),
            "loan_term_months": rng.choice([12, 24, 36, 48, 60, 72, 84], n),
            "debt_to_income": np.round(rng.uniform(0, 1.2, n), 3),
            "credit_score": rng.integers(350, 840, n),
            "open_accounts": rng.integers(0, 30, n),
            "recent_delinquencies": rng.integers(0, 5, n),
            "home_ownership": rng.choice(["RENT", "OWN", "MORTGAGE", "OTHER"], n),
            "loan_purpose": rng.choice(
                [
                    "debt_consolidation",
                    "credit_card",
                    "home_improvement",
                    "car",
                    "medical",
                    "small_business",
                    "other",
                ],
                n,
            ),
            "gender": rng.choice(["F", "M"], n),
        }
    )
    return frame[list(CREDIT_EVENT_COLUMNS)].astype(object)


def credit_labels_frame(day: date, n: int, seed: int = 0, id_prefix: str = "app") -> pd.DataFrame:
    """``n`` valid label rows (application_id, outcome_ts, defaulted) observed on ``day``."""
    rng = np.random.default_rng([seed, day.toordinal(), 1])
    start = datetime.combine(day, dtime(0), tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400, n))
    return pd.DataFrame(
        {
            "application_id": [f"{id_prefix}-{day:%Y%m%d}-{i:06d}" for i in range(n)],
            "outcome_ts": [
                (start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds
            ],
            "defaulted": rng.integers(0, 2, n),
        }
    ).astype(object)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def land_bytes(settings, feed: str, day: date, name: str, data: bytes):
    """Write ``data`` as ``landing/<feed>/dt=<day>/<name>``; returns the ObjectStoragePath.

    ``name`` is not passed through ``safe_segment`` so producer markers such as ``_SUCCESS``
    can be landed too.
    """
    from include import storage

    assert "/" not in name and name not in ("", ".", "..")
    target = storage.partition("landing", feed, day, settings=settings) / name
    storage.write_bytes_atomic(target, data)
    return target


def simulate_days(contract, days, *, settings) -> None:
    """Land each day with the simulator and ingest every feed of it, as the nightly DAG does."""
    from include.ingestion.partition import ingest_partition
    from include.simulator.land import land_day

    for day in days:
        land_day(contract, day, settings=settings)
        for feed in contract.feeds():
            ingest_partition(contract, feed.name, day, settings=settings)
