"""The estimated AUC's sampling band and the drop rule: the band is the estimate's bootstrap
error at the contract's confidence (checked against repeated days of one population, and its
realized twin against Hanley & McNeil and the realized AUC), deterministic, and a day whose
calibrated scores separate less alerts by the drop rule while still above the floor. Days are
judged by ``estimated.estimate`` on captures in a real storage root, with the calibration read
from versions registered in a real MLflow store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from include import contract as contract_module
from include import registry
from include import settings as settings_module
from include.monitoring import estimated
from include.settings import PROJECT_ROOT
from tests.support.paths import CONTRACTS_DIR

CREDIT = contract_module.load("credit_applications", CONTRACTS_DIR)
LIMITS = CREDIT.monitoring.estimated
DAY = date(2026, 6, 1)


def _population(rows: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a calibrated-by-construction risk (seen through a monotone, uncalibrated score)
    and outcomes drawn from it; a smaller ``spread`` of the latent risk separates less."""
    rng = np.random.default_rng(seed)
    probability = 1 / (1 + np.exp(-(-2.4 + 2.6 * rng.normal(0, spread, rows))))
    outcomes = (rng.random(rows) < probability).astype(int)
    return np.round(np.sqrt(probability), 6), outcomes


REFERENCE_SCORES, REFERENCE_OUTCOMES = _population(8000, 1.0, seed=1)  # the training holdout
ARTIFACT = estimated.calibration_artifact(REFERENCE_OUTCOMES, REFERENCE_SCORES, LIMITS.confidence)


def _band(scores: np.ndarray) -> dict:
    return estimated.sampling_band(scores, estimated.calibrated(ARTIFACT, scores), LIMITS.confidence)


def _hanley_mcneil(auc: float, positives: float, negatives: float) -> float:
    """Hanley & McNeil (1982): the standard error of an AUC on that many positives and negatives."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return (variance / (positives * negatives)) ** 0.5


# ------------------------------------------------------------------------------ the band
def test_the_band_contains_the_estimate_and_narrows_with_more_rows():
    small, large = _band(_population(1000, 1.0, seed=2)[0]), _band(_population(16_000, 1.0, seed=3)[0])
    for found in (small, large):
        low, high = found["band"]
        assert low < found["estimated_auc"] < high and found["confidence"] == LIMITS.confidence
        r_low, r_high = found["realized_band"]
        assert r_low < low and high < r_high  # the labels' own noise comes on top of the estimate's
    # 16 times the rows: a band about 4 times narrower (the error falls as 1 / sqrt(rows)).
    ratio = (small["band"][1] - small["band"][0]) / (large["band"][1] - large["band"][0])
    assert 3 < ratio < 5.5, ratio


def test_the_same_scores_give_the_same_band_to_the_last_digit_in_another_process():
    scores = _population(3000, 0.9, seed=4)[0]
    first, again = _band(scores), _band(scores)
    assert first == again
    code = (
        "import json, sys, numpy as np\n"
        "from include.monitoring import estimated\n"
        "d = json.load(sys.stdin)\n"
        "s = np.array(d['scores'])\n"
        "b = estimated.sampling_band(s, estimated.calibrated(d['map'], s), d['confidence'])\n"
        "print(json.dumps(b))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps({"scores": scores.tolist(), "map": ARTIFACT, "confidence": LIMITS.confidence}),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == json.loads(json.dumps(first))


def test_the_bands_hold_their_confidence_over_repeated_days_of_one_population():
    """40 days of 1,500 applications from the reference population: the estimates spread as
    the band's error says, and the realized AUC lands in the realized band about 95 % of days,
    with an error close to Hanley & McNeil's on the expected positives and negatives."""
    estimates, errors, covered, ratios = [], [], 0, []
    for seed in range(100, 140):
        scores, outcomes = _population(1500, 1.0, seed=seed)
        found = _band(scores)
        estimates.append(found["estimated_auc"])
        errors.append(found["standard_error"])
        low, high = found["realized_band"]
        covered += low <= roc_auc_score(outcomes, scores) <= high
        p = estimated.calibrated(ARTIFACT, scores)
        ratios.append(
            found["realized_standard_error"] / _hanley_mcneil(found["estimated_auc"], p.sum(), (1 - p).sum())
        )
    assert 0.7 < np.std(estimates, ddof=1) / np.mean(errors) < 1.4
    assert covered >= 35, covered
    assert 0.65 < np.mean(ratios) < 1.1, np.mean(ratios)  # Hanley-McNeil runs wide on these scores


