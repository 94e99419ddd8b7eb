"""``python -m include.contract draft``: a contract drafted from landed files loads as it is and
ingests those same files through the real reader and validator with no quarantined row; what it
cannot type is named; missing markers and published headers are recognised.

Each shipped simulator lands a few days into a temporary storage root; the draft is written to a
temporary contracts folder, loaded with ``include.contract.load`` and every landed partition of
every feed goes through ``ingest_partition``.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include import settings as settings_module
from include.contract.__main__ import main
from include.contract.draft import DraftError, draft
from tests.support.paths import CONTRACTS_DIR, PROJECT_ROOT

DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(9)]  # credit outcomes land 7 days later


def _settings(root: Path, **env: str) -> settings_module.Settings:
    return settings_module.load(
        {
            "MLOPS_STORAGE_ROOT": root.as_uri(),
            "MLOPS_TIMEZONE": "UTC",
            "MLOPS_SIMULATOR_ROWS_PER_DAY": "300",
            "MLOPS_SIMULATOR_DEFECT_RATE": "0",
            "MLOPS_SIMULATOR_SCENARIO": "stable",
            "MLOPS_SIMULATOR_ONSET": "",
            **env,
        }
    )


def _land(name: str, root: Path, days: list[date], **env: str) -> settings_module.Settings:
    from include.simulator.land import land_day

    s = _settings(root, **env)
    shipped = contract_module.load(name, CONTRACTS_DIR)
    for day in days:
        land_day(shipped, day, settings=s)
    return s


def _column(contract, name: str):
    return next(c for c in contract.columns if c.name == name)


def _write(text: str, name: str, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return contract_module.load(name, folder)


def _ingest_every_partition(drafted, s) -> list[dict]:
    """Every landed partition of every feed through the real ingestion; a rejected batch raises."""
    from include.ingestion.partition import ingest_partition

    reports = []
    for feed in drafted.feeds():
        partitions = sorted((Path(s.storage_root.removeprefix("file://")) / "landing" / feed.name).iterdir())
        assert partitions, feed.name
        for partition in partitions:
            day = date.fromisoformat(partition.name.removeprefix("dt="))
            reports.append(ingest_partition(drafted, feed.name, day, settings=s))
    return reports


def _assert_nothing_quarantined(reports: list[dict]) -> None:
    for report in reports:
        assert report["status"] == "passed", report["checks"]
        assert report["counts"]["quarantined"] == 0, (report["feed"], report["quarantine_reasons"])
        assert report["counts"]["curated"] == report["counts"]["landed"] > 0


def _landing(s, feed: str) -> Path:
    return Path(s.storage_root.removeprefix("file://")) / "landing" / feed


# ------------------------------------------------------------------------ the shipped simulators


def test_the_cli_drafts_credit_with_its_label_feed_and_the_draft_ingests_both_feeds(tmp_path):
    s = _land("credit_applications", tmp_path / "storage", DAYS)
    landing = _landing(s, "credit_applications")
    labels = _landing(s, "credit_applications_labels")
    run = subprocess.run(
        [sys.executable, "-m", "include.contract", "draft", str(landing), "--name", "credit_applications"]
        + ["--labels", str(labels), "--protected", "gender"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "CHECK" in run.stdout and "guesses marked CHECK" in run.stderr
    drafted = _write(run.stdout, "credit_applications", tmp_path / "contracts")

    assert [f.name for f in drafted.feeds()] == ["credit_applications", "credit_applications_labels"]
    assert drafted.primary_key == ("application_id",) and drafted.event_timestamp == "application_ts"
    assert drafted.labels.delivery == "separate" and drafted.labels.observed_timestamp == "outcome_ts"
    assert drafted.labels.maturity_days == 7  # the shortest delay from an application to its outcome
    assert drafted.labels.positive_value == 1 and drafted.labels.favorable == "negative"
    assert drafted.feed("credit_applications_labels").column_names == (
        "application_id",
        "outcome_ts",
        "defaulted",
    )
    assert drafted.protected == ("gender",) and set(_column(drafted, "gender").allowed) == {"F", "M"}
    shipped = contract_module.load("credit_applications", CONTRACTS_DIR)
    assert set(drafted.features) == set(shipped.features)
    home = _column(drafted, "home_ownership")
    assert home.dtype == "category" and set(home.allowed) == set(_column(shipped, "home_ownership").allowed)
    income = _column(drafted, "employment_years")
    assert income.dtype == "float" and income.nullable and 0 < income.max_null_rate < 0.2
    assert _column(drafted, "credit_score").dtype == "int"

    _assert_nothing_quarantined(_ingest_every_partition(drafted, s))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_card_defaults_draft_maps_the_published_headers_and_ingests_the_files(tmp_path, fmt):
    s = _land("card_defaults", tmp_path / "storage", DAYS[:3], MLOPS_SIMULATOR_FORMAT=fmt)
    result = draft(
        _landing(s, "card_defaults"),
        "card_defaults",
        target="default.payment.next.month",
        protected=["SEX"],
    )
    assert result.unplaced == []
    drafted = _write(result.text, "card_defaults", tmp_path / "contracts")
    assert drafted.primary_key == ("id",) and _column(drafted, "id").source == "ID"
    assert _column(drafted, "statement_time").source == "Statement Time"
    assert (
        _column(drafted, "limit_bal").source == "LIMIT_BAL" and _column(drafted, "limit_bal").dtype == "int"
    )
    assert _column(drafted, "autopay_enrolled").dtype == "bool"
    target = _column(drafted, drafted.target)
    assert target.name == "default_payment_next_month" and target.source == "default.payment.next.month"
    assert target.allowed == (0, 1) and drafted.labels.delivery == "inline"
    sex = _column(drafted, "sex")
    assert sex.role == "protected" and sex.dtype == "category" and set(sex.allowed) == {"1", "2"}
    # The observed range lies inside the drafted one.
    landed = pd.concat(
        pd.read_csv(f) if fmt == "csv" else pd.read_parquet(f)
        for f in sorted(_landing(s, "card_defaults").rglob(f"*.{fmt}"))
    )
    limit = _column(drafted, "limit_bal")
    assert limit.min <= landed["LIMIT_BAL"].min() and landed["LIMIT_BAL"].max() <= limit.max

    _assert_nothing_quarantined(_ingest_every_partition(drafted, s))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_census_income_draft_finds_the_producers_key_and_the_missing_marker(tmp_path, fmt):
    # Hyphenated headers, "?" for a missing value in CSV (Parquet writes a null), a string target
    # whose rarer level is the wanted one, and an id the producer adds: no --id is needed.
    s = _land("census_income", tmp_path / "storage", DAYS[:3], MLOPS_SIMULATOR_FORMAT=fmt)
    result = draft(
        _landing(s, "census_income"),
        "census_income",
        target="income",
        favorable="positive",
        protected=["sex", "race"],
    )
    assert result.unplaced == []
    drafted = _write(result.text, "census_income", tmp_path / "contracts")
    assert drafted.primary_key == ("record_id",) and _column(drafted, "record_id").source == "record-id"
    assert drafted.event_timestamp == "survey_time"
    assert _column(drafted, "survey_time").source == "survey-time"
    hours = _column(drafted, "hours_per_week")
    assert hours.source == "hours-per-week" and hours.dtype == "int"
    assert _column(drafted, "native_country").source == "native-country"
    shipped = contract_module.load("census_income", CONTRACTS_DIR)
    assert set(drafted.features) == set(shipped.features)
    assert drafted.labels.delivery == "inline" and drafted.labels.positive_value == ">50K"
    assert drafted.labels.favorable == "positive" and drafted.labels.names == {1: ">50K", 0: "<=50K"}
    assert drafted.protected == ("sex", "race")
    assert set(_column(drafted, "sex").allowed) == {"Female", "Male"}
    assert set(_column(drafted, "race").allowed) <= set(_column(shipped, "race").allowed)
    for name in ("workclass", "occupation", "native_country"):
        column = _column(drafted, name)
        assert column.nullable and "?" not in column.allowed, name
    if fmt == "csv":
        assert "?" in drafted.null_values
    else:
        assert drafted.null_values == ()  # Parquet holds nulls: no marker to read

    _assert_nothing_quarantined(_ingest_every_partition(drafted, s))
    if fmt == "csv":
        from include.ingestion.partition import read_curated

        curated = read_curated("census_income", DAYS[0], settings=s)
        (landed,) = (_landing(s, "census_income") / f"dt={DAYS[0].isoformat()}").glob("*.csv")
        raw = pd.read_csv(landed, dtype=str, keep_default_na=False)
        assert curated["workclass"].isna().sum() == (raw["workclass"] == "?").sum() > 0  # "?" read as null


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_breast_cancer_draft_ingests_the_files(tmp_path, fmt):
    s = _land("breast_cancer", tmp_path / "storage", DAYS[:4], MLOPS_SIMULATOR_FORMAT=fmt)
    result = draft(_landing(s, "breast_cancer"), "breast_cancer", target="malignant", favorable="negative")
    drafted = _write(result.text, "breast_cancer", tmp_path / "contracts")
    shipped = contract_module.load("breast_cancer", CONTRACTS_DIR)
    assert drafted.features == shipped.features  # 30 measurements, in landed order
    assert all(_column(drafted, f).dtype == "float" for f in drafted.features)
    assert drafted.primary_key == ("sample_id",) and drafted.event_timestamp == "observed_ts"
    assert drafted.labels.positive_value == 1 and drafted.labels.favorable == "negative"
    assert drafted.limits.min_rows <= 37 and drafted.limits.max_rows >= 38  # 569 rows cut in 15 days

    _assert_nothing_quarantined(_ingest_every_partition(drafted, s))


def test_resent_keys_are_warned_about_and_are_all_that_ingestion_quarantines(tmp_path):
    # The producer's defects (resent ids, values out of range, unknown levels, blanks) are in the
    # sample: the draft widens ranges, levels and nulls to them, and names the resent keys.
    s = _land("card_defaults", tmp_path / "storage", DAYS[:2], MLOPS_SIMULATOR_DEFECT_RATE="0.02")
    result = draft(_landing(s, "card_defaults"), "card_defaults", target="default.payment.next.month")
    (warning,) = [w for w in result.warnings if "duplicate_key" in w]
    repeats = int(warning.split(" repeats in ")[1].split(" ")[0])
    assert repeats > 0 and "ID" in warning and "Warning: the primary key ID repeats" in result.text
    drafted = _write(result.text, "card_defaults", tmp_path / "contracts")
    reports = _ingest_every_partition(drafted, s)
    assert all(r["status"] == "passed" for r in reports)
    assert {k for r in reports for k in r["quarantine_reasons"]} == {"duplicate_key"}
    assert sum(r["counts"]["quarantined"] for r in reports) == repeats


# ------------------------------------------------------------------------ files of one's own


def _csv(root: Path, feed: str, day: date, frame: pd.DataFrame) -> Path:
    folder = root / "landing" / feed / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "part-0.csv", index=False)
    return root / "landing" / feed


def _survey(day: date, rows: int, seed: int) -> pd.DataFrame:
    """Hyphenated, dotted and upper-case headers; ``?`` in a number and a category, ``NA`` in one
    float column only; a string outcome whose rarer level is the wanted one."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(day.isoformat(), tz="UTC")
    age = rng.integers(18, 90, rows).astype(str).astype(object)
    age[rng.random(rows) < 0.05] = "?"
    work = rng.choice(["Private", "Self-emp", "State-gov"], rows).astype(object)
    work[rng.random(rows) < 0.04] = "?"
    hours = np.round(rng.normal(40, 8, rows), 1).astype(str).astype(object)
    hours[rng.random(rows) < 0.03] = "NA"
    return pd.DataFrame(
        {
            "Person-ID": [f"p{seed}-{i}" for i in range(rows)],
            "Interview.Time": (
                start + pd.to_timedelta(np.sort(rng.integers(0, 86_400, rows)), unit="s")
            ).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "AGE": age,
            "work-class": work,
            "Hours.Per.Week": hours,
            "SEX": rng.choice(["Female", "Male"], rows),
            "Income>50K": rng.choice([">50K", "<=50K"], rows, p=[0.25, 0.75]),
        }
    )


