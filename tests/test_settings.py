"""The settings module: embedded defaults under .local/, and a clear error per bad value."""

import pytest

from include.settings import PROJECT_ROOT, REGENERATE, VARIABLES, SettingsError, configuration_page, load


def test_embedded_defaults_live_under_one_local_folder():
    s = load({})
    assert s.local_dir == PROJECT_ROOT / ".local"
    assert s.storage_root == (PROJECT_ROOT / ".local" / "storage").as_uri()
    assert s.mlflow_tracking_uri == f"sqlite:///{PROJECT_ROOT / '.local' / 'mlflow' / 'mlflow.db'}"
    assert (s.dataset, s.timezone, s.simulator_enabled, s.simulator_rows_per_day) == (
        "credit_applications",
        "UTC",
        True,
        3000,
    )


def test_production_values_are_configuration_not_code():
    s = load(
        {
            "MLOPS_STORAGE_ROOT": "s3://bank-ml/retraining/",
            "MLOPS_STORAGE_CONN_ID": "aws_prod",
            "MLOPS_SIMULATOR": "off",
            "MLOPS_TIMEZONE": "Europe/Madrid",
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        }
    )
    assert (s.storage_root, s.storage_conn_id, s.simulator_enabled, s.timezone, s.mlflow_tracking_uri) == (
        "s3://bank-ml/retraining",
        "aws_prod",
        False,
        "Europe/Madrid",
        "http://mlflow:5000",
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MLOPS_SIMULATOR_ROWS_PER_DAY": "abc"}, "MLOPS_SIMULATOR_ROWS_PER_DAY='abc' is not an integer"),
        ({"MLOPS_SIMULATOR_ROWS_PER_DAY": "200001"}, "outside the allowed range 1..200000"),
        ({"MLOPS_SIMULATOR_DEFECT_RATE": "x"}, "MLOPS_SIMULATOR_DEFECT_RATE='x' is not a number"),
        ({"MLOPS_TIMEZONE": "Mars/Base"}, "not a known IANA timezone"),
        ({"MLOPS_STORAGE_ROOT": "ftp://host/x"}, "must start with file:// or s3://"),
        ({"MLOPS_SIMULATOR": "maybe"}, "MLOPS_SIMULATOR='maybe' is not one of on, off"),
        ({"MLOPS_SIMULATOR_SCENARIO": "meteor"}, "is not one of stable"),
        ({"MLOPS_SIMULATOR_ONSET": "next tuesday"}, "not an ISO timestamp"),
        ({"MLOPS_DATASET": "../etc"}, "must be a lower-case identifier"),
    ],
)
def test_each_malformed_value_names_the_variable(env, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load(env)


def test_the_configuration_page_is_generated_from_the_settings():
    """docs/configuration.md is exactly what ``configuration_page`` renders, every variable in it."""
    page = configuration_page()
    assert [v.name for v in VARIABLES if f"| `{v.name}` |" not in page] == []
    written = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == page, f"docs/configuration.md is out of date with include/settings.py: run {REGENERATE}"
