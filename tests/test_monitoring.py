"""The monitors' window, history, sustained-drift rule, alerts and retraining request, on a real
storage root."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from include.monitoring import history, window
from include.monitoring.sustained import decide

END = datetime(2026, 3, 10, 10, tzinfo=UTC)


def _record(
    end: datetime, *, drift=True, incident=False, drifted=("annual_income",), status="judged"
) -> dict:
    return {
        "dataset": "credit_applications",
        "window_end": end.isoformat(),
        "status": status,
        "report": None,
        "alert": drift or incident,
        "result": {
            "dataset_drift": drift,
            "data_quality_incident": incident,
            "drifted_columns": list(drifted),
            "share_drifted": 0.1,
            "columns": [
                {
                    "column": "annual_income",
                    "statistic": 0.3 if drift else 0.02,
                    "threshold": 0.1,
                    "p_adjusted": None,
                }
            ],
        },
    }


def test_a_window_is_the_whole_hours_before_the_interval_end():
    start, end = window.bounds(datetime(2026, 3, 10, 10, 5, tzinfo=UTC), 6)
    assert (start, end) == (END - timedelta(hours=6), END)
    assert len(window.hours(start, end)) == 6


def test_reading_a_window_lists_missing_hours(settings, credit):
    from include.simulator.land import land_capture_hour

    for hour in (END - timedelta(hours=3), END - timedelta(hours=1)):
        land_capture_hour(credit, hour, settings=settings)
    live = window.read(credit.name, END - timedelta(hours=3), END, settings)
    assert live.hours_read == ["2026-03-10T07:00Z", "2026-03-10T09:00Z"]
    assert live.hours_missing == ["2026-03-10T08:00Z"]
    assert live.rows > 0 and {"score", "model_version", "annual_income"} <= set(live.frame.columns)
    assert window.scoring_version(live) is None  # landed without a scorer


def test_the_first_record_of_a_window_wins(settings):
    first, uri = history.write_record("credit_applications", END, _record(END), settings)
    again, uri_again = history.write_record("credit_applications", END, _record(END, drift=False), settings)
    assert uri == uri_again and again == first and again["result"]["dataset_drift"] is True
    assert uri.endswith("monitoring/credit_applications/drift/dt=2026-03-10/hour=10.json")


def test_history_reads_back_in_order_and_draws_the_plot(settings):
    for n in range(5):
        history.write_record(
            "credit_applications",
            END - timedelta(hours=n),
            _record(END - timedelta(hours=n), drift=n < 2),
            settings,
        )
    records = history.between("credit_applications", END - timedelta(hours=3), END, settings)
    assert [r["window_end"][11:16] for r in records] == ["07:00", "08:00", "09:00", "10:00"]
    recent = history.recent("credit_applications", END + timedelta(hours=1), 3, settings)
    assert recent[-1] is None and recent[0]["window_end"] == (END - timedelta(hours=1)).isoformat()
    trigger, promoted = END - timedelta(hours=1), END - timedelta(hours=2, minutes=30)
    outside = END - timedelta(days=2)  # before the plotted windows: not marked
    marked = history.marks(records, [trigger, outside], [(promoted, "v2"), (outside, "v1")])
    assert marked == {
        "alerts": [END - timedelta(hours=1), END],  # the two drifted windows alerted
        "triggers": [trigger],
        "changes": [(promoted, "v2")],
    }
    uri = history.plot(
        "credit_applications",
        records,
        settings,
        drift_share=0.3,
        triggers=[trigger],
        changes=[(promoted, "v2")],
    )
    assert uri == f"{settings.storage_root}/monitoring/credit_applications/drift_scores.png"
    assert Path(uri.removeprefix("file://")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "windows, retrain, reason",
    [
        ([{"drift": True}, {"drift": True}], True, "drift sustained over 2 windows in annual_income"),
        ([{"drift": False}, {"drift": True}], False, "not sustained"),
        ([{"drift": True}, {"drift": True, "incident": True}], False, "data-quality incident"),
        ([{"drift": True}, {"status": "too_few_rows"}], False, "not all judged"),
        ([None, {"drift": True}], False, "not all judged"),
        # The incident's last broken hour still sits in these windows, unflagged: not sustained drift.
        (
            [{"incident": True}, {"drift": True}, {"drift": True}],
            False,
            "data-quality incident in a window sharing",
        ),
        (
            [{"incident": True}, {"drift": False}, {"drift": False}, {"drift": True}, {"drift": True}],
            True,
            "drift sustained",
        ),
    ],
)
def test_sustained_drift_rule(settings, credit, windows, retrain, reason):
    for n, spec in enumerate(reversed(windows)):
        if spec is not None:
            end = END - timedelta(hours=n)
            history.write_record(credit.name, end, _record(end, **spec), settings)
    decision = decide(credit, END, settings=settings)
    assert decision.retrain is retrain and reason in decision.reason


def test_the_cooldown_blocks_a_second_trigger_within_24_hours(settings, credit):
    for n in range(4):
        end = END - timedelta(hours=n)
        history.write_record(credit.name, end, _record(end), settings)
    history.record_trigger(credit.name, END - timedelta(hours=2), {"reason": "drift"}, settings)
    blocked = decide(credit, END, settings=settings)
    assert (
        not blocked.retrain and "cooldown" in blocked.reason and blocked.drifted_features == ["annual_income"]
    )
    assert history.last_trigger(credit.name, END, settings) == END - timedelta(hours=2)
    # 24 hours after that trigger the same drift may trigger again.
    later = END - timedelta(hours=2) + timedelta(hours=24)
    for n in range(2):
        end = later - timedelta(hours=n)
        history.write_record(credit.name, end, _record(end), settings)
    assert decide(credit, later, settings=settings).retrain


@pytest.mark.parametrize("kind", ["drift", "performance"])
def test_a_monitor_asks_for_a_forced_automatic_retraining(settings, credit, kind):
    from include.run_target import RunParamsError
    from include.training.request import monitor_request, record, resolve

    conf = monitor_request(
        credit,
        kind=kind,
        reason=f"{kind}: the champion is failing",
        window_days=8,
        evidence={"window_end": END.isoformat(), "cohort": "2026-03-09"},
    )
    assert conf["force"] is True and conf["promotion_mode"] == "auto" and conf["dataset"] == credit.name
    assert conf["evidence"] == {
        "source": "monitor",
        "kind": kind,
        "window_end": END.isoformat(),
        "cohort": "2026-03-09",
    }
    # Until the monitor records its request, the conf alone makes nobody the monitor.
    with pytest.raises(RunParamsError, match="no monitor recorded a request"):
        resolve(conf, run_type="manual", interval_end=END, run_id=f"{kind}__x", settings=settings)
    run_id = record(conf, settings)
    assert (
        run_id
        == {
            "drift": "drift__credit_applications__2026-03-10T1000",
            "performance": "performance__credit_applications__2026-03-09",
        }[kind]
    )
    request = resolve(
        conf, run_type="manual", interval_end=END, run_id=run_id, triggered_by="alice", settings=settings
    )
    assert (
        request.force and request.mode == "auto" and request.actor == "monitor" and request.window_days == 8
    )
    # The recorded request is what the run may carry: an edited copy is refused.
    with pytest.raises(RunParamsError, match="force of run .* differ from the monitor's request"):
        resolve(
            conf | {"force": False}, run_type="manual", interval_end=END, run_id=run_id, settings=settings
        )
    with pytest.raises(ValueError, match="monitor kind"):
        monitor_request(credit, kind="latency", reason="x", window_days=8, evidence={})


def test_each_alert_is_audited_and_sent_once_across_reruns(settings, credit):
    from include import audit, notify
    from include.monitoring.alerts import performance_alert, publish_alert, record_retrain_trigger
    from include.training.request import monitor_request

    cohort = (END - timedelta(days=8)).date()
    summary = {
        "window_start": (END - timedelta(hours=24)).isoformat(),
        "window_end": END.isoformat(),
        "alert": True,
        "data_quality_incident": False,
        "model_version": "1",
        "drifted_columns": ["annual_income"],
        "share_drifted": 0.4,
        "quality": [],
        "report": None,
    }
    trigger = monitor_request(
        credit,
        kind="drift",
        reason="drift: sustained",
        window_days=28,
        evidence={
            "window_end": END.isoformat(),
            "windows": [END.isoformat()],
            "drifted_features": ["annual_income"],
            "reports": [],
        },
    )
    result = {
        "cohort": cohort.isoformat(),
        "auc": 0.71,
        "auc_floor": credit.auc_floor,
        "labelled": 900,
        "model_versions": {"1": 900},
    }
    for run in ("run-1", "run-2"):  # the second is a rerun of the same window and cohort
        assert (
            publish_alert(credit, summary, dag_run_id=run, settings=settings) is None
        )  # nothing judged to plot
        record_retrain_trigger(credit, trigger, dag_run_id=run, settings=settings)
        conf = performance_alert(credit, result, window_days=8, dag_run_id=run, settings=settings)
        assert conf["force"] is True and conf["evidence"]["kind"] == "performance"
    assert history.last_trigger(credit.name, END + timedelta(hours=1), settings) == END
    events = audit.read(cohort, END.date(), by="data", settings=settings)
    assert sorted(e["type"] for e in events) == ["drift_detected", "retrain_triggered", "retrain_triggered"]
    # each names the data it is about: the drifted window, the triggering windows, the cohort
    assert sorted(e["data_interval"]["start"][:13] for e in events) == sorted(
        [(END - timedelta(hours=24)).isoformat()[:13], END.isoformat()[:13], cohort.isoformat()]
    )
    sent = [n["kind"] for n in notify.read_outbox(cohort, END.date(), settings=settings)]
    assert sorted(sent) == ["drift_alert", "performance_alert", "retrain_triggered"]