def test_missing_markers_and_published_headers(tmp_path):
    root = tmp_path / "storage"
    for n, day in enumerate(DAYS[:3]):
        landing = _csv(root, "survey", day, _survey(day, 400, n))
    result = draft(landing, "survey", target="Income>50K", favorable="positive", protected=["SEX"])
    assert '\nnull_values: ["?"]' in result.text  # shared by a number and a category: top level
    drafted = _write(result.text, "survey", tmp_path / "contracts")

    assert drafted.null_values == ("?",)
    assert [(c.name, c.source) for c in drafted.columns] == [
        ("person_id", "Person-ID"),
        ("interview_time", "Interview.Time"),
        ("age", "AGE"),
        ("work_class", "work-class"),
        ("hours_per_week", "Hours.Per.Week"),
        ("sex", "SEX"),
        ("income_50k", "Income>50K"),
    ]
    assert _column(drafted, "age").dtype == "int" and _column(drafted, "age").nullable
    work = _column(drafted, "work_class")
    assert work.dtype == "category" and set(work.allowed) == {"Private", "Self-emp", "State-gov"}  # no "?"
    hours = _column(drafted, "hours_per_week")
    assert hours.dtype == "float" and set(hours.null_values) == {
        "?",
        "NA",
    }  # its own marker and the shared one
    assert _column(drafted, "sex").null_values == ("?",)  # the top level applies everywhere
    assert drafted.primary_key == ("person_id",) and drafted.event_timestamp == "interview_time"
    assert drafted.labels.positive_value == ">50K" and drafted.labels.favorable == "positive"
    assert drafted.labels.names == {1: ">50K", 0: "<=50K"}
    assert drafted.protected == ("sex",)

    from include.ingestion.partition import read_curated

    s = _settings(root)
    reports = _ingest_every_partition(drafted, s)
    _assert_nothing_quarantined(reports)
    curated = read_curated("survey", DAYS[0], settings=s)
    landed = _survey(DAYS[0], 400, 0)
    assert curated["age"].isna().sum() == (landed["AGE"] == "?").sum() > 0  # markers read as null
    assert curated["hours_per_week"].isna().sum() == (landed["Hours.Per.Week"] == "NA").sum() > 0


