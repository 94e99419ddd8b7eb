"""`make demo`: the whole loop on the embedded defaults, told as a timeline.

1. ingest 22 simulated days through ``nightly_ingestion``;
2. train champion v1 with ``weekly_retraining`` on the first 14 of them, the week before the
   last; v1 then serves the applications of that week (the capture of its first and last day);
3. monitor hourly with ``drift_monitoring`` while the simulator shifts incomes from the night
   after the last day (scenario ``income_shift``);
4. the sensor finds the drift sustained and triggers ``weekly_retraining``; that very run
   (``drift__...``) trains v2, judges it and promotes it;
5. the morning after: ``performance_monitoring`` judges v1's first served day, whose outcomes have
   matured (realized AUC against the floor), and ``decision_monitoring`` the last day's decisions
   (bias by group, attribution drift, estimated AUC); then it says how to open the Model health page.

Every run is a run of the real DAG, executed in this process (``runner``) and recorded as what it
is: a manual run by the user running the demo, or the run the sensor triggered. One progress
line per step while it runs; then the timeline, then the details. Task logs go to Airflow's log
folder, where ``make airflow`` shows them. State lands in .local/ (Airflow DB, storage, MLflow).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time as clock
from datetime import UTC, date, datetime, time, timedelta

from include.demo.runner import print_to_console as say

INGEST, RETRAIN, MONITOR = "nightly_ingestion", "weekly_retraining", "drift_monitoring"
PERFORMANCE, DECISIONS = "performance_monitoring", "decision_monitoring"
TRAINING_DAYS = 14  # the first model's window; the days after it are served, then judged
MONITOR_HOURS = 12  # hourly runs after the onset at most; the trigger comes long before
DEMO_SEARCH_CANDIDATES = 4  # of the search plan's 11 (both families); a run's choice stays reproducible


def _table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header] + rows
    )


class Story:
    """What the demo tells: progress while it runs, then the timeline and the details."""

    def __init__(self, steps: int):
        self.steps, self.step, self.timeline, self.details, self.ok = steps, 0, [], [], True

    def begin(self, what: str) -> float:
        self.step += 1
        say(f"[{self.step}/{self.steps}] {what} ...")
        return clock.monotonic()

    def end(self, started: float, result: str = "done") -> None:
        say(f"      {result} in {clock.monotonic() - started:.0f} s")

    def run_line(self, run) -> str:
        who = run.triggering_user_name or (run.triggered_by.value if run.triggered_by else "?")
        return f"{run.dag_id} run {run.run_id} ({run.run_type}, by {who}, {_seconds(run)} s, {run.state})"


def _seconds(run) -> str:
    return (
        f"{(run.end_date - run.start_date).total_seconds():.0f}" if run.end_date and run.start_date else "?"
    )


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    from include import settings

    bag = DagBag(str(settings.PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag


def _report(feed: str, day: date) -> dict | None:
    from include import storage
    from include.ingestion.commit import read_report

    for zone in ("curated", "quarantine"):
        report = read_report(storage.partition(zone, feed, day))
        if report is not None and (zone == "quarantine" or report["status"] == "passed"):
            return report
    return None


def ingest(story: Story, days: list[date]) -> None:
    from include import contract, settings, storage
    from include.demo.runner import run

    dag = _bag().dags[INGEST]
    feeds = [f.name for f in contract.load(settings.get().dataset).feeds()]
    started = story.begin(f"ingesting {len(days)} simulated days with {INGEST} ({len(feeds)} feeds)")
    rows, runs = [], []
    for day in days:
        # The 02:00 run of the next morning covers this day.
        dag_run = run(dag, run_after=datetime.combine(day + timedelta(days=1), time(2), tzinfo=UTC))
        runs.append(dag_run)
        counts = [(_report(feed, day) or {}).get("counts", {}) for feed in feeds]
        rows.append(
            (
                day.isoformat(),
                str(dag_run.state),
                *("/".join(str(c.get(k, "-")) for k in ("landed", "curated", "quarantined")) for c in counts),
            )
        )
    story.end(started)
    story.ok &= all(r.state == "success" for r in runs)
    totals = {
        f: [sum(int(r[2 + i].split("/")[k]) for r in rows if r[2 + i].count("/") == 2) for k in range(3)]
        for i, f in enumerate(feeds)
    }
    story.timeline.append(
        f"{INGEST}: {len(runs)} manual runs by {getpass.getuser()} ({runs[0].run_id} .. {runs[-1].run_id}), "
        f"{sum(r.state == 'success' for r in runs)} succeeded; "
        + "; ".join(f"{f} {t[0]} landed, {t[1]} curated, {t[2]} quarantined" for f, t in totals.items())
    )
    story.details.append(
        "ingestion per day, landed/curated/quarantined (each quarantined row keeps its reason "
        f"under {storage.describe(storage.path('quarantine'))}):\n" + _table(("date", "run", *feeds), rows)
    )


def retrain(story: Story, dag_run, label: str) -> None:
    """Tell what a weekly_retraining run did, from the audit trail and the registry."""
    from include import audit, registry, settings

    config = settings.get()
    day = dag_run.data_interval_end.astimezone(UTC).date() - timedelta(days=1)
    events = [e for e in audit.read(day, day, by="data") if e["dag_run_id"] == dag_run.run_id]
    registered = next((e for e in events if e["type"] == "registered"), None)
    if registered is None:
        story.ok = False
        story.timeline.append(f"{label}: {story.run_line(dag_run)} registered no model; see its task logs")
        return
    name, version = registered["model"], registered["version"]
    decision = next((e for e in events if e["type"] in ("promoted", "rejected")), {})
    champion = registry.by_alias(registry.client(config), name, registry.CHAMPION)
    replaced = decision.get("replaced_version")
    outcome = (
        (
            f"promoted by {decision['actor']}, replacing v{replaced}"
            if replaced
            else f"promoted by {decision['actor']}: the first champion"
        )
        if decision.get("type") == "promoted"
        else f"not promoted: failed {decision.get('failed_gates')}"
    )
    story.ok &= dag_run.state == "success"
    story.timeline.append(
        f"{label}: {story.run_line(dag_run)}: {name} v{version}, holdout AUC "
        f"{registered['metrics']['roc_auc']:.4f}, {outcome}"
    )
    story.details.append(
        f"{name} v{version} ({dag_run.run_id}): trained on {registered['window'][0]}..{registered['window'][1]}; "
        f"reason: {registered['reason']}\nholdout: "
        + ", ".join(f"{k} {v:.4f}" for k, v in registered["metrics"].items())
        + "\n"
        + _table(
            ("gate", "result", "observed", "threshold"),
            [
                (e["name"], "pass" if e["passed"] else "FAIL", e["observed"], e["threshold"])
                for e in events
                if e["type"] == "gate_result"
            ],
        )
        + f"\nchampion is now v{champion.version if champion else '-'}"
        + _why_the_same(events, registered)
    )


def _why_the_same(events: list[dict], registered: dict) -> str:
    """A retraining the monitor triggered hours after a shift learns from the outcomes that have
    matured, the same the champion learned from: say so rather than leave identical metrics
    unexplained."""
    gain = next((e for e in events if e["type"] == "gate_result" and e["name"] == "min_improvement"), {})
    if gain.get("observed") not in (0, 0.0) or "forced" not in gain.get("message", ""):
        return ""
    return (
        "\nsame metrics as the champion: the shifted traffic's outcomes have not matured yet (labels take "
        "the contract's maturity_days), so it learned from the champion's outcomes; the trigger forced the "
        "promotion past min_improvement, and the reference profile now describes the traffic's period."
    )


def serve(story: Story, days: list[date]) -> None:
    """The champion serves ``days``: the scoring service's capture of each of their hours."""
    from include import contract, settings
    from include.monitoring.capture import land_missing_hours

    config = settings.get()
    started = story.begin(f"serving {', '.join(d.isoformat() for d in days)} with the champion (capture)")
    landed = 0
    for day in days:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        landed += len(land_missing_hours(contract.load(config.dataset), start, start + timedelta(days=1)))
    story.end(started, f"{landed} capture hours")
    story.timeline.append(
        f"the champion scored the applications of {', '.join(d.isoformat() for d in days)} "
        f"({landed} hours of capture)"
    )


