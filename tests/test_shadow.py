"""The shadow verdict as a pure function of the paired live outcomes: DeLong at the Bonferroni
share of each daily look, decision agreement and approval rates, fairness of the shadow's
decisions, and the period's end."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from include import contract as contract_module
from include.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def credit():
    return contract_module.load("credit_applications", PROJECT_ROOT / "include" / "contracts")


def _paired(n: int, shadow_noise: float, champion_noise: float, seed: int = 0) -> pd.DataFrame:
    """``n`` applications with a latent risk; each model sees it through its own noise."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    positive = (rng.random(n) < 1 / (1 + np.exp(-(risk * 2 - 2)))).astype(int)

    def score(noise):
        return 1 / (1 + np.exp(-(risk + rng.normal(scale=noise, size=n) - 1.5)))

    return pd.DataFrame(
        {
            "positive": positive,
            "score": score(shadow_noise),
            "champion_score": score(champion_noise),
            "gender": np.where(rng.random(n) < 0.5, "F", "M"),
        }
    )


def test_a_significantly_better_shadow_is_promoted_with_the_look_level(credit):
    from include.shadow.evaluate import PROMOTE, judge, look_confidence
    from include.training.compare import delong

    frame = _paired(6000, shadow_noise=0.5, champion_noise=1.0)
    verdict = judge(frame, credit, day_number=9)
    assert verdict["verdict"] == PROMOTE and verdict["why"] == "significantly better", verdict["checks"]
    # 21 looks (28 days, 7 of label delay): each spends 0.05 / 21 of the error.
    assert look_confidence(credit) == pytest.approx(1 - 0.05 / 21)
    expected = delong(frame["positive"], frame["score"], frame["champion_score"], 1 - 0.05 / 21)
    assert verdict["comparison"] == expected.as_dict()
    assert expected.lower > 0
    declines = (frame[["score", "champion_score"]] >= credit.decision_threshold).to_numpy()
    assert verdict["agreement"] == pytest.approx((declines[:, 0] == declines[:, 1]).mean())
    assert verdict["approval_rate"]["shadow"] == pytest.approx(1 - declines[:, 0].mean())
    assert {c["name"]: c["passed"] for c in verdict["checks"]} == {
        "matured_outcomes": True,
        "superiority": True,
        "fairness": True,
        "decisions": True,
    }


def test_the_same_model_waits_then_expires(credit):
    from include.shadow.evaluate import RETIRE, WAIT, judge

    frame = _paired(6000, 1.0, 1.0).assign(score=lambda f: f["champion_score"])
    waiting = judge(frame, credit, day_number=10)
    assert (waiting["verdict"], waiting["agreement"], waiting["comparison"]["difference"]) == (WAIT, 1.0, 0.0)
    assert waiting["approval_rate"]["difference"] == 0.0
    expired = judge(frame, credit, day_number=credit.shadow.max_days)
    assert (expired["verdict"], expired["why"]) == (RETIRE, "expired")


def test_a_significantly_worse_shadow_is_retired(credit):
    from include.shadow.evaluate import RETIRE, judge

    verdict = judge(_paired(6000, shadow_noise=1.0, champion_noise=0.5), credit, day_number=9)
    assert (verdict["verdict"], verdict["why"]) == (RETIRE, "significantly worse")
    assert verdict["comparison"]["upper"] < 0


def test_too_few_outcomes_or_one_class_is_no_verdict(credit):
    from include.shadow.evaluate import RETIRE, WAIT, judge

    few = judge(_paired(999, 0.5, 1.0), credit, day_number=9)
    assert few["verdict"] == WAIT and "comparison" not in few
    assert few["checks"][0]["message"].startswith("999 matured outcomes")
    repaid = _paired(5000, 0.5, 1.0).assign(positive=0)
    assert judge(repaid, credit, day_number=9)["verdict"] == WAIT
    assert judge(repaid, credit, day_number=28)["verdict"] == RETIRE
    strict = replace(credit, shadow=replace(credit.shadow, min_outcomes=10_000))
    assert judge(_paired(6000, 0.5, 1.0), strict, day_number=9)["verdict"] == WAIT