def test_the_reference_is_the_holdouts_own_estimate_with_its_band():
    reference = ARTIFACT["reference"]
    holdout = _band(REFERENCE_SCORES)
    assert reference["estimated_auc"] == holdout["estimated_auc"] and reference["band"] == holdout["band"]
    assert reference["rows"] == 8000 and reference["confidence"] == LIMITS.confidence
    assert abs(reference["realized_auc"] - roc_auc_score(REFERENCE_OUTCOMES, REFERENCE_SCORES)) < 1e-12
    assert {k: ARTIFACT[k] for k in ("scores", "probabilities")} == {
        k: estimated.calibration_map(REFERENCE_OUTCOMES, REFERENCE_SCORES)[k]
        for k in ("scores", "probabilities")
    }


def test_training_logs_the_reference_estimate_with_the_calibration():
    """``monitoring_reference``, as train_challenger calls it, on a model trained on simulated days."""
    from include.simulator import credit as simulator
    from include.training.candidates import features, search
    from include.training.challenger import Evaluation, monitoring_reference
    from include.training.dataset import time_split
    from include.training.reasons import typical_values

    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(4)]
    data = simulator.labelled_applications(days, seed=3, rows=1500, maturity_days=CREDIT.labels.maturity_days)
    splits = time_split(data, CREDIT)
    model = search(CREDIT, splits.train, splits.validation, candidates=1).best
    x = features(splits.holdout, CREDIT)
    y = splits.holdout["defaulted"].to_numpy(dtype=int)
    scores = model.predict_proba(x)[:, 1]
    evaluation = Evaluation(x, y, scores, {}, 0.0, None, None)
    logged = monitoring_reference(
        CREDIT, evaluation, model, typical_values(features(splits.train, CREDIT)), 0
    )
    calibration = logged[estimated.CALIBRATION]
    assert calibration == json.loads(json.dumps(calibration))  # logged as JSON as it is
    reference = calibration["reference"]
    assert reference["rows"] == len(y) and reference["confidence"] == LIMITS.confidence
    assert reference["band"][0] < reference["estimated_auc"] < reference["band"][1]
    assert reference["realized_auc"] == pytest.approx(roc_auc_score(y, scores))


# ------------------------------------------------------------------------------ the rules
def _register(s, calibration: dict) -> str:
    """A version of the credit model whose run holds ``calibration`` as its calibration.json."""
    client = registry.client(s)
    if not registry.exists(client, CREDIT.name):
        client.create_registered_model(CREDIT.name)
    from include.training.tracking import experiment_id

    # The package's own experiment: artifacts under the storage root, never ./mlruns.
    experiment = experiment_id(s, f"band-{len(client.search_experiments())}")
    run = client.create_run(experiment)
    client.log_dict(run.info.run_id, calibration, estimated.CALIBRATION)
    return str(
        client.create_model_version(CREDIT.name, f"runs:/{run.info.run_id}/model", run.info.run_id).version
    )


def _capture(s, day: date, scores: np.ndarray, version: str) -> None:
    """The scoring service's capture of ``day`` (its first hour): each application with its score."""
    from include import storage
    from include.monitoring.window import hour_path
    from include.simulator.land import to_parquet_bytes

    hour = datetime.combine(day, time(0), tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "application_id": [f"{day}-{n}" for n in range(len(scores))],
            "request_ts": pd.Timestamp(hour) + pd.to_timedelta(np.arange(len(scores)) % 3600, unit="s"),
            "score": scores,
            "model_version": version,
        }
    )
    storage.write_bytes_atomic(hour_path(CREDIT.name, hour, s), to_parquet_bytes(frame))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("estimated-band")
    s = settings_module.load(
        {
            "MLOPS_LOCAL_DIR": str(root),
            "MLOPS_STORAGE_ROOT": (root / "storage").as_uri(),
            "MLOPS_TIMEZONE": "UTC",
        }
    )
    with_reference = _register(s, ARTIFACT)
    # As versions registered before the band logged it: the calibration map alone.
    without_reference = _register(s, estimated.calibration_map(REFERENCE_OUTCOMES, REFERENCE_SCORES))
    return s, with_reference, without_reference


def _judge(s, day: date, scores: np.ndarray, version: str) -> tuple[dict, bool]:
    _capture(s, day, scores, version)
    record = estimated.estimate(CREDIT, day, settings=s)
    return record, estimated.alert(CREDIT, record, dag_run_id=f"scheduled__{day}", settings=s)


def _alerts(s, day: date) -> tuple[list[dict], list[dict]]:
    from include import audit, notify

    events = [
        e for e in audit.read(day, day, by="data", settings=s) if e["type"] == "estimated_auc_below_floor"
    ]
    return events, notify.read_outbox(day, day, settings=s)