def judge_the_morning_after(story: Story, end: date) -> None:
    """``performance_monitoring`` (04:30) and ``decision_monitoring`` (04:45) of the morning after
    the last day: the realized AUC of the newest matured cohort, and yesterday's decisions."""
    from include import contract, settings
    from include.demo.runner import run
    from include.monitoring import bias, daily, estimated
    from include.monitoring.performance import cohort_for

    config = settings.get()
    credit = contract.load(config.dataset)
    morning = end + timedelta(days=1)
    started = story.begin(f"judging the morning after: {PERFORMANCE} and {DECISIONS}")
    performance = run(_bag().dags[PERFORMANCE], run_after=datetime.combine(morning, time(4, 30), tzinfo=UTC))
    decisions = run(_bag().dags[DECISIONS], run_after=datetime.combine(morning, time(4, 45), tzinfo=UTC))
    story.end(started)
    story.ok &= performance.state == "success" and decisions.state == "success"
    cohort = cohort_for(credit, performance.data_interval_end, config.timezone)
    realized = daily.stored(credit.name, "performance", cohort) or {}  # performance.record_path's record
    if realized.get("status") == "judged":
        story.timeline.append(
            f"{story.run_line(performance)}: cohort {cohort} (outcomes matured), realized AUC "
            f"{realized['auc']:.4f} on {realized['labelled']} applications, floor {credit.auc_floor}: "
            + ("below, retraining" if realized["below_floor"] else "healthy")
        )
    else:
        story.timeline.append(f"{story.run_line(performance)}: cohort {cohort}: {realized.get('status')}")
    day = morning - timedelta(days=1)
    fair = daily.stored(credit.name, bias.DECISIONS, day) or {}
    guess = daily.stored(credit.name, estimated.MONITOR, day) or {}
    ratios = [
        f"{c['attribute']} approval ratio {c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}]"
        for c in fair.get("checks", [])
        if c.get("status") == "judged"
    ]
    story.timeline.append(
        f"{story.run_line(decisions)}: decisions of {day}: "
        + ("; ".join(ratios) or str(fair.get("status")))
        + (f"; estimated AUC {guess['estimated_auc']:.4f}" if guess.get("estimated_auc") is not None else "")
        + ("; bias alert" if fair.get("alert") else "")
    )


