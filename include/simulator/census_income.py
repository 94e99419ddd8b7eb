"""Synthetic census records laid out as the public "Adult" (census income) export: hyphenated
headers (``education-num``, ``hours-per-week``, ``native-country``), string categories, ``?``
written for a missing value, and a string outcome (``>50K`` / ``<=50K``) whose positive class
is the favorable one (a high-income flag a lender or a hiring screen would select on).

It is the package's first dataset from outside credit, and its check that nothing assumes the
positive class is adverse: fairness is measured on the selection (score at or above the
threshold), with two protected attributes, sex and race, one of whose groups holds under 1 %
of the rows (too few to judge on a day, or on a holdout). The public table has no id column;
the producer adds ``record-id``, and a ``survey-time`` timestamp.

Pure and seeded like ``credit``: (seed, day ordinal, stream) picks every random draw. Scenarios:
``stable``, and ``hours_shift``, where from the onset the population works ten hours a week more
and is older (a labour-market change the drift monitor must catch).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from include.simulator.credit import (
    Scorer,
    _after_onset,
    _application_seconds,
    _rng,
    _utc_seconds,
    as_utc,
    hour_slice,
    request_log,
)

MISSING = "?"  # what the export writes for a missing value (contract: null_values)
FEATURES = (
    "age",
    "workclass",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "hours_per_week",
    "capital_gain",
    "native_country",
)
PROTECTED = ("sex", "race")
EVENT_COLUMNS = ("record_id", "survey_ts", *FEATURES, *PROTECTED, "income")
CAPTURE_COLUMNS = ("request_id", "request_ts", "record_id", *FEATURES, "score", "model_version")
SCENARIOS = ("stable", "hours_shift")
HOURS_SHIFT, AGE_SHIFT = 10, 6

WORKCLASS = (("Private", 70), ("Self-emp-not-inc", 8), ("Local-gov", 6.5), ("State-gov", 4), ("Self-emp-inc", 3.5),
             ("Federal-gov", 3), (MISSING, 5))  # fmt: skip
EDUCATION = (  # level, education-num, share
    ("Preschool", 1, 0.2), ("1st-4th", 2, 0.5), ("5th-6th", 3, 1), ("7th-8th", 4, 2), ("9th", 5, 1.6),
    ("10th", 6, 2.8), ("11th", 7, 3.6), ("12th", 8, 1.3), ("HS-grad", 9, 32), ("Some-college", 10, 22),
    ("Assoc-voc", 11, 4.2), ("Assoc-acdm", 12, 3.3), ("Bachelors", 13, 16.4), ("Masters", 14, 5.4),
    ("Prof-school", 15, 1.8), ("Doctorate", 16, 1.3),
)  # fmt: skip
MARITAL = (("Married-civ-spouse", 46), ("Never-married", 33), ("Divorced", 14), ("Separated", 3), ("Widowed", 3),
           ("Married-spouse-absent", 1))  # fmt: skip
OCCUPATION = (("Prof-specialty", 13), ("Craft-repair", 13), ("Exec-managerial", 12.5), ("Adm-clerical", 11.5),
              ("Sales", 11.2), ("Other-service", 10), ("Machine-op-inspct", 6), ("Transport-moving", 5),
              ("Handlers-cleaners", 4), ("Tech-support", 3), ("Farming-fishing", 3), ("Protective-serv", 2),
              (MISSING, 5.8))  # fmt: skip
COUNTRY = (("United-States", 89.5), ("Mexico", 2), ("Philippines", 0.6), ("Germany", 0.4), ("Canada", 0.4),
           ("India", 0.3), ("Puerto-Rico", 0.35), ("El-Salvador", 0.3), ("Cuba", 0.3), ("England", 0.3),
           ("China", 0.25), ("Jamaica", 0.25), ("South", 0.2), ("Italy", 0.2), ("Dominican-Republic", 0.2),
           ("Vietnam", 0.2), ("Guatemala", 0.2), ("Japan", 0.2), (MISSING, 3.8))  # fmt: skip
RACE = (
    ("White", 85.4),
    ("Black", 9.6),
    ("Asian-Pac-Islander", 3.2),
    ("Amer-Indian-Eskimo", 0.95),
    ("Other", 0.85),
)
SEX = (("Male", 67), ("Female", 33))
# Occupations that pay above the median: the income model reads them, as the public data shows.
WELL_PAID = {
    "Prof-specialty": 0.9,
    "Exec-managerial": 1.1,
    "Tech-support": 0.5,
    "Protective-serv": 0.4,
    "Sales": 0.3,
}

_TIMESTAMPS, _FEATURES, _OUTCOMES = 31, 32, 33


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(
            f"the census_income simulator knows the scenarios {', '.join(SCENARIOS)}, not {scenario!r}"
        )


def _draw(rng: np.random.Generator, levels, rows: int) -> np.ndarray:
    names = np.array([level[0] for level in levels], dtype=object)
    shares = np.array([level[-1] for level in levels], dtype=float)
    return rng.choice(names, size=rows, p=shares / shares.sum())


def _people(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """The stable population, before any scenario."""
    age = np.clip(np.round(17 + rng.gamma(2.3, 9.0, rows)), 17, 90).astype(np.int64)
    shares = np.array([e[2] for e in EDUCATION])
    index = rng.choice(len(EDUCATION), size=rows, p=shares / shares.sum())
    sex = _draw(rng, SEX, rows)
    hours = np.clip(np.round(rng.normal(np.where(sex == "Male", 42.5, 36.5), 11.0)), 1, 99).astype(np.int64)
    gain = np.where(rng.random(rows) < 0.08, np.round(rng.lognormal(8.3, 0.9, rows)), 0)
    return pd.DataFrame(
        {
            "age": age,
            "workclass": _draw(rng, WORKCLASS, rows),
            "education": np.array([EDUCATION[i][0] for i in index], dtype=object),
            "education_num": np.array([EDUCATION[i][1] for i in index], dtype=np.int64),
            "marital_status": _draw(rng, MARITAL, rows),
            "occupation": _draw(rng, OCCUPATION, rows),
            "hours_per_week": hours,
            "capital_gain": np.minimum(gain, 99_999).astype(np.int64),
            "native_country": _draw(rng, COUNTRY, rows),
            "sex": sex,
            "race": _draw(rng, RACE, rows),
        }
    )


def income_probability(frame: pd.DataFrame) -> np.ndarray:
    """Over 50K a year: schooling, hours, a married household, a well-paid occupation, capital
    gains and age up to the fifties raise it. Sex and race do not enter it; sex reaches it only
    through the hours worked, as a selection model's disparate impact would."""
    age = frame["age"].to_numpy(dtype=float)
    logit = (
        -10.5
        + 0.33 * frame["education_num"].to_numpy(dtype=float)
        + 0.035 * np.minimum(frame["hours_per_week"].to_numpy(dtype=float), 70)
        + 0.09 * np.minimum(age, 55)
        + 1.6 * (frame["marital_status"].to_numpy(dtype=object) == "Married-civ-spouse")
        + np.array([WELL_PAID.get(o, 0.0) for o in frame["occupation"]])
        + 1.2 * (frame["capital_gain"].to_numpy(dtype=float) > 5000)
    )
    return 1.0 / (1.0 + np.exp(-logit))


