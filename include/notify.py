"""Notifications for model lifecycle events: promotion, rejection, approvals, rollback, alerts.

Two destinations, chosen by ``MLOPS_NOTIFY_SNS_TOPIC_ARN``:

* No topic (the embedded default): each notification is one JSON object written under
  ``<storage root>/notifications/dt=YYYY-MM-DD/<key>--<hash>.json``. Storage is the default
  because it works with nothing installed or subscribed, anyone can inspect it (``ls``,
  ``read_outbox``, the demo), and it is as durable as the storage root itself. Like the audit
  trail, the object name carries a hash of its content, so a retried task that sends the same
  notification writes the same name and is a no-op.
* A topic: the notification is published to Amazon SNS through the amazon provider's
  ``SnsHook`` and the connection ``MLOPS_NOTIFY_CONN_ID``. SNS fans it out to whatever is
  subscribed to the topic: e-mail, Slack (through AWS Chatbot or a Lambda), PagerDuty, an SQS
  queue... Subscribers can filter on the ``kind`` message attribute and de-duplicate on
  ``key``: a standard SNS topic does not de-duplicate by itself, so a retried task may
  deliver twice with the same ``key``.

The message body is the human text followed by a blank line and the facts as a JSON block,
so a person reads the text and a program parses the last block.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date

from include import settings as settings_module
from include import storage
from include.errors import MlopsError

KINDS = (
    "promoted",
    "rejected",
    "approval_requested",
    "approved",
    "declined",
    "rollback",
    "drift_alert",
    "data_quality_alert",
    "retrain_triggered",
    "performance_alert",
    "bias_alert",
    "attribution_alert",
    "estimated_performance_alert",
    "registry_unexplained",
    "shadow_started",
    "shadow_retired",
    "approval_refused",
    "run_failed",
)
SUBJECT_LIMIT = 100  # characters, SNS's limit on Subject
MESSAGE_LIMIT = 256 * 1024  # bytes, SNS's limit on a message (body and attributes)


class NotifyError(MlopsError, RuntimeError):
    """A notification could not be delivered; the message names the destination and the cause."""


def _safe(key: str) -> str:
    """``key`` as a storage path segment: letters, digits and ``_ . = -`` only, no ``..``."""
    text = re.sub(r"[^A-Za-z0-9_.=-]", "_", key)
    text = re.sub(r"\.{2,}", "_", text).lstrip("_.=-")[:120]
    return text or "notification"


def _subject(subject: str) -> str:
    """One printable line of at most 100 characters (SNS rejects longer subjects and line breaks)."""
    line = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", subject).split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3].rstrip() + "..."


def body(message: str, facts: dict) -> str:
    """The text sent to SNS: ``message``, a blank line, then ``facts`` as indented JSON.

    ``json.dumps`` never writes a blank line, so ``body.rpartition("\\n\\n")[2]`` is the JSON.
    """
    return f"{message.rstrip()}\n\n{json.dumps(facts, indent=2, sort_keys=True, default=str)}"


def _check(kind: str, subject: str, facts: dict, key: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; kinds are {', '.join(KINDS)}")
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError(f"{kind} notification has no subject")
    if not isinstance(facts, dict):
        raise ValueError(f"{kind} notification facts must be a dict, not {type(facts).__name__}")
    if not isinstance(key, str) or not key.strip():
        raise ValueError(
            f"{kind} notification has no idempotency key (build it from the DAG run id and task)"
        )


def _aws_error(exc: Exception) -> str:
    """What went wrong on AWS, in the words of the action that failed."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, text = error.get("Code", "Unknown"), error.get("Message", str(exc))
        if code in ("AuthorizationError", "AccessDenied", "AccessDeniedException", "KMSAccessDenied"):
            return f"sns:Publish denied ({code}: {text})"
        if code in ("NotFound", "NotFoundException"):
            return f"the topic does not exist or is in another region/account (sns:Publish {code}: {text})"
        return f"sns:Publish failed ({code}: {text})"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found for sns:Publish (connection, environment or instance role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the SNS endpoint for sns:Publish ({exc})"
    return f"sns:Publish failed ({type(exc).__name__}: {exc})"


def _publish_sns(kind: str, subject: str, text: str, key: str, s: settings_module.Settings) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    topic, conn_id = s.notify_sns_topic_arn, s.notify_conn_id
    where = f"SNS topic {topic} through connection {conn_id!r}"
    if len(text.encode()) + len(kind) + len(key) > MESSAGE_LIMIT - 1024:
        raise NotifyError(
            f"cannot publish {kind} notification to {where}: the message is larger than "
            f"SNS's {MESSAGE_LIMIT // 1024} KiB limit; send fewer facts"
        )
    try:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        # The topic's region, not the connection's: SNS only publishes to a topic in its own region.
        hook = SnsHook(aws_conn_id=conn_id, region_name=topic.split(":")[3])
        response = hook.publish_to_target(
            target_arn=topic,
            message=text,
            subject=_subject(subject),
            message_attributes={"kind": kind, "key": key},
        )
    except (ClientError, BotoCoreError) as exc:
        raise NotifyError(f"cannot publish {kind} notification to {where}: {_aws_error(exc)}") from exc
    except Exception as exc:  # a missing or malformed Airflow connection, for example
        raise NotifyError(
            f"cannot publish {kind} notification to {where}: {type(exc).__name__}: {exc}"
        ) from exc
    return f"sns:{response['MessageId']}"


def publish(
    kind: str,
    subject: str,
    message: str,
    *,
    facts: dict,
    key: str,
    day: date,
    settings: settings_module.Settings | None = None,
) -> str:
    """Send one notification; return where it went (``sns:<MessageId>`` or the storage URI).

    ``key`` is the idempotency key built by the caller from the DAG run id and task, for
    example ``weekly_retraining/scheduled__2026-04-06/promote``. ``day`` is the partition the
    storage outbox files it under (the run's logical date, never "today", so reruns agree).
    """
    _check(kind, subject, facts, key)
    s = settings or settings_module.get()
    if s.notify_sns_topic_arn:
        return _publish_sns(kind, subject, body(message, facts), key, s)
    record = {"kind": kind, "subject": subject, "message": message, "facts": facts, "key": key}
    data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    name = f"{_safe(key)}--{hashlib.sha256(data).hexdigest()[:16]}.json"
    try:
        target = storage.path("notifications", f"dt={day.isoformat()}", name, settings=s)
        storage.write_once(target, data)  # same name means same content: a retry, not a new notification
    except storage.StorageError as exc:
        raise NotifyError(f"cannot write {kind} notification to the storage outbox: {exc}") from exc
    return storage.describe(target)


def read_outbox(first: date, last: date, settings: settings_module.Settings | None = None) -> list[dict]:
    """Every notification the storage outbox holds for the days ``first``..``last``,
    ordered by day then object name (``<key>--<hash>``)."""
    found = []
    for directory in storage.list_dirs(storage.path("notifications", settings=settings)):
        try:
            day = date.fromisoformat(directory.name.removeprefix("dt="))
        except ValueError:
            continue
        if first <= day <= last:
            for p in storage.list_files(directory):
                if p.name.endswith(".json") and not p.name.startswith("."):
                    found.append(json.loads(storage.read_bytes(p)))
    return found