def score_three(story: Story, day: date) -> None:
    import mlflow
    import pandas as pd

    from include import contract, registry, settings
    from include.ingestion.partition import read_curated

    config = settings.get()
    credit = contract.load(config.dataset)
    registry.use(config)
    model = mlflow.pyfunc.load_model(f"models:/{credit.name}@champion")
    sample = read_curated(credit.name, day).head(3)[list(credit.features)]  # as curated: no cast
    scored = pd.concat(
        [sample[list(credit.monitoring.critical_features)].reset_index(drop=True), model.predict(sample)],
        axis=1,
    )
    story.details.append(
        f"three applications of {day} scored by models:/{credit.name}@champion, with reason "
        f"codes:\n{scored.round(3).to_string(index=False)}"
    )


def monitor(story: Story, onset: datetime):
    """Hourly runs from an hour before the onset until the sensor triggers retraining; returns the
    triggered run's id (or None)."""
    from airflow.models import DagRun

    from include import settings
    from include.demo.runner import run
    from include.monitoring import history

    os.environ.update(
        {"MLOPS_SIMULATOR_SCENARIO": "income_shift", "MLOPS_SIMULATOR_ONSET": onset.isoformat()}
    )
    settings.get.cache_clear()
    dataset = settings.get().dataset
    dag = _bag().dags[MONITOR]
    started = story.begin(
        f"monitoring hourly with {MONITOR}; incomes shift x1.155 from {onset:%Y-%m-%d %H:%M} UTC"
    )
    rows, runs = [], []
    for hours in range(-1, MONITOR_HOURS + 1):
        hour = onset + timedelta(hours=hours)
        dag_run = run(
            dag, run_after=hour + timedelta(minutes=5)
        )  # due at hh:05, it judges the hours before hh
        runs.append(dag_run)
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        record = history.read_record(dataset, hour) or {}
        result = record.get("result") or {}
        rows.append(
            (
                f"{hour:%m-%d %H:%M}",
                record.get("status", states.get("check_drift")),
                record.get("rows"),
                f"{result.get('share_drifted', 0):.2f}",
                ",".join(result.get("drifted_columns", [])) or "-",
                "yes" if record.get("alert") else "no",
                states.get("sustained_drift"),
                states.get("trigger_retraining"),
            )
        )
        if record.get("alert"):
            story.timeline.append(
                f"{MONITOR} run {dag_run.run_id}: window ending {hour:%m-%d %H:%M} drifted in "
                f"{', '.join(result['drifted_columns'])} (report {record['report']})"
            )
        if states.get("trigger_retraining") == "success":
            break
    story.end(started, f"{len(runs)} hourly runs")
    story.details.append(
        "hourly drift windows:\n"
        + _table(("window end", "status", "rows", "share", "drifted", "alert", "sensor", "trigger"), rows)
    )
    triggered = [r for r in DagRun.find(dag_id=RETRAIN) if r.run_id.startswith(f"drift__{dataset}__")]
    if not triggered:
        story.ok = False
        story.timeline.append(f"no retraining triggered within {MONITOR_HOURS} hours of the onset")
        return None
    retraining = max(triggered, key=lambda r: r.run_after)
    story.timeline.append(
        f"{(hour - onset).total_seconds() / 3600:.0f} h after the onset the sensor triggered "
        f"{RETRAIN} run {retraining.run_id} ({retraining.run_type}): {retraining.conf['reason']}"
    )
    return retraining.run_id


