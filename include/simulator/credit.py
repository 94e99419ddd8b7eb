"""Synthetic credit applications, their outcomes and the scoring service's capture.

Pure generators: every function returns a DataFrame and touches no storage. Randomness
comes only from numpy Generators seeded with (seed, day or hour ordinal, stream id), so
the same arguments always give the same frame, whatever else was generated before.

The base population never depends on the scenario: a scenario only transforms the rows
whose timestamp is at or after the onset, with its own random stream. Rows before the
onset are therefore identical to the ``stable`` rows of the same seed and day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from include.settings import SCENARIOS

# We are the producer, so we name the columns; tests check them against the contract.
FEATURES = (
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
)
EVENT_COLUMNS = ("application_id", "application_ts", *FEATURES, "gender")
LABEL_COLUMNS = ("application_id", "outcome_ts", "defaulted")
CAPTURE_COLUMNS = ("request_id", "request_ts", "application_id", *FEATURES, "score", "model_version")

LOAN_TERMS = np.array([12, 24, 36, 48, 60, 72, 84])
HOME_OWNERSHIP = ("RENT", "MORTGAGE", "OWN", "OTHER")
LOAN_PURPOSES = (
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "other",
)
PURPOSE_SHARES = (0.34, 0.20, 0.12, 0.14, 0.06, 0.06, 0.08)

# Stream ids: each kind of randomness has its own generator so that adding draws to one
# never changes the values of another.
_TIMESTAMPS, _FEATURES, _SCENARIO, _OUTCOMES, _OUTCOME_TIMES = 1, 2, 3, 4, 5
_PRESCREEN_TIMES, _PRESCREEN_FEATURES, _PRESCREEN_SCENARIO = 6, 7, 8

_LOG_INCOME_BASE = 12.553  # calibrated so that mean annual income is about 450,000
INCOME_SHIFT = 520_000 / 450_000
_REFERENCE_INCOME = 450_000.0
NARROW_SCORE_BAND = (660.0, 25.0)  # narrow_score_band: mean and spread of the bureau scores after the onset
FAIRNESS_INCOME_FACTOR = 0.3  # fairness_drift: the affected group's incomes after the onset
# Default model: logit = intercept + scale * risk. Calibrated (see tests) for a 10-15 %
# default rate and a ROC AUC of 0.86-0.90 for a gradient-boosting model on stable data.
_STABLE_INTERCEPT, _STABLE_SCALE = -3.45, 1.3
_DRIFT_INTERCEPT, _DRIFT_SCALE = -0.45, 2.0

Scorer = Callable[[pd.DataFrame], tuple[np.ndarray, str]]


# ---------------------------------------------------------------------------- helpers
def _rng(seed: int, ordinal: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, ordinal, stream])


def _check_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; scenarios are {', '.join(SCENARIOS)}")


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _after_onset(timestamps: pd.Series, onset: datetime | None) -> np.ndarray:
    if onset is None:
        return np.ones(len(timestamps), dtype=bool)
    return (timestamps >= pd.Timestamp(as_utc(onset))).to_numpy()


def _utc_seconds(day: date, seconds: np.ndarray) -> pd.Series:
    """Whole-second UTC timestamps ``seconds`` after midnight of ``day``."""
    start = np.datetime64(day.isoformat(), "s")
    values = start + seconds.astype("timedelta64[s]")
    return pd.Series(pd.DatetimeIndex(values).tz_localize("UTC")).astype("datetime64[us, UTC]")


def _pick(rng: np.random.Generator, choices: tuple[str, ...], probabilities: np.ndarray) -> np.ndarray:
    """One choice per row from per-row probabilities (rows x choices)."""
    cumulative = np.cumsum(probabilities, axis=1)
    index = (rng.random(len(probabilities))[:, None] > cumulative).sum(axis=1)
    return np.array(choices, dtype=object)[np.minimum(index, len(choices) - 1)]


# ------------------------------------------------------------------------ population
def _application_seconds(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Seconds after midnight, sorted. Every hour gets rows // 24 or one more, so the
    hourly capture of a day has a steady size; within the hour arrivals are uniform."""
    per_hour = np.full(24, rows // 24)
    per_hour[rng.permutation(24)[: rows % 24]] += 1
    hours = np.repeat(np.arange(24), per_hour)
    return np.sort(hours * 3600 + rng.integers(0, 3600, rows))


def _base_features(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """The stable population. Correlations: income grows with age and tenure, loans with
    income, score with income and against debt load, delinquencies against score."""
    age = np.minimum(18 + rng.gamma(2.0, 9.0, rows), 80).round().astype(np.int64)
    adult_years = age - 18
    employment = np.minimum(rng.gamma(1.3, 1.0 + 0.18 * adult_years), np.minimum(adult_years, 60)).round(1)

    tenure = np.minimum(employment, 20)
    log_income = (
        _LOG_INCOME_BASE
        + 0.02 * adult_years
        - 0.0003 * adult_years**2
        + 0.02 * tenure
        + rng.normal(0, 0.5, rows)
    )
    income = np.exp(log_income)

    log_loan = np.clip(log_income - 1.0 + rng.normal(0, 0.45, rows), np.log(500), np.log(5_000_000))
    loan = np.exp(log_loan)
    term_index = np.clip(np.round(2.8 + 1.2 * (log_loan - log_income + 1.0) + rng.normal(0, 1.3, rows)), 0, 6)
    term = LOAN_TERMS[term_index.astype(int)]

    monthly_rate = 0.01
    payment = loan * monthly_rate / (1 - (1 + monthly_rate) ** -term)
    other_debt = rng.gamma(2.0, 0.09, rows)
    dti = np.clip(other_debt + 12 * payment / income, 0, 3).round(4)

    income_z = (log_income - _LOG_INCOME_BASE - 0.4) / 0.5
    score = 686 + 0.9 * (age - 36) + 22 * income_z - 80 * (dti - 0.3) + rng.normal(0, 55, rows)
    score = np.clip(np.round(score), 300, 850).astype(np.int64)
    delinquencies = np.minimum(rng.poisson(np.exp(-1.6 - 0.015 * (score - 680))), 30).astype(np.int64)
    accounts = np.minimum(rng.poisson(np.maximum(1.5 + 0.09 * adult_years + 0.8 * income_z, 0.2)), 80).astype(
        np.int64
    )

    home_logits = np.column_stack(
        [
            1.0 - 0.05 * adult_years,  # RENT: the young rent
            -0.5 + 0.04 * adult_years + 0.5 * income_z,  # MORTGAGE
            -2.0 + 0.05 * adult_years,  # OWN
            np.full(rows, -2.5),  # OTHER
        ]
    )
    home_p = np.exp(home_logits) / np.exp(home_logits).sum(axis=1, keepdims=True)
    home = _pick(rng, HOME_OWNERSHIP, home_p)
    purpose = _pick(rng, LOAN_PURPOSES, np.tile(PURPOSE_SHARES, (rows, 1)))

    gender = np.where(rng.random(rows) < 0.5, "F", "M").astype(object)
    gender[rng.random(rows) < 0.02] = None
    employment[rng.random(rows) < 0.02] = np.nan
    dti[rng.random(rows) < 0.01] = np.nan

    return pd.DataFrame(
        {
            "age": age,
            "annual_income": income.round(2),
            "employment_years": employment,
            "loan_amount": np.clip(loan.round(2), 500, 5_000_000),
            "loan_term_months": term.astype(np.int64),
            "debt_to_income": dti,
            "credit_score": score,
            "open_accounts": accounts,
            "recent_delinquencies": delinquencies,
            "home_ownership": home,
            "loan_purpose": purpose,
            "gender": gender,
        }
    )


# ------------------------------------------------------------------------- scenarios
def _bimodal_employment(rng: np.random.Generator, rows: int) -> np.ndarray:
    """A big cluster of new hires near 1 year and a smaller one of veterans near 15."""
    new_hire = rng.random(rows) < 0.6
    years = np.where(new_hire, rng.gamma(4.0, 0.25, rows), rng.normal(15.0, 2.5, rows))
    return np.clip(years, 0, 60).round(1)


def _apply_scenario(
    frame: pd.DataFrame, after: np.ndarray, scenario: str, rng: np.random.Generator
) -> pd.DataFrame:
    """Change the rows flagged ``after``; concept drift changes outcomes, not features."""
    rows = len(frame)
    if scenario == "income_shift":
        frame.loc[after, "annual_income"] = (frame.loc[after, "annual_income"] * INCOME_SHIFT).round(2)
    elif scenario == "employment_bimodal":
        years = _bimodal_employment(rng, rows)
        keep_null = frame["employment_years"].isna().to_numpy()
        frame.loc[after & ~keep_null, "employment_years"] = years[after & ~keep_null]
    elif scenario == "fairness_drift":
        # One group's income mix changes (women's applications now come from a lower-income
        # channel): incomes fall and the same loans weigh more on them. Gender itself still never
        # enters the risk; the model sees only the inputs, and declines more of that group.
        hit = after & (frame["gender"].to_numpy(dtype=object) == "F")
        frame.loc[hit, "annual_income"] = (frame.loc[hit, "annual_income"] * FAIRNESS_INCOME_FACTOR).round(2)
        frame.loc[hit, "debt_to_income"] = np.clip(
            frame.loc[hit, "debt_to_income"] / FAIRNESS_INCOME_FACTOR, 0, 3
        ).round(4)
    elif scenario == "narrow_score_band":
        # A broker channel replaces the usual mix with applicants whose bureau scores sit in a
        # narrow band: the model's strongest input separates them less, so it ranks them worse.
        band = np.clip(np.round(rng.normal(NARROW_SCORE_BAND[0], NARROW_SCORE_BAND[1], rows)), 300, 850)
        frame.loc[after, "credit_score"] = band[after].astype(np.int64)
    elif scenario == "data_quality_incident":
        # An upstream change reports income in thousands and loses tenure for many rows.
        frame.loc[after, "annual_income"] = (frame.loc[after, "annual_income"] / 1000).round(2)
        lost = after & (rng.random(rows) < 0.4)
        frame.loc[lost, "employment_years"] = np.nan
    return frame


# -------------------------------------------------------------------------- outcomes
def _stable_risk(f: dict[str, np.ndarray]) -> np.ndarray:
    purpose = {
        "debt_consolidation": 0.15,
        "credit_card": 0.1,
        "home_improvement": -0.1,
        "car": -0.2,
        "medical": 0.35,
        "small_business": 0.6,
        "other": 0.0,
    }
    home = {"RENT": 0.25, "MORTGAGE": -0.1, "OWN": -0.15, "OTHER": 0.3}
    return (
        -0.016 * (f["score"] - 680)
        + 2.2 * (f["dti"] - 0.3)
        + 0.5 * f["delinquencies"]
        - 0.45 * f["log_income"]
        + 0.3 * f["log_loan_ratio"]
        - 0.05 * np.minimum(f["employment"], 15)
        + 0.008 * (f["term"] - 36)
        - 0.008 * (f["age"] - 36)
        + _lookup(f["purpose"], purpose)
        + _lookup(f["home"], home)
    )


def _drifted_risk(f: dict[str, np.ndarray]) -> np.ndarray:
    """After a concept drift other features drive default: short tenure and large loans
    relative to income dominate, the bureau score and debt load matter less, and the
    effects of income, age, term, purpose and housing flip."""
    purpose = {
        "debt_consolidation": -0.2,
        "credit_card": -0.1,
        "home_improvement": 0.5,
        "car": 0.6,
        "medical": -0.2,
        "small_business": -0.3,
        "other": 0.1,
    }
    home = {"RENT": -0.3, "MORTGAGE": 0.35, "OWN": 0.1, "OTHER": 0.0}
    return (
        -0.008 * (f["score"] - 680)
        + 0.8 * (f["dti"] - 0.3)
        + 0.2 * f["delinquencies"]
        + 0.6 * f["log_income"]
        + 0.9 * f["log_loan_ratio"]
        - 0.25 * np.minimum(f["employment"], 15)
        - 0.03 * (f["term"] - 36)
        + 0.03 * (f["age"] - 36)
        + _lookup(f["purpose"], purpose)
        + _lookup(f["home"], home)
    )


def _lookup(values: np.ndarray, effects: dict[str, float]) -> np.ndarray:
    return np.array([effects.get(v, 0.0) for v in values], dtype=float)


def _risk_inputs(frame: pd.DataFrame, after: np.ndarray, scenario: str) -> dict[str, np.ndarray]:
    """The true applicant situation behind the reported features (missing values count as
    typical; a data-quality incident corrupts the report, not the applicant)."""
    income = frame["annual_income"].to_numpy(dtype=float, na_value=np.nan).copy()
    if scenario == "data_quality_incident":
        income[after] *= 1000
    income = np.where(np.isnan(income) | (income <= 0), _REFERENCE_INCOME, income)
    loan = frame["loan_amount"].to_numpy(dtype=float)
    return {
        "score": frame["credit_score"].to_numpy(dtype=float),
        "dti": np.nan_to_num(frame["debt_to_income"].to_numpy(dtype=float, na_value=np.nan), nan=0.3),
        "delinquencies": np.minimum(frame["recent_delinquencies"].to_numpy(dtype=float), 5),
        "log_income": np.log(income / _REFERENCE_INCOME),
        "log_loan_ratio": np.log(loan / income / 0.37),
        "employment": np.nan_to_num(
            frame["employment_years"].to_numpy(dtype=float, na_value=np.nan), nan=3.0
        ),
        "term": frame["loan_term_months"].to_numpy(dtype=float),
        "age": frame["age"].to_numpy(dtype=float),
        "purpose": frame["loan_purpose"].to_numpy(dtype=object),
        "home": frame["home_ownership"].to_numpy(dtype=object),
    }


def default_probability(
    frame: pd.DataFrame,
    scenario: str = "stable",
    onset: datetime | None = None,
    *,
    timestamp_column: str = "application_ts",
) -> np.ndarray:
    """True probability that each application defaults. Gender never enters it."""
    _check_scenario(scenario)
    after = _after_onset(frame[timestamp_column], onset)
    inputs = _risk_inputs(frame, after, scenario)
    logit = _STABLE_INTERCEPT + _STABLE_SCALE * _stable_risk(inputs)
    if scenario == "concept_drift" and after.any():
        drifted = _DRIFT_INTERCEPT + _DRIFT_SCALE * _drifted_risk(inputs)
        logit = np.where(after, drifted, logit)
    return 1.0 / (1.0 + np.exp(-logit))


# ------------------------------------------------------------------------ public API
def applications(
    day: date, *, seed: int, rows: int, scenario: str = "stable", onset: datetime | None = None
) -> pd.DataFrame:
    """The applications submitted on ``day`` (UTC), as the origination system exports them."""
    _check_scenario(scenario)
    ordinal = day.toordinal()
    timestamps = _utc_seconds(day, _application_seconds(_rng(seed, ordinal, _TIMESTAMPS), rows))
    frame = _base_features(_rng(seed, ordinal, _FEATURES), rows)
    frame = _apply_scenario(frame, _after_onset(timestamps, onset), scenario, _rng(seed, ordinal, _SCENARIO))
    frame.insert(0, "application_ts", timestamps)
    frame.insert(0, "application_id", [f"APP-{day:%Y%m%d}-{n:06d}" for n in range(1, rows + 1)])
    return frame[list(EVENT_COLUMNS)]


def _empty_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "application_id": pd.Series([], dtype=object),
            "outcome_ts": pd.Series([], dtype="datetime64[us, UTC]"),
            "defaulted": pd.Series([], dtype=np.int64),
        }
    )


