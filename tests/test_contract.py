"""Loading the shipped contracts and rejecting malformed ones with a message that names the
file and the field."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from include import contract
from include.contract import ContractError
from tests.support.data import CREDIT_EVENT_COLUMNS
from tests.support.paths import CONTRACTS_DIR


def test_the_shipped_contracts_load():
    assert contract.available(CONTRACTS_DIR) == [
        "breast_cancer",
        "card_defaults",
        "census_income",
        "credit_applications",
    ]
    for name in contract.available(CONTRACTS_DIR):
        loaded = contract.load(name, CONTRACTS_DIR)
        assert loaded.name == name
        assert loaded.source == CONTRACTS_DIR / f"{name}.yaml"


def test_credit_contract_has_an_events_feed_and_a_separate_label_feed(credit):
    assert [f.name for f in credit.feeds()] == ["credit_applications", "credit_applications_labels"]
    events = credit.events_feed()
    assert events.column_names == CREDIT_EVENT_COLUMNS  # the target is not in the events feed
    assert events.primary_key == ("application_id",)
    assert events.event_timestamp == "application_ts"
    assert events.limits.min_rows == 100 and events.limits.max_bad_row_share == 0.05

    labels = credit.feed("credit_applications_labels")
    assert labels.column_names == ("application_id", "outcome_ts", "defaulted")
    assert labels.primary_key == ("application_id",)
    assert labels.event_timestamp == "outcome_ts"
    assert labels.column("outcome_ts").dtype == "timestamp"
    assert labels.column("defaulted").allowed == (0, 1)
    assert labels.limits.min_rows == 0 and labels.limits.max_age_hours == 240

    assert credit.target == "defaulted"
    assert credit.labels.delivery == "separate" and credit.labels.maturity_days == 7
    assert credit.protected == ("gender",)
    assert "gender" not in credit.features and "defaulted" not in credit.features
    assert credit.critical_features == ("annual_income", "employment_years", "credit_score", "debt_to_income")
    assert credit.auc_floor == 0.85


def test_breast_cancer_contract_has_one_feed_with_inline_labels(breast):
    feeds = breast.feeds()
    assert [f.name for f in feeds] == ["breast_cancer"]
    assert breast.label_feed() is None
    assert breast.labels.delivery == "inline"
    assert breast.target == "malignant"
    assert "malignant" in feeds[0].column_names
    assert len(feeds[0].column_names) == 33  # id, timestamp, 30 measurements, target
    assert len(breast.features) == 30
    assert breast.primary_key == ("sample_id",)


def test_unknown_feed_names_the_known_feeds(credit):
    with pytest.raises(
        ContractError, match=re.escape("feeds: ['credit_applications', 'credit_applications_labels']")
    ):
        credit.feed("credit_applications_outcomes")


# --------------------------------------------------------------------------- malformed contracts


def _credit_doc() -> dict:
    return yaml.safe_load((CONTRACTS_DIR / "credit_applications.yaml").read_text())


def _write(tmp_path: Path, doc: dict, name: str = "credit_applications") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _error(tmp_path: Path, mutate) -> str:
    doc = copy.deepcopy(_credit_doc())
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ContractError) as info:
        contract.load("credit_applications", tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # names the file
    return message


def _load(tmp_path: Path, mutate):
    doc = copy.deepcopy(_credit_doc())
    mutate(doc)
    _write(tmp_path, doc)
    return contract.load("credit_applications", tmp_path)


def test_an_unmodified_copy_loads_so_each_malformed_case_fails_only_for_its_change(tmp_path):
    _write(tmp_path, _credit_doc())
    assert (
        contract.load("credit_applications", tmp_path).columns
        == contract.load("credit_applications", CONTRACTS_DIR).columns
    )


def test_unknown_dtype_names_the_column_and_field(tmp_path):
    message = _error(tmp_path, lambda d: d["columns"]["age"].update(dtype="decimal"))
    assert "columns.age.dtype: 'decimal' is not one of" in message


def test_category_without_allowed_values(tmp_path):
    message = _error(tmp_path, lambda d: d["columns"]["home_ownership"].pop("allowed"))
    assert "columns.home_ownership: a category column needs its allowed values" in message


def test_column_min_above_max(tmp_path):
    message = _error(tmp_path, lambda d: d["columns"]["age"].update(min=100, max=18))
    assert "columns.age: min 100 > max 18" in message


def test_batch_min_rows_above_max_rows(tmp_path):
    message = _error(tmp_path, lambda d: d["batch"].update(min_rows=500, max_rows=10))
    assert "batch: min_rows 500 > max_rows 10" in message


def test_primary_key_that_is_not_a_column(tmp_path):
    message = _error(tmp_path, lambda d: d.update(primary_key=["application_number"]))
    assert "primary_key: ['application_number'] must be a non-empty list of declared columns" in message


def test_critical_feature_that_is_not_a_feature(tmp_path):
    # gender is a declared column, but protected, never a feature.
    message = _error(tmp_path, lambda d: d["monitoring"].update(critical_features=["credit_score", "gender"]))
    assert "monitoring.critical_features: ['gender'] are not features" in message


def test_monitoring_settings_and_their_mistakes(tmp_path, credit):
    assert (
        credit.monitoring.drift_share,
        credit.monitoring.consecutive_windows,
        credit.monitoring.lookback_hours,
    ) == (0.3, 2, 3)
    assert credit.monitoring.columns["recent_delinquencies"].method == "psi"
    message = _error(tmp_path, lambda d: d["monitoring"].update(columns={"age": {"method": "energy"}}))
    assert "monitoring.columns.age.method: 'energy' is not one of wasserstein" in message
    message = _error(tmp_path, lambda d: d["monitoring"].update(columns={"gender": {"threshold": 0.2}}))
    assert "monitoring.columns.gender: 'gender' is not a feature" in message
    message = _error(tmp_path, lambda d: d["monitoring"].update(drift_shar=0.5))
    assert "monitoring: unknown keys ['drift_shar']" in message


def test_decision_monitoring_limits_and_their_mistakes(tmp_path, credit):
    from include.contract import AttributionLimits, FairnessLimits

    assert (
        credit.monitoring.fairness == FairnessLimits()
        and credit.monitoring.attribution == AttributionLimits()
    )
    without = _load(tmp_path, lambda d: [d["monitoring"].pop(k) for k in ("fairness", "attribution")])
    assert (
        without.monitoring.fairness.min_approval_ratio == 0.8
        and without.monitoring.attribution.min_ndcg == 0.9
    )
    tuned = _load(
        tmp_path, lambda d: d["monitoring"]["fairness"].update(max_tpr_gap=0.05, hold_promotion=False)
    )
    assert (tuned.monitoring.fairness.max_tpr_gap, tuned.monitoring.fairness.hold_promotion) == (0.05, False)
    message = _error(tmp_path, lambda d: d["monitoring"]["fairness"].update(min_ratio=0.8))
    assert "monitoring.fairness: unknown keys ['min_ratio']" in message and "min_approval_ratio" in message
    message = _error(tmp_path, lambda d: d["monitoring"]["fairness"].update(hold_promotion="yes"))
    assert "monitoring.fairness.hold_promotion: expected true or false, got 'yes'" in message
    message = _error(tmp_path, lambda d: d["monitoring"]["fairness"].update(confidence=1.5))
    assert "monitoring.fairness.confidence: 1.5 is outside 0.5..0.999" in message
    assert credit.monitoring.auto_rollback
    assert _load(tmp_path, lambda d: d["monitoring"].pop("auto_rollback")).monitoring.auto_rollback is False
    message = _error(tmp_path, lambda d: d["monitoring"].update(auto_rollback="on"))
    assert "monitoring.auto_rollback: expected true or false, got 'on'" in message
    message = _error(tmp_path, lambda d: d["monitoring"]["attribution"].update(min_ndcg=-1))
    assert "monitoring.attribution.min_ndcg: -1 is outside 0..1" in message


def test_gate_limits_and_their_mistakes(tmp_path, credit):
    from include.contract import GateLimits

    assert credit.gates == GateLimits()
    without = _load(tmp_path, lambda d: d["model"].pop("gates"))
    assert without.gates.non_inferiority_margin == 0.01 and without.gates.min_rows == 1000
    tuned = _load(tmp_path, lambda d: d["model"]["gates"].update(min_improvement=0.005, min_rows=5000))
    assert (tuned.gates.min_improvement, tuned.gates.min_rows) == (0.005, 5000)
    message = _error(tmp_path, lambda d: d["model"]["gates"].update(regression_tolerance=0.005))
    assert (
        "model.gates: unknown keys ['regression_tolerance']" in message
        and "non_inferiority_margin" in message
    )
    message = _error(tmp_path, lambda d: d["model"].update(min_auc=0.8))
    assert "model: unknown keys ['min_auc']" in message
    message = _error(tmp_path, lambda d: d["model"]["gates"].update(confidence=0.3))
    assert "model.gates.confidence: 0.3 is outside 0.5..0.999" in message


def test_name_that_differs_from_the_file_name(tmp_path):
    message = _error(tmp_path, lambda d: d.update(name="credit"))
    assert "name: 'credit' must equal the file name 'credit_applications'" in message


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ContractError) as info:
        contract.load("mortgages", CONTRACTS_DIR)
    message = str(info.value)
    assert "unknown dataset 'mortgages'" in message
    assert str(CONTRACTS_DIR / "mortgages.yaml") in message
    assert message.endswith("known: breast_cancer, card_defaults, census_income, credit_applications")


@pytest.mark.parametrize(
    "name", ["../credit_applications", "../../etc/passwd", "credit/../breast_cancer", ""]
)
def test_dataset_name_that_could_leave_the_contracts_folder(tmp_path, name):
    # A contract file outside the folder must not be reachable through the name.
    _write(tmp_path, _credit_doc())
    inner = tmp_path / "inner"
    inner.mkdir()
    with pytest.raises(
        ContractError, match=re.escape(f"dataset name {name!r} is not a lower-case identifier")
    ):
        contract.load(name, inner)


def test_a_default_dataset_without_a_contract_is_refused_naming_both_settings(tmp_path):
    from include import settings as settings_module

    (tmp_path / "widgets.yaml").write_text((CONTRACTS_DIR / "breast_cancer.yaml").read_text())
    ok = settings_module.load({"MLOPS_CONTRACTS_DIR": str(tmp_path), "MLOPS_DATASET": "widgets"})
    assert contract.choices(ok) == ["widgets"]
    # Pointing at a folder of your own replaces the shipped contracts, credit_applications too.
    missing = settings_module.load({"MLOPS_CONTRACTS_DIR": str(tmp_path)})
    with pytest.raises(
        ContractError,
        match=rf"MLOPS_DATASET='credit_applications' has no contract in "
        rf"MLOPS_CONTRACTS_DIR={re.escape(str(tmp_path))} \(found \['widgets'\]\)",
    ):
        contract.choices(missing)


def test_the_dags_name_the_settings_when_the_default_dataset_has_no_contract(tmp_path):
    """What a user who sets MLOPS_CONTRACTS_DIR alone sees in the DAG import errors."""
    import os
    import subprocess
    import sys

    dags = Path(__file__).resolve().parent.parent / "dags"
    env = {**os.environ, "MLOPS_CONTRACTS_DIR": str(tmp_path)}
    code = (
        "from airflow.dag_processing.dagbag import DagBag; import sys; "
        f"errors = DagBag({str(dags / 'nightly_ingestion.py')!r}).import_errors; "
        "print(list(errors.values())[0] if errors else 'no error')"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "MLOPS_DATASET='credit_applications' has no contract in MLOPS_CONTRACTS_DIR" in done.stdout, (
        done.stdout[-2000:] + done.stderr[-2000:]
    )


# --------------------------------------------------------------------------- source headers

SOURCED = """\
name: loans
primary_key: [id]
event_timestamp: application_time
columns:
  id: {dtype: string, role: id, source: ID}
  application_time: {dtype: timestamp, role: event_timestamp, source: Application Time}
  limit_bal: {dtype: float, min: 0, source: LIMIT_BAL}
  age: {dtype: int, min: 18, max: 100}
  default_payment_next_month: {dtype: int, role: target, allowed: [0, 1], source: default.payment.next.month}