def test_a_day_the_model_separates_less_alerts_by_the_drop_rule_while_above_the_floor(store):
    s, version, _ = store
    scores, outcomes = _population(6000, 0.8, seed=5)  # a narrower population: harder to rank
    record, alerted = _judge(s, DAY, scores, version)
    reference = ARTIFACT["reference"]["estimated_auc"]
    low, high = record["band"]
    assert record["status"] == "estimated" and alerted
    assert CREDIT.auc_floor < low < record["estimated_auc"] < high < reference - LIMITS.max_drop, record
    assert not record["below_floor"] and record["dropped"]
    assert record["drop_line"] == pytest.approx(reference - LIMITS.max_drop)
    assert record["reference"]["estimated_auc"] == reference and record["max_drop"] == LIMITS.max_drop
    (rule,) = record["rules"]
    assert rule["rule"] == "dropped" and rule["band"] == [low, high] and rule["reference_auc"] == reference
    assert f"{high:.4f}" in rule["text"] and f"{reference:.4f}" in rule["text"]
    # The labels will agree: the day's realized AUC is more than max_drop below the holdout's.
    assert roc_auc_score(outcomes, scores) < ARTIFACT["reference"]["realized_auc"] - LIMITS.max_drop

    (event,), (notice,) = _alerts(s, DAY)
    assert (
        event["rules"] == ["dropped"] and event["band"] == [low, high] and event["reference_auc"] == reference
    )
    assert (
        notice["kind"] == "estimated_performance_alert" and "dropped below the reference" in notice["subject"]
    )
    assert rule["text"] in notice["message"]
    # The morning's rerun reads the stored record and alerts nobody again.
    again = estimated.estimate(CREDIT, DAY, settings=s)
    assert again == record and estimated.alert(CREDIT, again, dag_run_id="rerun", settings=s)
    assert len(_alerts(s, DAY)[1]) == 1


def test_a_day_like_the_reference_does_not_alert(store):
    s, version, _ = store
    day = DAY + timedelta(days=1)
    record, alerted = _judge(s, day, _population(6000, 1.0, seed=6)[0], version)
    assert record["status"] == "estimated" and not alerted and record["rules"] == []
    assert not record["dropped"] and not record["below_floor"]
    assert (
        record["band"][1] > record["drop_line"] and record["band"][0] < ARTIFACT["reference"]["estimated_auc"]
    )
    assert _alerts(s, day) == ([], [])


def test_a_day_far_below_names_both_rules(store):
    s, version, _ = store
    day = DAY + timedelta(days=2)
    record, alerted = _judge(s, day, _population(6000, 0.5, seed=7)[0], version)
    assert alerted and [r["rule"] for r in record["rules"]] == ["below_floor", "dropped"], record
    assert "below the floor and dropped below the reference" in _alerts(s, day)[1][0]["subject"]


def test_a_calibration_without_reference_judges_on_the_floor_alone_and_says_so(store):
    s, _, old = store
    day = DAY + timedelta(days=3)
    record, alerted = _judge(s, day, _population(6000, 0.8, seed=5)[0], old)  # the day that dropped above
    assert record["status"] == "estimated" and record["model_version"] == old
    assert record["reference"] == "missing" and record["drop_line"] is None
    assert (
        "no reference estimate" in record["reference_detail"] and "no drop rule" in record["reference_detail"]
    )
    assert record["band"][1] < ARTIFACT["reference"]["estimated_auc"] - LIMITS.max_drop  # would have dropped
    assert not record["dropped"] and record["rules"] == [] and not alerted
    assert _alerts(s, day) == ([], [])
    # Below the floor it still alerts, by the floor rule.
    day = DAY + timedelta(days=4)
    record, alerted = _judge(s, day, _population(6000, 0.5, seed=7)[0], old)
    assert (
        alerted
        and record["reference"] == "missing"
        and [r["rule"] for r in record["rules"]] == ["below_floor"]
    )


def test_the_history_and_the_page_carry_the_band_and_the_rules(store):
    from include.health import outcomes

    s, _, _ = store
    first, last = DAY, DAY + timedelta(days=1)
    found = estimated.history(CREDIT, first, last, settings=s)
    assert [h["rules"] for h in found] == [["dropped"], []]
    page = outcomes.performance(CREDIT, first, last, settings=s)
    stored = [estimated.estimate(CREDIT, d, settings=s) for d in (first, last)]
    assert page["estimated_low"] == [r["band"][0] for r in stored]
    assert page["estimated_high"] == [r["band"][1] for r in stored]
    assert page["drop_line"] == [r["drop_line"] for r in stored]
    assert page["max_drop"] == LIMITS.max_drop and page["confidence"] == LIMITS.confidence
    (shown,) = page["estimated_alerts"]
    assert shown["day"] == first.isoformat() and shown["rules"] == [stored[0]["rules"][0]["text"]]
