"""Synthetic monthly card statements laid out as the public "default of credit card clients"
export (Taiwan, 2005: ``ID``, ``LIMIT_BAL``, ``SEX``, ``PAY_0``, ``BILL_AMT1``, ...,
``default.payment.next.month``), which arrives with upper-case, dotted and spaced headers.

It is the package's second credit dataset and its check that nothing assumes the simulator's
credit applications: whole-number features with no missing value anywhere, categories with
numeric codes (education, marriage, and sex as the protected attribute), a bool, and the
outcome inline. Frames use the contract's names; ``include.simulator.land`` writes the headers
as the contract's ``source:`` keys name them.

Pure and seeded like ``credit``: (seed, day or hour ordinal, stream) picks every random draw.
Scenarios: ``stable``, and ``income_shift``, where the issuer raises credit limits by half
from the onset (balances follow), the drift the monitor must catch.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from include.simulator.credit import Scorer, _after_onset, _rng, _utc_seconds, as_utc, hour_slice, request_log

FEATURES = (
    "limit_bal",
    "education",
    "marriage",
    "age",
    "pay_0",
    "pay_2",
    "bill_amt1",
    "bill_amt2",
    "pay_amt1",
    "pay_amt2",
    "autopay",
)
EVENT_COLUMNS = ("client_id", "statement_ts", *FEATURES, "sex", "defaulted")
CAPTURE_COLUMNS = ("request_id", "request_ts", "client_id", *FEATURES, "score", "model_version")
SCENARIOS = ("stable", "income_shift")
LIMIT_SHIFT = 1.5

_TIMESTAMPS, _FEATURES, _OUTCOMES = 21, 22, 23


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(
            f"the card_defaults simulator knows the scenarios {', '.join(SCENARIOS)}, not {scenario!r}"
        )


def _codes(
    rng: np.random.Generator, codes: tuple[str, ...], shares: tuple[float, ...], rows: int
) -> np.ndarray:
    return rng.choice(np.array(codes, dtype=object), size=rows, p=np.asarray(shares) / sum(shares))


def _statements(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """The stable population: repayment status drives balances, payments and autopay."""
    age = np.clip(np.round(21 + rng.gamma(2.2, 7.0, rows)), 21, 79).astype(np.int64)
    limit = np.clip(np.round(np.exp(rng.normal(11.7, 0.75, rows) + 0.01 * (age - 35)), -4), 10_000, 800_000)
    # PAY_x: -2 no consumption, -1 paid in full, 0 revolving, 1..8 months late.
    pay_0 = rng.choice(
        np.arange(-2, 9),
        size=rows,
        p=[0.09, 0.19, 0.49, 0.12, 0.09, 0.012, 0.004, 0.002, 0.001, 0.0005, 0.0005],
    )
    pay_2 = np.clip(pay_0 + rng.choice([-1, 0, 0, 0, 1], size=rows), -2, 8)
    utilisation = np.clip(rng.beta(0.8, 1.6, rows) + 0.08 * np.maximum(pay_0, 0), 0, 1.2)
    bill_1 = np.round(limit * utilisation * (pay_0 > -2))
    bill_1[rng.random(rows) < 0.01] *= -0.05  # an overpaid account shows a credit balance
    bill_2 = np.round(bill_1 * rng.uniform(0.85, 1.05, rows))
    paid_share = np.clip(rng.beta(1.2, 3.0, rows) - 0.08 * np.maximum(pay_0, 0), 0, 1)
    pay_1 = np.round(np.maximum(bill_2, 0) * paid_share)
    pay_2_amount = np.round(np.maximum(bill_2, 0) * np.clip(paid_share + rng.normal(0, 0.05, rows), 0, 1))
    autopay = rng.random(rows) < np.where(pay_0 <= 0, 0.35, 0.1)
    return pd.DataFrame(
        {
            "limit_bal": limit.astype(np.int64),
            "education": _codes(
                rng, ("1", "2", "3", "4", "5", "6", "0"), (35, 47, 16, 0.5, 0.9, 0.2, 0.4), rows
            ),
            "marriage": _codes(rng, ("1", "2", "3", "0"), (45, 53, 1.1, 0.9), rows),
            "age": age,
            "pay_0": pay_0.astype(np.int64),
            "pay_2": pay_2.astype(np.int64),
            "bill_amt1": bill_1.astype(np.int64),
            "bill_amt2": bill_2.astype(np.int64),
            "pay_amt1": pay_1.astype(np.int64),
            "pay_amt2": pay_2_amount.astype(np.int64),
            "autopay": autopay,
            # Sex never enters the default probability: the fairness gates must find no gap built in.
            "sex": _codes(rng, ("1", "2"), (40, 60), rows),
        }
    )


def default_probability(frame: pd.DataFrame) -> np.ndarray:
    """Default next month: lateness, high utilisation and small repayments raise it; a large
    credit line (the issuer's trust) and autopay lower it. Limits are judged against the
    stable population, so a limit increase alone lowers the risk it implies."""
    limit = frame["limit_bal"].to_numpy(dtype=float)
    utilisation = np.clip(frame["bill_amt1"].to_numpy(dtype=float) / limit, -0.1, 1.5)
    repaid = frame["pay_amt1"].to_numpy(dtype=float) / np.maximum(
        frame["bill_amt2"].to_numpy(dtype=float), 1000
    )
    logit = (
        -2.0
        + 1.2 * np.maximum(frame["pay_0"].to_numpy(dtype=float), 0)
        + 0.5 * (frame["pay_2"].to_numpy(dtype=float) > 0)
        - 0.45 * np.log(limit / 150_000)
        + 1.0 * utilisation
        - 1.4 * np.minimum(repaid, 1)
        - 0.35 * frame["autopay"].to_numpy(dtype=float)
        - 0.008 * (frame["age"].to_numpy(dtype=float) - 35)
    )
    return 1.0 / (1.0 + np.exp(-logit))


def statements(
    day: date, *, seed: int, rows: int, scenario: str = "stable", onset: datetime | None = None
) -> pd.DataFrame:
    """The statements closed on ``day`` with the outcome, in contract names and types."""
    _check(scenario)
    ordinal = day.toordinal()
    timestamps = _utc_seconds(day, np.sort(_rng(seed, ordinal, _TIMESTAMPS).integers(0, 86_400, rows)))
    frame = _statements(_rng(seed, ordinal, _FEATURES), rows)
    if scenario == "income_shift":
        after = _after_onset(timestamps, onset)
        for column in ("limit_bal", "bill_amt1", "bill_amt2", "pay_amt1", "pay_amt2"):
            frame.loc[after, column] = np.round(frame.loc[after, column] * LIMIT_SHIFT).astype(np.int64)
    defaulted = (_rng(seed, ordinal, _OUTCOMES).random(rows) < default_probability(frame)).astype(np.int64)
    frame.insert(0, "statement_ts", timestamps)
    frame.insert(0, "client_id", [f"C{day:%Y%m%d}{n:06d}" for n in range(1, rows + 1)])
    frame["defaulted"] = defaulted
    return frame[list(EVENT_COLUMNS)]


def capture(
    hour_start: datetime,
    *,
    seed: int,
    rows_per_day: int,
    scenario: str = "stable",
    onset: datetime | None = None,
    scorer: Scorer | None = None,
) -> pd.DataFrame:
    """The scoring service's log of one hour: that hour's statements without the outcome."""
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    rows = hour_slice(
        statements(start.date(), seed=seed, rows=rows_per_day, scenario=scenario, onset=onset),
        "statement_ts",
        start,
    )
    return request_log(
        rows.drop(columns=["defaulted", "sex"]), start, "statement_ts", list(FEATURES), scorer
    )[list(CAPTURE_COLUMNS)]