labels: {column: default_payment_next_month}
"""


def test_columns_keep_their_names_and_match_landed_headers_by_source(tmp_path):
    (tmp_path / "loans.yaml").write_text(SOURCED)
    loans = contract.load("loans", tmp_path)
    feed = loans.events_feed()
    assert feed.column_names == ("id", "application_time", "limit_bal", "age", "default_payment_next_month")
    assert feed.source_names == ("ID", "Application Time", "LIMIT_BAL", "age", "default.payment.next.month")
    assert feed.names_by_source == dict(zip(feed.source_names, feed.column_names, strict=True))
    assert loans.primary_key == ("id",) and loans.target == "default_payment_next_month"
    assert feed.column("age").source == "age"  # no source: key, the header is the name
    assert contract.Column("x", "int").source == "x"


def test_shipped_contracts_have_sources_equal_to_names(credit, breast):
    for feed in (*credit.feeds(), *breast.feeds()):
        assert feed.source_names == feed.column_names


def test_the_card_defaults_contract_maps_the_public_export_headers():
    cards = contract.load("card_defaults", CONTRACTS_DIR)
    (feed,) = cards.feeds()
    assert feed.names_by_source["default.payment.next.month"] == "defaulted" == cards.target
    assert feed.names_by_source["Statement Time"] == "statement_ts" == cards.event_timestamp
    assert feed.names_by_source["AUTOPAY.ENROLLED"] == "autopay"
    assert cards.protected == ("sex",) and "sex" not in cards.features
    assert cards.categorical_features == ("education", "marriage")
    assert "autopay" in cards.numeric_features and "limit_bal" in cards.numeric_features


def _rename_column(doc: dict, old: str, new) -> None:
    doc["columns"] = {(new if key == old else key): value for key, value in doc["columns"].items()}


@pytest.mark.parametrize(
    "key, fix",
    [
        ("LIMIT_BAL", "name it e.g. limit_bal and add source: LIMIT_BAL"),
        (
            "default.payment.next.month",
            "name it e.g. default_payment_next_month and add source: default.payment.next.month",
        ),
        ("Application Time", "name it e.g. application_time and add source: Application Time"),
        ("2nd Income", "name it e.g. column_2nd_income and add source: 2nd Income"),
        ("10", 'name it e.g. column_10 and add source: "10"'),  # YAML would read a plain 10 as a number
        ("a" * 65, f"name it e.g. {'a' * 64} and add source: {'a' * 65}"),
        (
            12,
            "YAML read this key as int 12: name the column e.g. column_12 and add source: with the header in quotes",
        ),
    ],
)
def test_a_header_as_column_key_is_refused_with_the_rule_and_the_fix(tmp_path, key, fix):
    message = _error(tmp_path, lambda d: _rename_column(d, "age", key))
    rule = "column names must be lower-case identifiers ([a-z][a-z0-9_]*, at most 64 characters)"
    assert message.endswith(f": columns.{key}: {rule}; {fix}"), message


def test_the_suggested_name_and_source_load(tmp_path):
    # What the refusal suggests is accepted as written.
    doc = _credit_doc()
    _rename_column(doc, "age", "default_payment_next_month")
    doc["columns"]["default_payment_next_month"]["source"] = "default.payment.next.month"
    doc["columns"]["annual_income"]["source"] = "10"
    _write(tmp_path, doc)
    feed = contract.load("credit_applications", tmp_path).events_feed()
    assert feed.names_by_source["default.payment.next.month"] == "default_payment_next_month"
    assert feed.names_by_source["10"] == "annual_income"


def test_two_columns_with_the_same_source_are_refused(tmp_path):
    def same(d):
        d["columns"]["annual_income"]["source"] = "INCOME"
        d["columns"]["loan_amount"]["source"] = "INCOME"

    message = _error(tmp_path, same)
    assert (
        "columns.loan_amount.source: the header 'INCOME' is already the source of columns.annual_income; "
        "a landed header feeds one column" in message
    )
    # A column without source: is landed under its name, which another column may not claim either.
    message = _error(tmp_path, lambda d: d["columns"]["age"].update(source="credit_score"))
    assert "columns.credit_score: the header 'credit_score' is already the source of columns.age" in message


def test_sources_that_differ_only_in_case_are_two_headers(tmp_path):
    doc = _credit_doc()
    doc["columns"]["annual_income"]["source"] = "Income"
    doc["columns"]["loan_amount"]["source"] = "INCOME"
    _write(tmp_path, doc)
    feed = contract.load("credit_applications", tmp_path).events_feed()
    assert (feed.names_by_source["Income"], feed.names_by_source["INCOME"]) == (
        "annual_income",
        "loan_amount",
    )


@pytest.mark.parametrize(
    "value, problem",
    [
        (12, "expected the header as a string, got int 12 (quote it in the YAML)"),
        (["AGE"], "expected the header as a string, got list ['AGE']"),
        ("", "is empty; give the header as it arrives in landed files, or drop the key"),
        (None, "is empty"),
        (" AGE", "' AGE' has leading or trailing whitespace; write the header without it"),
        ("AGE\t", "'AGE\\t' has leading or trailing whitespace"),
        ("AGE\nYEARS", "'AGE\\nYEARS' contains a line break; a header is one line"),
        ("A" * 257, "is 257 characters long; at most 256"),
        ("_source_row", "'_source_row' is a column the reader adds to every landed table"),
    ],
)
def test_a_bad_source_is_refused_naming_the_field(tmp_path, value, problem):
    message = _error(tmp_path, lambda d: d["columns"]["age"].update(source=value))
    assert f"columns.age.source: {problem}" in message


def test_a_source_of_256_characters_with_inner_spaces_and_dots_loads(tmp_path):
    header = ("Age. In years " * 20)[:255] + "!"
    doc = _credit_doc()
    doc["columns"]["age"]["source"] = header
    _write(tmp_path, doc)
    assert contract.load("credit_applications", tmp_path).events_feed().column("age").source == header


def test_observed_timestamp_source_names_the_label_feed_header(tmp_path, credit):
    assert credit.labels.observed_timestamp_source == "outcome_ts"  # default: the name
    doc = _credit_doc()
    doc["labels"]["observed_timestamp_source"] = "Outcome Time"
    doc["columns"]["application_id"]["source"] = "Application ID"
    doc["columns"]["age"]["source"] = "Outcome Time"  # an events header may reappear in the label feed
    _write(tmp_path, doc)
    loaded = contract.load("credit_applications", tmp_path)
    labels = loaded.label_feed()
    assert labels.column_names == ("application_id", "outcome_ts", "defaulted")
    assert labels.source_names == ("Application ID", "Outcome Time", "defaulted")
    assert labels.event_timestamp == "outcome_ts" and labels.column("outcome_ts").dtype == "timestamp"
    assert loaded.labels.observed_timestamp == "outcome_ts"


def test_observed_timestamp_source_mistakes(tmp_path):
    message = _error(tmp_path, lambda d: d["labels"].update(observed_timestamp_source=""))
    assert "labels.observed_timestamp_source: is empty" in message
    message = _error(tmp_path, lambda d: d["labels"].update(observed_timestamp_source=7))
    assert "labels.observed_timestamp_source: expected the header as a string, got int 7" in message

    def clash(d):
        d["labels"]["observed_timestamp_source"] = "ID"
        d["columns"]["application_id"]["source"] = "ID"

    message = _error(tmp_path, clash)
    assert (
        "labels.observed_timestamp_source: the header 'ID' is already the source of columns.application_id "
        "in the label feed" in message
    )
    message = _error(tmp_path, lambda d: d["columns"]["defaulted"].update(source="outcome_ts"))
    assert (
        "labels.observed_timestamp: the header 'outcome_ts' is already the source of columns.defaulted"
        in message
    )

    def inline(d):
        d["labels"].update(delivery="inline", observed_timestamp_source="Outcome Time")

    message = _error(tmp_path, inline)
    assert (
        "labels.observed_timestamp_source: only a separate label feed (delivery: separate) has an observed "
        "timestamp column" in message
    )


def test_shadow_limits_and_their_mistakes(tmp_path, credit):
    from include.contract import ShadowLimits

    assert credit.shadow == ShadowLimits() and credit.shadow.looks(credit.labels.maturity_days) == 21
    assert _load(tmp_path, lambda d: d["model"].pop("shadow")).shadow == ShadowLimits()
    tuned = _load(tmp_path, lambda d: d["model"]["shadow"].update(max_days=14, approval=True))
    assert (tuned.shadow.max_days, tuned.shadow.approval, tuned.shadow.looks(7)) == (14, True, 7)
    message = _error(tmp_path, lambda d: d["model"]["shadow"].update(max_days=7))
    assert "model.shadow.max_days: 7 days end the shadow period before any outcome matures" in message
    message = _error(tmp_path, lambda d: d["model"]["shadow"].update(days=7))
    assert "model.shadow: unknown keys ['days']" in message and "min_outcomes" in message
    message = _error(tmp_path, lambda d: d["model"]["shadow"].update(approval="yes"))
    assert "model.shadow.approval: expected true or false, got 'yes'" in message


def test_the_favorable_outcome_and_class_names(tmp_path):
    credit = contract.load("credit_applications", CONTRACTS_DIR)
    assert credit.labels.favorable == "negative" and credit.labels.favorable_outcome == 0
    assert list(credit.favorable_decision([0.2, 0.5, 0.9])) == [1, 0, 0]  # approved below the threshold
    hired = _load(
        tmp_path, lambda d: d["labels"].update(favorable="positive", names={1: "hired", 0: "not hired"})
    )
    assert hired.labels.favorable_outcome == 1 and list(hired.favorable_decision([0.2, 0.5, 0.9])) == [
        0,
        1,
        1,
    ]
    assert (hired.labels.name(1), hired.labels.name(0)) == ("hired", "not hired")
    assert credit.labels.name(0) == "favorable outcome" and credit.labels.name(1) == "unfavorable outcome"
    message = _error(tmp_path, lambda d: d["labels"].update(favorable="good"))
    assert "labels.favorable: 'good' is not one of negative, positive" in message
    message = _error(tmp_path, lambda d: d["labels"].update(names={"yes": "defaulted"}))
    assert "labels.names: keys ['yes'] are not 1" in message
    message = _error(tmp_path, lambda d: d["labels"].update(favourable="positive"))
    assert "labels: unknown keys ['favourable']" in message


def test_small_groups_policy_and_the_retired_gate_setting(tmp_path):
    assert (
        contract.load("credit_applications", CONTRACTS_DIR).monitoring.fairness.small_groups == "not_judged"
    )
    block = _load(tmp_path, lambda d: d["monitoring"]["fairness"].update(small_groups="block"))
    assert block.monitoring.fairness.small_groups == "block"
    message = _error(tmp_path, lambda d: d["monitoring"]["fairness"].update(small_groups="ignore"))
    assert "monitoring.fairness.small_groups: 'ignore' is not one of not_judged, block" in message
    message = _error(tmp_path, lambda d: d["model"]["gates"].update(min_group_defaulters=30))
    assert "model.gates.min_group_defaulters: is retired" in message and "min_group_outcomes" in message


def test_null_values_at_the_top_level_and_per_column(tmp_path):
    def mutate(d):
        d["null_values"] = ["?", "NA", ""]
        d["columns"]["annual_income"]["null_values"] = ["-", "?"]

    found = _load(tmp_path, mutate)
    income = next(c for c in found.columns if c.name == "annual_income")
    assert found.null_values == ("?", "NA") and income.null_values == ("?", "NA", "-")
    others = [c.null_values for c in found.columns if c.name != "annual_income"]
    assert set(others) == {("?", "NA")}
    assert found.label_feed().column(found.labels.observed_timestamp).null_values == ("?", "NA")
    message = _error(tmp_path, lambda d: d.update(null_values="?"))
    assert "null_values: expected a list of strings" in message
    message = _error(tmp_path, lambda d: d["columns"]["annual_income"].update(null_values=[None]))
    assert "columns.annual_income.null_values: expected a list of strings" in message
    message = _error(tmp_path, lambda d: d.update(null_values=[" NA"]))
    assert "surrounding whitespace" in message


# ------------------------------------------------------------- mistakes that change the meaning


def _text_error(tmp_path: Path, edit) -> str:
    """Load the shipped credit contract's text after ``edit`` (text -> text): for mistakes a dict
    cannot hold, such as a key written twice."""
    text = (CONTRACTS_DIR / "credit_applications.yaml").read_text()
    changed = edit(text)
    assert changed != text
    path = tmp_path / "credit_applications.yaml"
    path.write_text(changed)
    with pytest.raises(ContractError) as info:
        contract.load("credit_applications", tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_an_unknown_top_level_key_is_refused_with_the_closest_known_key(tmp_path):
    message = _error(tmp_path, lambda d: d.update(primary_keys=["application_id"]))
    assert "top level: unknown keys ['primary_keys'] (did you mean primary_key for primary_keys?)" in message
    assert "known: ['batch', 'columns'" in message
    message = _error(tmp_path, lambda d: d.update(owner="risk team"))
    assert "top level: unknown keys ['owner']; known:" in message and "did you mean" not in message


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["labels"].update(positive=1),
            "labels: unknown keys ['positive'] (did you mean positive_value for positive?)",
        ),
        (
            lambda d: d["columns"]["age"].update(nullabel=True),
            "columns.age: unknown keys ['nullabel'] (did you mean nullable for nullabel?); known:",
        ),
        (
            lambda d: d["batch"].update(max_row=10),
            "batch: unknown keys ['max_row'] (did you mean max_rows for max_row?); known:",
        ),
        (
            lambda d: d["labels"]["batch"].update(min_row=0),
            "labels.batch: unknown keys ['min_row'] (did you mean min_rows for min_row?)",
        ),
        (
            lambda d: d["model"].update(auc_flor=0.8),
            "model: unknown keys ['auc_flor'] (did you mean auc_floor for auc_flor?)",
        ),
        (
            lambda d: d["model"]["gates"].update(max_tpr_gaps=0.1),
            "model.gates: unknown keys ['max_tpr_gaps'] (did you mean max_tpr_gap for max_tpr_gaps?)",
        ),
        (
            lambda d: d["monitoring"].update(lookback_hour=6),
            "monitoring: unknown keys ['lookback_hour'] (did you mean lookback_hours for lookback_hour?)",
        ),
        (
            lambda d: d["monitoring"].update(columns={"age": {"treshold": 0.1}}),
            "monitoring.columns.age: unknown keys ['treshold'] (did you mean threshold for treshold?); known:",
        ),
    ],
)
def test_an_unknown_nested_key_is_refused_with_the_closest_known_key(tmp_path, mutate, expected):
    assert expected in _error(tmp_path, mutate)


def test_a_column_declared_twice_is_refused_naming_the_line(tmp_path):
    def twice(text):
        return text.replace(
            "  credit_score: {dtype: int",
            "  age: {dtype: float, min: 0, max: 120}\n  credit_score: {dtype: int",
        )

    message = _text_error(tmp_path, twice)
    assert "line 19: duplicate key 'age' (first at line 13)" in message
    # A list of columns is not the contract's form; the message says which form is.
    message = _error(
        tmp_path, lambda d: d.update(columns=[{"name": n, **c} for n, c in d["columns"].items()])
    )
    assert (
        "columns: expected a mapping of column name to its settings (age: {dtype: int}), got list" in message
    )


@pytest.mark.parametrize(
    "edit, key, line, first",
    [
        (
            lambda t: t.replace("  positive_value: 1\n", "  positive_value: 1\n  positive_value: 0\n"),
            "positive_value",
            46,
            45,
        ),
        (
            lambda t: t.replace("extra_columns: reject\n", "extra_columns: reject\nextra_columns: ignore\n"),
            "extra_columns",
            10,
            9,
        ),
        (
            lambda t: t.replace("{dtype: int, min: 18,", "{dtype: int, dtype: float, min: 18,"),
            "dtype",
            13,
            13,
        ),
        (lambda t: t.replace("  min_rows: 100\n", "  min_rows: 100\n  min_rows: 0\n"), "min_rows", 36, 35),
    ],
)
def test_a_key_written_twice_anywhere_is_refused_naming_the_key_and_the_line(
    tmp_path, edit, key, line, first
):
    message = _text_error(tmp_path, edit)
    assert f"line {line}: duplicate key {key!r} (first at line {first})" in message


def test_a_positive_value_outside_the_targets_allowed_values_is_refused(tmp_path):
    message = _error(tmp_path, lambda d: d["labels"].update(positive_value=2))
    assert (
        "labels.positive_value: 2 is not one of the allowed values of columns.defaulted [0, 1]: "
        "every outcome would be the other class" in message
    )
    message = _error(tmp_path, lambda d: d["labels"].update(positive_value="1"))
    assert "labels.positive_value: '1' is a string but columns.defaulted is int" in message
    census = yaml.safe_load((CONTRACTS_DIR / "census_income.yaml").read_text())
    census["labels"]["positive_value"] = ">50k"
    path = _write(tmp_path, census, "census_income")
    with pytest.raises(ContractError) as info:
        contract.load("census_income", tmp_path)
    assert str(info.value).startswith(f"{path}: labels.positive_value: '>50k' is not one of the allowed")
    assert "['<=50K', '>50K']" in str(info.value)


@pytest.mark.parametrize(
    "dtype, value, problem",
    [
        ("int", "yes", "'yes' is a string but columns.defaulted is int"),
        ("int", 1.5, "1.5 is not a whole number but columns.defaulted is int"),
        ("int", float("inf"), "inf is not a whole number but columns.defaulted is int"),
        ("bool", "yes", "'yes' is a string but columns.defaulted is bool: write true (or false)"),
        ("bool", 2, "2 is not true or false but columns.defaulted is bool"),
        ("float", "high", "'high' is a string but columns.defaulted is float"),
        ("string", 1, "1 is not a string but columns.defaulted is string: quote it"),
    ],
)
def test_a_positive_value_that_cannot_be_the_targets_dtype_is_refused(tmp_path, dtype, value, problem):
    def mutate(d):
        d["columns"]["defaulted"] = {"dtype": dtype, "role": "target"}
        d["labels"]["positive_value"] = value

    assert f"labels.positive_value: {problem}" in _error(tmp_path, mutate)


@pytest.mark.parametrize(
    "dtype, value", [("int", 1), ("int", True), ("bool", True), ("bool", 1), ("float", 1), ("string", "yes")]
)
def test_a_positive_value_of_the_targets_dtype_loads(tmp_path, dtype, value):
    def mutate(d):
        d["columns"]["defaulted"] = {"dtype": dtype, "role": "target"}
        d["labels"]["positive_value"] = value

    assert _load(tmp_path, mutate).labels.positive_value == value
