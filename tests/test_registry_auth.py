"""The registry guarded: an MLflow server with MLflow's basic-auth app, on loopback. The package
signs in with the Airflow connection's user; without credentials, or as a user with read
rights only, nothing in the registry moves, and the error names the URI and the refusal."""

from __future__ import annotations

import pytest

from tests.support.mlflow_server import start_mlflow_auth_server
from tests.support.processes import Services

MODEL = "credit_applications"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    services = Services(tmp_path_factory.mktemp("mlflow_auth_logs"))
    try:
        yield start_mlflow_auth_server(services, tmp_path_factory.mktemp("mlflow_auth")).wait_ready(services)
    except BaseException:
        print(services.report())
        raise
    finally:
        services.stop(timeout=10)


@pytest.fixture
def package_settings(server, monkeypatch, tmp_path):
    """Settings on the server; credentials only through the Airflow connection."""
    from include import settings as settings_module

    for name in settings_module.MLFLOW_CREDENTIAL_VARIABLES:
        monkeypatch.setenv(name, "")  # restored (unset) after the test, whatever the code sets
        monkeypatch.delenv(name)
    for name, value in server.connection_env().items():
        monkeypatch.setenv(name, value)
    return settings_module.load({"MLOPS_LOCAL_DIR": str(tmp_path), "MLFLOW_TRACKING_URI": server.uri})


def _registered_version(client) -> str:
    from include import registry

    if not registry.exists(client, MODEL):
        client.create_registered_model(MODEL)
    run = client.create_run(client.create_experiment(f"auth-{len(client.search_experiments())}"))
    version = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id).version
    for tag in (registry.GATES_TAG, registry.HARD_GATES_TAG):
        client.set_model_version_tag(MODEL, version, tag, "true")
    return str(version)


@pytest.mark.integration
def test_the_package_signs_in_with_the_airflow_connection_and_moves_the_alias(package_settings):
    from include import registry

    client = registry.client(package_settings)
    version = _registered_version(client)
    registry.promote(client, MODEL, version, actor="schedule", reason="auth test", dag_run_id="r1")
    assert registry.by_alias(client, MODEL, registry.CHAMPION).version == version


@pytest.mark.integration
def test_a_model_not_registered_yet_has_no_champion(package_settings):
    """The basic-auth app answers 403 for an alias of a model that does not exist; the first
    retraining must still see "no champion" rather than a refusal."""
    from include import registry

    assert (
        registry.by_alias(registry.client(package_settings), "not_registered_yet", registry.CHAMPION) is None
    )


@pytest.mark.integration
def test_without_credentials_the_registry_refuses_naming_the_uri(package_settings, server, monkeypatch):
    from include import registry

    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT")
    client = registry.client(package_settings)
    with pytest.raises(registry.RegistryError) as refused:
        registry.by_alias(client, MODEL, registry.CHAMPION)
    message = str(refused.value)
    assert server.uri in message and "401" in message, message


@pytest.mark.integration
def test_a_read_only_user_cannot_move_the_champion(package_settings, server, monkeypatch):
    """Someone with a login but no rights on the model (a data scientist's own account) reads the
    registry and cannot move ``champion`` past the gates and the audit trail."""
    import json

    from include import registry

    owner = registry.client(package_settings)
    version = _registered_version(owner)
    registry.promote(owner, MODEL, version, actor="schedule", reason="auth test", dag_run_id="r2")
    server.create_user("analyst", "analyst-Pass-123456")
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "http", "login": "analyst", "password": "analyst-Pass-123456"}),
    )
    analyst = registry.client(package_settings)
    assert registry.by_alias(analyst, MODEL, registry.CHAMPION).version == version  # may read
    with pytest.raises(registry.RegistryError, match="403|PERMISSION_DENIED"):
        registry.call(
            analyst, f"set {MODEL}@champion", analyst.set_registered_model_alias, MODEL, "champion", "1"
        )


@pytest.mark.integration
def test_a_connection_without_a_login_is_refused_naming_it(package_settings, monkeypatch):
    from include import registry
    from include.settings import SettingsError

    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", '{"conn_type": "http", "host": "mlflow"}')
    with pytest.raises(SettingsError, match="'mlflow_default' \\(MLOPS_MLFLOW_CONN_ID\\) has no login"):
        registry.client(package_settings)