def records(
    day: date, *, seed: int, rows: int, scenario: str = "stable", onset: datetime | None = None
) -> pd.DataFrame:
    """The records surveyed on ``day`` with the outcome, in contract names; missing values
    are written ``?`` as the public export writes them."""
    _check(scenario)
    ordinal = day.toordinal()
    timestamps = _utc_seconds(day, _application_seconds(_rng(seed, ordinal, _TIMESTAMPS), rows))
    frame = _people(_rng(seed, ordinal, _FEATURES), rows)
    if scenario == "hours_shift":
        after = _after_onset(timestamps, onset)
        frame.loc[after, "hours_per_week"] = np.minimum(frame.loc[after, "hours_per_week"] + HOURS_SHIFT, 99)
        frame.loc[after, "age"] = np.minimum(frame.loc[after, "age"] + AGE_SHIFT, 90)
    high = _rng(seed, ordinal, _OUTCOMES).random(rows) < income_probability(frame)
    frame.insert(0, "survey_ts", timestamps)
    frame.insert(0, "record_id", [f"R{day:%Y%m%d}-{n:06d}" for n in range(1, rows + 1)])
    frame["income"] = np.where(high, ">50K", "<=50K").astype(object)
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
    """The scoring service's log of one hour: that hour's records without the outcome and the
    protected attributes; the service logs a missing value as null, not as ``?``."""
    start = as_utc(hour_start).replace(minute=0, second=0, microsecond=0)
    rows = hour_slice(
        records(start.date(), seed=seed, rows=rows_per_day, scenario=scenario, onset=onset),
        "survey_ts",
        start,
    )
    rows = rows.drop(columns=["income", *PROTECTED]).replace(MISSING, None)
    return request_log(rows, start, "survey_ts", list(FEATURES), scorer)[list(CAPTURE_COLUMNS)]
