"""
### Weekly retraining with gated promotion

Every Monday at 03:00 (``MLOPS_TIMEZONE``), or when triggered (by the drift monitor or by
hand with a reason), this DAG trains a challenger on the matured curated data of the window,
judges it against the current champion on the same holdout, and registers it in MLflow with
the ``challenger`` alias. When every gate passes it becomes ``champion``: at once in ``auto``
mode, after a person approves in the UI in ``manual`` mode (no answer in 24 h is a rejection);
in ``shadow`` mode it first scores the live traffic beside the champion (``shadow`` alias) and
``shadow_evaluation`` promotes or retires it on the matured outcomes.
A rejected challenger is a normal outcome: the run succeeds and the rejection is audited.
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
    schedule=CronTriggerTimetable("0 3 * * 1", timezone=config.timezone),
    start_date=pendulum.datetime(2025, 1, 1, tz=config.timezone),
    catchup=False,
    max_active_runs=1,  # a second trigger waits instead of racing for the champion alias
    # Retries are safe: a retried training task reuses the version its run registered.
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": RunFailedNotifier(),
    },
    doc_md=__doc__,
    tags=["training", "registry"],
    params={
        "reason": Param(
            "",
            type="string",
            maxLength=500,
            title="Reason",
            description="Why retrain now (required for manual runs; recorded in the audit trail).",
        ),
        "window_days": Param(28, type="integer", minimum=7, maximum=365, title="Training window (days)"),
        "promotion_mode": Param(
            "auto",
            type="string",
            enum=["auto", "manual", "shadow"],
            title="Promotion",
            description="auto: promote when every gate passes; manual: wait for approval; shadow: "
            "score the live traffic beside the champion first, promote when significantly better.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Promote without the minimum improvement; the hard gates still apply.",
        ),
        "dataset": Param(config.dataset, type="string", enum=contract.choices(config), title="Dataset"),
        "schema_change_reason": Param(
            None,
            type=["null", "string"],  # optional: the form leaves it empty (null) unless inputs change
            maxLength=500,
            title="Schema change reason",
            description="Only when the inputs change (a new bureau feature, a dropped column): why. "
            "The schema gate then passes and records the change, and the promotion waits for a "
            "person's approval.",
        ),
        "evidence": Param(
            {},
            type="object",
            title="Evidence",
            description="Set by the drift monitor: reason, window, drifted features, reports.",
        ),
    },
)
def weekly_retraining():
    @task(retries=0)
    @fail_fast
    def resolve_request(params=None, dag_run=None, data_interval_end=None) -> dict:
        from include.run_target import interval_end
        from include.training.request import resolve

        return resolve(
            params,
            run_type=dag_run.run_type,
            interval_end=interval_end(data_interval_end, dag_run.run_after),
            triggered_by=getattr(dag_run, "triggering_user_name", None),
            run_id=dag_run.run_id,
        ).as_dict()

    @task
    @fail_fast
    def train_challenger(request: dict, dag_run=None) -> dict:
        """Train, evaluate against the champion, run every gate, register, audit."""
        from include.training.challenger import train_challenger as train
        from include.training.request import RetrainRequest

        r = RetrainRequest(**request)
        outcome = train(
            contract.load(r.dataset),
            end=r.end_date,
            window_days=r.window_days,
            force=r.force,
            reason=r.reason,
            actor=r.actor,
            dag_run_id=dag_run.run_id,
            created=dag_run.run_after.isoformat(),
            schema_change_reason=r.schema_change_reason or None,
        )
        for step in outcome.steps:
            print(f"step {step['step']}: {step['seconds']:.1f} s")
        for gate in outcome.gates:
            print(f"{'PASS' if gate['passed'] else 'FAIL'} {gate['name']}: {gate['message']}")
        return outcome.as_dict()

    @task.branch
    @fail_fast
    def choose_path(outcome: dict, request: dict, ti=None) -> str:
        """Gates failed: rejection. Shadow mode: shadow first. Manual mode, changed inputs, or a
        bias alert holding promotions: approval."""
        from include.promotion import route

        path, hold = route(outcome, request, contract.load(request["dataset"]))
        if hold:
            print(hold)
            ti.xcom_push(key="promotion_hold", value=hold)
        return path

    approval = AuditedApprovalOperator(
        task_id="request_approval",
        outcome_task_id="train_challenger",
        request_task_id="resolve_request",
        subject="Promote {{ ti.xcom_pull(task_ids='train_challenger')['model_name'] }} "
        "v{{ ti.xcom_pull(task_ids='train_challenger')['version'] }} to champion?",
        body="{% set hold = ti.xcom_pull(task_ids='choose_path', key='promotion_hold') %}"
        "{% if hold %}**Held for approval**: {{ hold }}\n\n{% endif %}"
        "{% for g in ti.xcom_pull(task_ids='train_challenger')['gates'] %}"
        "- {{ 'PASS' if g['passed'] else 'FAIL' }} **{{ g['name'] }}**: {{ g['message'] }}\n{% endfor %}",
        defaults="Reject",
        response_timeout=timedelta(hours=24),
    )

    # Plain all_success: a branch skip skips promotion; a "Reject" or no answer fails the approval
    # step (the run says the promotion was not made), so this never runs.
    @task
    @fail_fast
    def promote(outcome: dict, request: dict, approval: dict | None = None, dag_run=None, ti=None) -> dict:
        from include import promotion

        approver = ((approval or {}).get("responded_by_user") or {}).get("name")
        return promotion.promote(
            outcome,
            request,
            dag_run_id=dag_run.run_id,
            task=ti.task_id,
            approver=f"user:{approver}" if approver else None,
        )

    @task
    @fail_fast
    def start_shadow(outcome: dict, request: dict, dag_run=None, ti=None) -> dict:
        """Score the live traffic beside the champion (``shadow_evaluation`` judges it daily)."""
        from include.shadow.lifecycle import start
        from include.training.gates import schema_change

        changed = schema_change(outcome["gates"])
        return start(
            outcome,
            request,
            needs_approval=f"inputs differ from the champion's ({changed})" if changed else "",
            dag_run_id=dag_run.run_id,
            task=ti.task_id,
        )

    @task
    @fail_fast
    def record_rejection(outcome: dict, request: dict, dag_run=None, ti=None) -> dict:
        from include import promotion

        return promotion.reject(outcome, request, dag_run_id=dag_run.run_id, task=ti.task_id)

    request = resolve_request()
    outcome = train_challenger(request)
    path = choose_path(outcome, request)
    path >> [
        approval,
        promote(outcome, request),
        start_shadow(outcome, request),
        record_rejection(outcome, request),
    ]
    promote.override(task_id="promote_after_approval")(outcome, request, approval.output)


weekly_retraining()