def test_a_column_it_cannot_type_is_named_on_stdout_and_stderr(tmp_path, capsys):
    root = tmp_path / "storage"
    frame = _survey(DAYS[0], 300, 0)
    rng = np.random.default_rng(7)
    mixed = rng.integers(0, 1_000_000, len(frame)).astype(str).astype(object)
    mixed[::5] = [f"ref-{i}" for i in range(len(mixed[::5]))]  # numbers, and text that is not a marker
    frame["Account Code"] = mixed
    frame["Comment"] = ""  # no value at all
    landing = _csv(root, "survey", DAYS[0], frame)

    code = main(["draft", str(landing), "--name", "survey", "--target", "Income>50K"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "could not place column Account Code: mixed values" in err
    assert "could not place column Comment: no value" in err
    top = out.split("\nname: ")[0]  # the comments before the first key
    assert "Account Code: mixed values" in top and "Comment: no value" in top
    assert "COULD NOT PLACE Account Code" in out
    drafted = _write(out, "survey", tmp_path / "contracts")
    for name in ("account_code", "comment"):
        column = _column(drafted, name)
        assert (column.dtype, column.role, column.nullable) == ("string", "not_a_feature", True)
    assert "account_code" not in drafted.features
    _assert_nothing_quarantined(_ingest_every_partition(drafted, _settings(root)))


def test_flags_that_name_no_column_and_data_without_a_key_are_refused(tmp_path, capsys):
    root = tmp_path / "storage"
    frame = _survey(DAYS[0], 50, 0)
    landing = _csv(root, "survey", DAYS[0], frame)

    with pytest.raises(DraftError, match=r"--protected gender: no such column .* Person-ID, Interview\.Time"):
        draft(landing, "survey", target="Income>50K", protected=["gender"])
    with pytest.raises(DraftError, match=r"--target is required"):
        draft(landing, "survey")
    with pytest.raises(DraftError, match=r"--timestamp AGE: its values are not ISO 8601 timestamps"):
        draft(landing, "survey", target="Income>50K", timestamp="AGE")

    # No id column: the package needs producers to add one; the refusal names the flag.
    keyless = _csv(tmp_path / "keyless", "survey", DAYS[0], frame.drop(columns="Person-ID"))
    with pytest.raises(DraftError, match=r"no id column found .* --id COL"):
        draft(keyless, "survey", target="Income>50K")
    # A column named by --id is the key, whatever its name.
    named = draft(keyless, "survey", target="Income>50K", ids=["Interview.Time", "SEX"])
    assert _write(named.text, "survey", tmp_path / "contracts").primary_key == ("interview_time", "sex")

    assert main(["draft", str(landing), "--name", "survey", "--target", "income"]) == 2
    assert "--target income: no such column" in capsys.readouterr().err
