"""
### Daily shadow evaluation

Every day at 04:40 (``MLOPS_TIMEZONE``), after the nightly ingestion has curated the outcomes that
matured, and only while a version holds the ``shadow`` alias (``weekly_retraining`` with promotion
mode ``shadow``): the shadow version scores the captured traffic of each day of its period not
scored yet, through its registered pyfunc, and the scores are stored beside the capture. Then the
shadow and the champion are compared on the same matured applications (DeLong paired, decision
agreement, approval rates, fairness by group) and the verdict is stored once per day:

- significantly better: promoted to champion, or a person approves first (``model.shadow.approval``,
  changed inputs, or a bias alert holding promotions);
- significantly worse, unfair, past ``model.shadow.max_days``, or the champion changed: retired;
- otherwise nothing happens until the next day.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include import contract, settings
from mlops_plugins.approval import AuditedApprovalOperator
from mlops_plugins.failures import fail_fast
from mlops_plugins.notifiers import RunFailedNotifier

config = settings.get()


@dag(
    schedule=CronTriggerTimetable("40 4 * * *", timezone=config.timezone, interval=timedelta(days=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    max_active_runs=1,  # two days' verdicts never race for the champion alias
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["monitoring", "registry"],
    params={
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
    },
)
def shadow_evaluation():
    @task.short_circuit
    @fail_fast
    def find_shadow(params=None, dag_run=None, data_interval_end=None) -> dict | bool:
        """The version in shadow, for the decision day (yesterday); skips everything without one."""
        from include.monitoring.daily import decision_day
        from include.run_target import interval_end
        from include.shadow.lifecycle import current

        day = decision_day(interval_end(data_interval_end, dag_run.run_after), config.timezone)
        shadow = current(contract.load(params["dataset"]), day)
        print(f"shadow on {day}: {shadow}")
        return shadow or False

    @task
    @fail_fast
    def score_capture(shadow: dict) -> list[dict]:
        """Each capture day of the period up to the decision day, scored by the shadow once."""
        from datetime import date

        from include.shadow.scores import score_period

        scored = score_period(
            contract.load(shadow["dataset"]),
            shadow["version"],
            date.fromisoformat(shadow["started"]),
            date.fromisoformat(shadow["end"]),
        )
        for day in scored:
            print(day)
        return scored

    @task
    @fail_fast
    def evaluate(shadow: dict, scored: list[dict]) -> dict:
        """The paired comparison on the matured applications of the period, and its verdict."""
        from datetime import date

        from include.shadow.evaluate import evaluate as judge
        from include.shadow.lifecycle import as_outcome

        record = judge(contract.load(shadow["dataset"]), shadow, date.fromisoformat(shadow["end"]))
        for check in record["checks"]:
            print(f"{'PASS' if check['passed'] else 'FAIL'} {check['name']}: {check['message']}")
        print(f"verdict: {record['verdict']} ({record['why']})")
        return as_outcome(record)

    @task.branch
    @fail_fast
    def decide(outcome: dict, shadow: dict, ti=None) -> str | list[str]:
        """Promote (or ask a person first), retire, or wait for more outcomes."""
        from include.monitoring.bias import promotion_hold
        from include.shadow.lifecycle import declined

        if outcome["verdict"] == "retire":
            return "retire_shadow"
        if outcome["verdict"] != "promote":
            return []
        answer = declined(contract.load(shadow["dataset"]), shadow["version"])
        if answer is not None:  # a person said no to this winner: it does not ask every morning
            ti.xcom_push(key="retire_why", value=answer)
            return "retire_shadow"
        hold = shadow["needs_approval"]
        if not hold and contract.load(shadow["dataset"]).shadow.approval:
            hold = "the contract asks a person to approve shadow winners (model.shadow.approval)"
        bias = promotion_hold(contract.load(shadow["dataset"]))
        if not hold and bias is not None:
            hold = f"bias alert of {bias['day']} ({bias['dag_run_id']}): promotion waits for a person"
        if not hold:
            return "promote_shadow"
        print(hold)
        ti.xcom_push(key="promotion_hold", value=hold)
        return "request_approval"

    approval = AuditedApprovalOperator(
        task_id="request_approval",
        outcome_task_id="evaluate",
        request_task_id="find_shadow",
        subject="Promote {{ ti.xcom_pull(task_ids='evaluate')['model_name'] }} "
        "v{{ ti.xcom_pull(task_ids='evaluate')['version'] }} from shadow to champion?",
        body="**Held for approval**: {{ ti.xcom_pull(task_ids='decide', key='promotion_hold') }}\n\n"
        "{% for g in ti.xcom_pull(task_ids='evaluate')['gates'] %}"
        "- {{ 'PASS' if g['passed'] else 'FAIL' }} **{{ g['name'] }}**: {{ g['message'] }}\n{% endfor %}",
        defaults="Reject",
        response_timeout=timedelta(hours=24),
    )

    @task
    @fail_fast
    def promote_shadow(
        outcome: dict, shadow: dict, approval: dict | None = None, dag_run=None, ti=None
    ) -> dict:
        from include.shadow.lifecycle import promote

        approver = ((approval or {}).get("responded_by_user") or {}).get("name")
        return promote(
            outcome,
            shadow,
            approver=f"user:{approver}" if approver else None,
            dag_run_id=dag_run.run_id,
            task=ti.task_id,
        )

    @task
    @fail_fast
    def retire_shadow(outcome: dict, shadow: dict, dag_run=None, ti=None) -> dict:
        from include.shadow.lifecycle import retire

        why = ti.xcom_pull(task_ids="decide", key="retire_why")
        return retire(
            {**outcome, "why": why or outcome["why"]},
            shadow,
            model=outcome["model_name"],
            dag_run_id=dag_run.run_id,
            task=ti.task_id,
        )

    shadow = find_shadow()
    outcome = evaluate(shadow, score_capture(shadow))
    decide(outcome, shadow) >> [approval, promote_shadow(outcome, shadow), retire_shadow(outcome, shadow)]
    promote_shadow.override(task_id="promote_after_approval")(outcome, shadow, approval.output)


shadow_evaluation()