def _earlier_champion(config) -> str | None:
    from include import registry

    champion = registry.by_alias(registry.client(config), config.dataset, registry.CHAMPION)
    return None if champion is None else champion.version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days",
        type=int,
        default=22,
        help="how many days to ingest (default 22: 14 to train on, then a week served until its outcomes mature)",
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        help="last day to ingest, YYYY-MM-DD (default: yesterday, UTC)",
    )
    parser.add_argument(
        "--rows-per-day",
        type=int,
        default=6000,
        help="simulated applications a day (default 6000: 750 in each 3-hour drift window)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MLOPS_SIMULATOR_ROWS_PER_DAY", str(args.rows_per_day))
    os.environ.setdefault("MLOPS_SEARCH_CANDIDATES", str(DEMO_SEARCH_CANDIDATES))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per download otherwise
    end = args.end or (datetime.now(UTC).date() - timedelta(days=1))
    days = [end - timedelta(days=n) for n in range(args.days - 1, -1, -1)]

    import airflow.utils.db  # noqa: F401 - Airflow configures its logging on import; the capture comes after

    from include.demo.runner import task_logs_captured

    with task_logs_captured():
        return _tell(args, days, end)


def _tell(args, days: list[date], end: date) -> int:
    from airflow.utils import db

    from include import settings, storage
    from include.demo.runner import run

    config = settings.get()
    if (earlier := _earlier_champion(config)) is not None:
        # The story needs an empty registry: a rerun's first model would not beat the earlier
        # champion, and the drift trigger of these windows already fired (by design, once).
        say(
            f"The MLflow store already holds {config.dataset} v{earlier} as champion, from an earlier run here. "
            "`make clean` deletes .local (Airflow DB, storage, MLflow store); then run `make demo` again."
        )
        return 2
    say(
        f"make demo: {args.days} days of {config.dataset} on the embedded defaults (storage {config.storage_root})"
    )
    db.initdb()
    story = Story(steps=6)
    ingest(story, days)
    served = days[TRAINING_DAYS] if len(days) > TRAINING_DAYS else end + timedelta(days=1)
    started = story.begin(f"training the first model with {RETRAIN} ({config.search_candidates} candidates)")
    first = run(
        _bag().dags[RETRAIN],
        run_after=datetime.combine(served, time(3), tzinfo=UTC),
        conf={"reason": "make demo: first model", "window_days": TRAINING_DAYS},
    )
    story.end(started)
    retrain(story, first, "first model")
    serve(story, sorted({served, end} & set(days)))
    score_three(story, end)
    triggered = monitor(story, datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC))
    if triggered is not None:
        started = story.begin(f"running the retraining the sensor triggered ({triggered})")
        second = run(_bag().dags[RETRAIN], queued_run_id=triggered)
        story.end(started)
        retrain(story, second, "drift-triggered retraining")

    judge_the_morning_after(story, end)

    local = storage.describe(storage.path())
    monitoring = f"{local}/monitoring/{config.dataset}"
    say("\n== timeline ==\n" + "\n".join(f"- {line}" for line in story.timeline))
    say("\n== details ==\n" + "\n\n".join(story.details))
    say(f"""
== where to look ==
- runs and task logs:     make airflow PORT=8081   (the UI at http://localhost:8081 shows these runs)
- drift history and plot: {monitoring}/drift/ and {monitoring}/drift_scores.png
- Evidently reports:      {monitoring}/reports/
- audit trail:            {local}/audit/   notifications: {local}/notifications/
- MLflow UI:              .venv/bin/mlflow ui --port 5001 --backend-store-uri {config.mlflow_tracking_uri}
- Model health page:      make airflow PORT=8081, sign in, then "Model health" in the navigation
                          (http://localhost:8081/plugin/model-health; alone: http://localhost:8081/model-health/)""")
    say(json.dumps({"ok": story.ok}))
    return 0 if story.ok else 1