def outcomes(
    day: date,
    *,
    seed: int,
    rows: int,
    maturity_days: int,
    scenario: str = "stable",
    onset: datetime | None = None,
    first_application_day: date | None = None,
) -> pd.DataFrame:
    """The outcomes observed on ``day``: those of the applications made ``maturity_days``
    earlier. Before ``first_application_day`` (when given) no application exists, so
    the frame is empty."""
    if maturity_days < 0:
        raise ValueError(f"maturity_days must be >= 0, got {maturity_days}")
    _check_scenario(scenario)
    if day.toordinal() - maturity_days < 1:
        return _empty_outcomes()
    applied_on = day - timedelta(days=maturity_days)
    if rows == 0 or (first_application_day is not None and applied_on < first_application_day):
        return _empty_outcomes()
    apps = applications(applied_on, seed=seed, rows=rows, scenario=scenario, onset=onset)
    probability = default_probability(apps, scenario, onset)
    defaulted = (_rng(seed, applied_on.toordinal(), _OUTCOMES).random(rows) < probability).astype(np.int64)

    # Known at the earliest maturity_days after the application, at the latest at midnight.
    mature = apps["application_ts"] + pd.Timedelta(days=maturity_days)
    seconds_left = (pd.Timestamp(_day_start(day) + timedelta(days=1)) - mature).dt.total_seconds().to_numpy()
    delay = np.floor(_rng(seed, applied_on.toordinal(), _OUTCOME_TIMES).random(rows) * seconds_left)
    frame = pd.DataFrame(
        {
            "application_id": apps["application_id"],
            "outcome_ts": (mature + pd.to_timedelta(delay.astype(np.int64), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "defaulted": defaulted,
        }
    )
    return frame.sort_values(["outcome_ts", "application_id"], kind="mergesort").reset_index(drop=True)


def hour_slice(frame: pd.DataFrame, timestamp_column: str, hour_start: datetime) -> pd.DataFrame:
    """The rows of ``frame`` whose timestamp falls in the hour starting at ``hour_start``."""
    start = pd.Timestamp(hour_start)
    ts = frame[timestamp_column]
    return frame[(ts >= start) & (ts < start + pd.Timedelta(hours=1))].reset_index(drop=True)


def request_log(
    rows: pd.DataFrame,
    hour_start: datetime,
    timestamp_column: str,
    features: list[str],
    scorer: Scorer | None,
) -> pd.DataFrame:
    """Turn the rows scored in one hour into the service's log: request_id, request_ts,
    the rows' columns, score and model_version (null without a scorer)."""
    frame = rows.reset_index(drop=True)
    frame.insert(0, "request_ts", frame[timestamp_column])  # scored the moment it arrives
    frame.insert(0, "request_id", [f"REQ-{hour_start:%Y%m%d-%H}-{n:05d}" for n in range(1, len(frame) + 1)])
    scores, version = np.full(len(frame), np.nan), None
    if scorer is not None and len(frame):
        raw_scores, version = scorer(frame[features].copy())
        scores = np.asarray(raw_scores, dtype=float)
    frame["score"] = scores
    frame["model_version"] = pd.Series([version] * len(frame), dtype=object)
    return frame


def prescreens(
    hour_start: datetime, rows: int, *, seed: int, scenario: str = "stable", onset: datetime | None = None
) -> pd.DataFrame:
    """Scoring calls that never become an application (quotes, pre-screening): the same
    population and scenario as applications, spread uniformly over the hour, no application id."""
    _check_scenario(scenario)
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    ordinal = int(start.timestamp()) // 3600
    seconds = np.sort(_rng(seed, ordinal, _PRESCREEN_TIMES).integers(0, 3600, rows))
    timestamps = pd.Series(pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")).astype(
        "datetime64[us, UTC]"
    )
    frame = _base_features(_rng(seed, ordinal, _PRESCREEN_FEATURES), rows)
    frame = _apply_scenario(
        frame, _after_onset(timestamps, onset), scenario, _rng(seed, ordinal, _PRESCREEN_SCENARIO)
    )
    frame.insert(0, "application_ts", timestamps)
    frame.insert(0, "application_id", pd.Series([None] * rows, dtype=object))
    return frame[list(EVENT_COLUMNS)]


def capture(
    hour_start: datetime,
    *,
    seed: int,
    rows_per_day: int,
    scenario: str = "stable",
    onset: datetime | None = None,
    scorer: Scorer | None = None,
    scoring_calls_per_hour: int = 0,
) -> pd.DataFrame:
    """What the scoring service logs in one hour: the applications submitted in that hour
    (the same ids and features the daily export carries), with the model's score. With
    ``scoring_calls_per_hour`` above the hour's applications, pre-screening calls fill the
    hour up to that many, as in production where calls far outnumber applications."""
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    apps = applications(start.date(), seed=seed, rows=rows_per_day, scenario=scenario, onset=onset)
    rows = hour_slice(apps, "application_ts", start)
    if scoring_calls_per_hour > len(rows):
        extra = prescreens(
            start, scoring_calls_per_hour - len(rows), seed=seed, scenario=scenario, onset=onset
        )
        rows = pd.concat([rows, extra], ignore_index=True).sort_values("application_ts", kind="mergesort")
    return request_log(rows, start, "application_ts", list(FEATURES), scorer)[list(CAPTURE_COLUMNS)]


def labelled_applications(
    days: list[date],
    *,
    seed: int,
    rows: int,
    maturity_days: int,
    scenario: str = "stable",
    onset: datetime | None = None,
) -> pd.DataFrame:
    """The applications of ``days`` joined with the outcome each one eventually gets
    (observed ``maturity_days`` later): a labelled training table without the landing zone."""
    frames = []
    for day in days:
        applications_of_day = applications(day, seed=seed, rows=rows, scenario=scenario, onset=onset)
        outcome = outcomes(
            day + timedelta(days=maturity_days),
            seed=seed,
            rows=rows,
            maturity_days=maturity_days,
            scenario=scenario,
            onset=onset,
        )
        frames.append(
            applications_of_day.merge(outcome[["application_id", "defaulted"]], on="application_id")
        )
    return pd.concat(frames, ignore_index=True)
