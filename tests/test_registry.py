"""Aliases, previous-champion tracking and rollback against a real MLflow store (SQLite).

The tests share one store and follow a promotion lifecycle in file order: first champion,
replacement, refusal, rollback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include import registry
from include import settings as settings_module

NAME = "credit_default"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite-backed MLflow store holding three logged versions: v1 and v2 passed the
    gates, v3 did not."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    s = settings_module.load({"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"})
    client = registry.client(s)
    registry.use(s)
    experiment = client.create_experiment("registry-test", artifact_location=(root / "artifacts").as_uri())
    x = pd.DataFrame({"income": np.linspace(0, 1, 50)})
    for version, coefficient in enumerate((1.0, 2.0, 3.0), start=1):
        y = (x["income"] * coefficient > 0.5).astype(int)
        model = LogisticRegression().fit(x, y)
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=NAME,
                signature=infer_signature(x, model.predict_proba(x)[:, 1]),
                input_example=x.head(2),
                # Given, so MLflow does not infer them in a subprocess that loads the model (~8 s each).
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
        registry.set_challenger(client, NAME, str(version), gates_passed=version != 3)
    yield client
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


def test_first_promotion_has_nothing_to_replace(store):
    assert registry.by_alias(store, NAME, registry.CHAMPION) is None
    assert registry.promote(store, NAME, "1", actor="schedule", reason="first champion") is None
    assert registry.by_alias(store, NAME, registry.CHAMPION).version == "1"
    assert registry.by_alias(store, NAME, registry.PREVIOUS) is None
    assert registry.get(store, NAME, "1").tags["replaced_version"] == "none"


def test_promotion_keeps_the_replaced_champion_reachable(store):
    import mlflow

    replaced = registry.promote(store, NAME, "2", actor="monitor", reason="drift on annual_income")
    assert replaced.version == "1"
    assert registry.by_alias(store, NAME, registry.CHAMPION).version == "2"
    assert registry.by_alias(store, NAME, registry.PREVIOUS).version == "1"
    assert registry.get(store, NAME, "1").tags["replaced_by"] == "2"
    tags = registry.get(store, NAME, "2").tags
    assert (tags["promoted_by"], tags["promotion_reason"], tags["replaced_version"]) == (
        "monitor",
        "drift on annual_income",
        "1",
    )
    scorer = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert scorer.predict(pd.DataFrame({"income": [0.1, 0.9]})).shape == (2,)
    assert registry.by_alias(store, NAME, registry.CHALLENGER).version == "3"


def test_a_version_that_failed_the_gates_can_never_be_champion(store):
    with pytest.raises(registry.RegistryError, match=r"v3 did not pass the promotion gates"):
        registry.promote(store, NAME, "3", actor="user:ana", reason="try")
    assert registry.by_alias(store, NAME, registry.CHAMPION).version == "2"


def test_rollback_to_previous_then_refusals(store):
    replaced, champion = registry.rollback(store, NAME, "previous", actor="user:ana", reason="complaints")
    assert (replaced.version, champion.version) == ("2", "1")
    assert registry.by_alias(store, NAME, registry.PREVIOUS).version == "2"
    assert champion.tags["promotion_reason"] == "rollback: complaints"
    with pytest.raises(registry.RegistryError, match="already champion"):
        registry.rollback(store, NAME, "1", actor="user:ana", reason="again")
    with pytest.raises(
        registry.RegistryError, match=r"v3 did not pass the hard gates \(hard_gates_passed='false'\)"
    ):
        registry.rollback(store, NAME, "3", actor="user:ana", reason="bad idea")
    with pytest.raises(registry.RegistryError, match=r"cannot read version 99 of credit_default"):
        registry.rollback(store, NAME, "99", actor="user:ana", reason="typo")
    with pytest.raises(registry.RegistryError, match="must be a version number or 'previous'"):
        registry.rollback(store, NAME, "../1", actor="user:ana", reason="typo")
    assert registry.by_alias(store, NAME, registry.CHAMPION).version == "1"


def test_a_version_short_only_of_the_improvement_margin_is_a_rollback_target_not_a_promotion(store):
    """v3 met every absolute gate but did not beat the champion of its day by the margin."""
    store.set_model_version_tag(NAME, "3", registry.HARD_GATES_TAG, "true")
    with pytest.raises(registry.RegistryError, match="did not pass the promotion gates"):
        registry.promote(store, NAME, "3", actor="schedule", reason="weekly")
    replaced, champion = registry.rollback(
        store, NAME, "3", actor="user:ana", reason="v1 misprices new products"
    )
    assert (replaced.version, champion.version) == ("1", "3")
    assert registry.by_alias(store, NAME, registry.PREVIOUS).version == "1"


def test_using_a_store_does_not_change_the_configuration_of_the_process(tmp_path, monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; registry.use must not let that leak
    into the settings every later read of this process gets."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.use(settings_module.load({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'other.db'}"}))
    assert "other.db" not in settings_module.load().mlflow_tracking_uri


def test_a_registry_refusing_a_call_names_its_uri_and_the_call(store):
    """An MLflow error (here: an unknown version) becomes a RegistryError saying where and what."""
    with pytest.raises(
        registry.RegistryError,
        match=rf"MLflow registry at sqlite:///.*: cannot read version 99 of "
        rf"{NAME}",
    ):
        registry.get(store, NAME, "99")


# ------------------------------------------------------------------ an unreachable tracking server


def test_a_refused_tracking_server_fails_at_once_naming_the_uri(monkeypatch):
    import socket
    import time

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    s = settings_module.load({"MLFLOW_TRACKING_URI": f"http://robot:secret@127.0.0.1:{port}/"})
    started = time.monotonic()
    with pytest.raises(
        registry.RegistryUnreachable, match=rf"at http://127\.0\.0\.1:{port}/ is unreachable"
    ) as info:
        registry.client(s)
    assert time.monotonic() - started < 5 and "secret" not in str(info.value)
    with pytest.raises(registry.RegistryUnreachable):
        registry.use(s)


def test_a_hung_tracking_server_fails_within_the_probe_timeout():
    import socket
    import time

    with socket.socket() as hung:  # accepts connections (the kernel's backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        s = settings_module.load(
            {
                "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{hung.getsockname()[1]}",
                "MLOPS_MLFLOW_CONNECT_TIMEOUT_SECONDS": "1",
            }
        )
        started = time.monotonic()
        with pytest.raises(registry.RegistryUnreachable, match="timed out.*probed for 1 s"):
            registry.client(s)
        assert time.monotonic() - started < 10


def test_an_answering_server_passes_the_probe_whatever_its_status():
    """A proxy that asks for credentials (401) or a server without /health (404) is reachable."""
    import http.server
    import threading

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry.client(
            settings_module.load({"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{server.server_port}"})
        )
    finally:
        server.shutdown()


def test_mlflow_http_retries_are_bounded_unless_the_process_set_its_own(monkeypatch):
    import os

    for name in settings_module.MLFLOW_HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    settings_module.mlflow_http_limits()
    assert (
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
        and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    )


def test_a_shadow_period_is_an_alias_and_tags_and_a_hand_set_alias_is_refused(store):
    from datetime import date
    from types import SimpleNamespace

    from include.shadow.lifecycle import current

    registry.start_shadow(store, NAME, "2", {"shadow_started": "2026-05-01", "shadow_against": "1"})
    assert registry.by_alias(store, NAME, registry.SHADOW).version == "2"
    assert registry.get(store, NAME, "2").tags["shadow_status"] == "running"
    s = settings_module.load({"MLFLOW_TRACKING_URI": store._registry_uri})
    found = current(SimpleNamespace(name=NAME), date(2026, 5, 9), settings=s)
    assert (found["version"], found["started"], found["against"], found["window_days"]) == (
        "2",
        "2026-05-01",
        "1",
        9,
    )
    # Ending another version's period leaves the alias alone; ending its own removes it.
    registry.end_shadow(store, NAME, "1", "retired", {"shadow_verdict": "replaced"})
    assert registry.by_alias(store, NAME, registry.SHADOW).version == "2"
    registry.end_shadow(store, NAME, "2", "retired", {"shadow_verdict": "expired"})
    assert registry.by_alias(store, NAME, registry.SHADOW) is None
    assert registry.get(store, NAME, "2").tags["shadow_status"] == "retired"
    assert current(SimpleNamespace(name=NAME), date(2026, 5, 9), settings=s) is None
    store.set_registered_model_alias(NAME, registry.SHADOW, "3")  # by hand, in the MLflow UI
    with pytest.raises(registry.RegistryError, match="points at v3, which has no shadow_started tag"):
        current(SimpleNamespace(name=NAME), date(2026, 5, 9), settings=s)
    store.delete_registered_model_alias(NAME, registry.SHADOW)
