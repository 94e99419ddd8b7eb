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
from tests.conftest import CONTRACTS_DIR, CREDIT_EVENT_COLUMNS


def test_both_shipped_contracts_load():
    assert contract.available(CONTRACTS_DIR) == ["breast_cancer", "credit_applications"]
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
    with pytest.raises(ContractError, match=re.escape("feeds: ['credit_applications', 'credit_applications_labels']")):
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


def test_an_unmodified_copy_loads_so_each_malformed_case_fails_only_for_its_change(tmp_path):
    _write(tmp_path, _credit_doc())
    assert contract.load("credit_applications", tmp_path).columns == contract.load(
        "credit_applications", CONTRACTS_DIR).columns


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
    assert (credit.monitoring.drift_share, credit.monitoring.consecutive_windows, credit.monitoring.lookback_hours) == (
        0.3, 2, 3)
    assert credit.monitoring.columns["recent_delinquencies"].method == "psi"
    message = _error(tmp_path, lambda d: d["monitoring"].update(columns={"age": {"method": "energy"}}))
    assert "monitoring.columns.age.method: 'energy' is not one of wasserstein" in message
    message = _error(tmp_path, lambda d: d["monitoring"].update(columns={"gender": {"threshold": 0.2}}))
    assert "monitoring.columns.gender: 'gender' is not a feature" in message
    message = _error(tmp_path, lambda d: d["monitoring"].update(drift_shar=0.5))
    assert "monitoring: unknown keys ['drift_shar']" in message


def test_name_that_differs_from_the_file_name(tmp_path):
    message = _error(tmp_path, lambda d: d.update(name="credit"))
    assert "name: 'credit' must equal the file name 'credit_applications'" in message


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ContractError) as info:
        contract.load("mortgages", CONTRACTS_DIR)
    message = str(info.value)
    assert "unknown dataset 'mortgages'" in message
    assert str(CONTRACTS_DIR / "mortgages.yaml") in message
    assert message.endswith("known: breast_cancer, credit_applications")


@pytest.mark.parametrize("name", ["../credit_applications", "../../etc/passwd", "credit/../breast_cancer", ""])
def test_dataset_name_that_could_leave_the_contracts_folder(tmp_path, name):
    # A contract file outside the folder must not be reachable through the name.
    _write(tmp_path, _credit_doc())
    inner = tmp_path / "inner"
    inner.mkdir()
    with pytest.raises(ContractError, match=re.escape(f"dataset name {name!r} is not a lower-case identifier")):
        contract.load(name, inner)


def test_a_default_dataset_without_a_contract_is_refused_naming_both_settings(tmp_path):
    from include import settings as settings_module

    (tmp_path / "widgets.yaml").write_text((CONTRACTS_DIR / "breast_cancer.yaml").read_text())
    ok = settings_module.load({"MLOPS_CONTRACTS_DIR": str(tmp_path), "MLOPS_DATASET": "widgets"})
    assert contract.choices(ok) == ["widgets"]
    # Pointing at a folder of your own replaces the shipped contracts, credit_applications too.
    missing = settings_module.load({"MLOPS_CONTRACTS_DIR": str(tmp_path)})
    with pytest.raises(ContractError, match=rf"MLOPS_DATASET='credit_applications' has no contract in "
                                            rf"MLOPS_CONTRACTS_DIR={re.escape(str(tmp_path))} \(found \['widgets'\]\)"):
        contract.choices(missing)


def test_the_dags_name_the_settings_when_the_default_dataset_has_no_contract(tmp_path):
    """What a user who sets MLOPS_CONTRACTS_DIR alone sees in the DAG import errors."""
    import os
    import subprocess
    import sys

    dags = Path(__file__).resolve().parent.parent / "dags"
    env = {**os.environ, "MLOPS_CONTRACTS_DIR": str(tmp_path)}
    code = ("from airflow.dag_processing.dagbag import DagBag; import sys; "
            f"errors = DagBag({str(dags / 'nightly_ingestion.py')!r}).import_errors; "
            "print(list(errors.values())[0] if errors else 'no error')")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "MLOPS_DATASET='credit_applications' has no contract in MLOPS_CONTRACTS_DIR" in done.stdout, \
        done.stdout[-2000:] + done.stderr[-2000:]