def test_a_better_shadow_whose_decisions_are_unfair_is_retired(credit):
    from include.shadow.evaluate import RETIRE, judge

    frame = _paired(6000, shadow_noise=0.5, champion_noise=1.0)
    women = frame["gender"] == "F"
    # The shadow declines every woman it would have declined at a much lower score.
    frame.loc[women, "score"] = np.minimum(1.0, frame.loc[women, "score"] * 3)
    verdict = judge(frame, credit, day_number=9)
    assert verdict["verdict"] == RETIRE and verdict["why"].startswith(
        "unfair decisions: approval_ratio by gender"
    )
    champion_ratio = next(c for c in verdict["fairness"]["champion"] if c["metric"] == "approval_ratio")
    assert not champion_ratio["crossed"]


def test_a_small_group_is_named_and_only_blocks_a_shadow_when_the_contract_says_block(credit):
    from include.shadow.evaluate import PROMOTE, RETIRE, judge

    frame = _paired(6000, shadow_noise=0.5, champion_noise=1.0)
    frame.loc[:39, "gender"] = "X"  # 40 applications: under min_group_rows (100)
    verdict = judge(frame, credit, day_number=9)
    assert verdict["verdict"] == PROMOTE, verdict["checks"]
    ratio = next(c for c in verdict["fairness"]["shadow"] if c["metric"] == "approval_ratio")
    assert {g["group"]: g["judged"] for g in ratio["groups"]} == {"F": True, "M": True, "X": False}
    assert {c["metric"] for c in verdict["fairness"]["shadow"]} == {"approval_ratio", "tpr_gap", "fpr_gap"}
    fairness = replace(credit.monitoring.fairness, small_groups="block")
    strict = replace(credit, monitoring=replace(credit.monitoring, fairness=fairness))
    blocked = judge(frame, strict, day_number=9)
    assert blocked["verdict"] == RETIRE and "X (n=40)" in blocked["why"], blocked["why"]


def test_a_selection_model_is_judged_on_its_selections(credit):
    from include.shadow.evaluate import judge

    frame = _paired(6000, shadow_noise=0.5, champion_noise=1.0)
    hiring = replace(credit, labels=replace(credit.labels, favorable="positive"))
    verdict = judge(frame, hiring, day_number=9)
    selected = (frame["score"] >= hiring.decision_threshold).mean()
    assert verdict["approval_rate"]["shadow"] == pytest.approx(selected)
    ratio = next(c for c in verdict["fairness"]["shadow"] if c["metric"] == "approval_ratio")
    rates = frame.assign(s=frame["score"] >= 0.5).groupby("gender")["s"].mean()
    assert ratio["value"] == pytest.approx(rates.min() / rates.max())


def test_only_a_counted_decline_ends_a_shadow(credit, tmp_path):
    """An answer that did not count (approval_refused) leaves the request open for another
    approver, so the shadow keeps running; a decline by an approver ends it."""
    from include import audit
    from include import settings as settings_module
    from include.shadow import lifecycle

    settings = settings_module.load(
        {"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_LOCAL_DIR": str(tmp_path / "local")}
    )
    run = "scheduled__2026-03-02T04:40:00+00:00"

    def record(kind, actor, task):
        event = {
            "type": kind,
            "time": "2026-03-02T05:00:00+00:00",
            "actor": actor,
            "dag_run_id": run,
            "model": credit.name,
            "version": "3",
        }
        audit.record(
            [event],
            interval=(date(2026, 3, 1), date(2026, 3, 2)),
            dag_run_id=run,
            task=task,
            settings=settings,
        )

    record("shadow_started", "schedule", "start_shadow")
    assert lifecycle.declined(credit, "3", settings) is None
    record("approval_refused", "user:admin", "request_approval")
    assert lifecycle.declined(credit, "3", settings) is None
    record("declined", "user:ro", "request_approval")
    why = lifecycle.declined(credit, "3", settings)
    assert why is not None and "declined by user:ro" in why
