"""Notifications: the storage outbox (embedded default) and SNS (a real moto server over HTTP,
with an SQS queue subscribed to the topic to see what subscribers receive)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date

import pytest

from include import notify, storage
from include import settings as settings_module
from tests.support.moto import (
    aws_client,
    moto_enable_iam,
    set_aws_connection,
    start_moto_server,
    subscribed_queue,
)

DAY = date(2026, 4, 6)
KEY = "weekly_retraining/scheduled__2026-04-06T00:00:00+00:00/promote"
FACTS = {"model": "credit_default", "version": 7, "auc": 0.8123, "previous_version": 6}


def _promoted(settings, facts=FACTS, key=KEY, day=DAY, subject="credit_default v7 promoted to champion"):
    return notify.publish(
        "promoted",
        subject,
        "Version 7 passed every gate and is now the champion.",
        facts=facts,
        key=key,
        day=day,
        settings=settings,
    )


def _outbox_files(settings, day=DAY):
    return storage.list_files(storage.path("notifications", f"dt={day.isoformat()}", settings=settings))


# --------------------------------------------------------------------------- storage outbox


def test_storage_outbox_round_trip(settings):
    uri = _promoted(settings)
    assert uri.startswith(
        f"{settings.storage_root}/notifications/dt=2026-04-06/"
        "weekly_retraining_scheduled__2026-04-06T00_00_00_00_00_promote--"
    )
    assert uri.endswith(".json")
    assert notify.read_outbox(DAY, DAY, settings=settings) == [
        {
            "kind": "promoted",
            "subject": "credit_default v7 promoted to champion",
            "message": "Version 7 passed every gate and is now the champion.",
            "facts": FACTS,
            "key": KEY,
        }
    ]
    assert notify.read_outbox(date(2026, 4, 7), date(2026, 4, 30), settings=settings) == []


def test_read_outbox_on_an_empty_root_and_across_days(settings):
    assert notify.read_outbox(DAY, DAY, settings=settings) == []
    _promoted(settings, day=date(2026, 4, 13), key="k/2")
    _promoted(settings, day=DAY, key="k/1")
    assert [n["key"] for n in notify.read_outbox(date(2026, 4, 1), date(2026, 4, 30), settings=settings)] == [
        "k/1",
        "k/2",
    ]
    assert [
        n["key"] for n in notify.read_outbox(date(2026, 4, 10), date(2026, 4, 13), settings=settings)
    ] == ["k/2"]


def test_the_same_notification_twice_writes_one_object(settings):
    first, second = _promoted(settings), _promoted(settings)  # a task retry
    assert first == second
    assert len(_outbox_files(settings)) == 1
    assert len(notify.read_outbox(DAY, DAY, settings=settings)) == 1


def test_different_facts_write_two_objects(settings):
    first = _promoted(settings)
    second = _promoted(settings, facts={**FACTS, "auc": 0.8124})
    assert first != second
    assert len(_outbox_files(settings)) == 2
    assert sorted(n["facts"]["auc"] for n in notify.read_outbox(DAY, DAY, settings=settings)) == [
        0.8123,
        0.8124,
    ]


def test_unknown_kind_is_refused_naming_it_and_nothing_is_written(settings):
    with pytest.raises(
        ValueError, match="unknown notification kind 'promotion'; kinds are promoted, rejected"
    ):
        notify.publish("promotion", "s", "m", facts={}, key=KEY, day=DAY, settings=settings)
    with pytest.raises(ValueError, match="no idempotency key"):
        notify.publish("promoted", "s", "m", facts={}, key=" ", day=DAY, settings=settings)
    assert notify.read_outbox(DAY, DAY, settings=settings) == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "a..b", "/", "run:1 +00:00/task", "é" * 300])
def test_any_key_stays_inside_the_outbox(settings, key):
    uri = notify.publish("run_failed", "s", "m", facts={}, key=key, day=DAY, settings=settings)
    assert uri.startswith(f"{settings.storage_root}/notifications/dt=2026-04-06/")
    assert "/" not in uri.removeprefix(f"{settings.storage_root}/notifications/dt=2026-04-06/")
    assert notify.read_outbox(DAY, DAY, settings=settings)[0]["key"] == key


def test_subject_is_one_line_within_the_sns_limit():
    assert notify._subject("short") == "short"
    long = notify._subject("drift on\nincome " + "x" * 200)
    assert len(long) == notify.SUBJECT_LIMIT and long.startswith("drift on income x") and long.endswith("...")
    assert notify._subject("a" * 100) == "a" * 100


def test_body_ends_with_the_facts_as_a_json_block():
    text = notify.body("Line one.\n\nLine three.", {"b": [1, 2], "a": {"nested": "x\n\ny"}, "day": DAY})
    assert text.startswith("Line one.\n\nLine three.\n\n")
    assert json.loads(text.rpartition("\n\n")[2]) == {
        "a": {"nested": "x\n\ny"},
        "b": [1, 2],
        "day": "2026-04-06",
    }


# --------------------------------------------------------------------------- SNS (moto server)


def _sns_settings(monkeypatch, tmp_path, endpoint: str, topic_arn: str, **env):
    conn_id = f"moto_sns_{uuid.uuid4().hex[:12]}"
    set_aws_connection(monkeypatch, conn_id, endpoint, **env)
    return settings_module.load(
        {
            **os.environ,
            "MLOPS_STORAGE_ROOT": tmp_path.as_uri(),
            "MLOPS_NOTIFY_SNS_TOPIC_ARN": topic_arn,
            "MLOPS_NOTIFY_CONN_ID": conn_id,
        }
    )


@pytest.mark.integration
def test_sns_publish_reaches_a_subscribed_queue(moto_server, monkeypatch, tmp_path):
    topic_arn = aws_client("sns", moto_server).create_topic(Name=f"mlops-{uuid.uuid4().hex[:12]}")["TopicArn"]
    queue_url = subscribed_queue(moto_server, topic_arn, f"notify-{uuid.uuid4().hex[:12]}")
    s = _sns_settings(monkeypatch, tmp_path, moto_server, topic_arn)
    subject = "credit_default v7 promoted to champion after passing every gate " + "and more " * 10

    result = _promoted(s, subject=subject)

    assert result.startswith("sns:") and len(result) > len("sns:")
    received = aws_client("sqs", moto_server).receive_message(
        QueueUrl=queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=10
    )["Messages"]
    assert len(received) == 1
    envelope = json.loads(received[0]["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert envelope["MessageId"] == result.removeprefix("sns:")
    assert envelope["Subject"] == notify._subject(subject)
    assert len(envelope["Subject"]) == 100 and envelope["Subject"].endswith("...")
    assert envelope["MessageAttributes"]["kind"] == {"Type": "String", "Value": "promoted"}
    assert envelope["MessageAttributes"]["key"] == {"Type": "String", "Value": KEY}
    text, _, facts = envelope["Message"].rpartition("\n\n")
    assert text == "Version 7 passed every gate and is now the champion."
    assert json.loads(facts) == FACTS
    assert notify.read_outbox(DAY, DAY, settings=s) == []  # SNS mode writes nothing to storage


@pytest.mark.integration
def test_sns_unknown_topic_names_the_topic_and_the_connection(moto_server, monkeypatch, tmp_path):
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:absent-{uuid.uuid4().hex[:12]}"
    s = _sns_settings(monkeypatch, tmp_path, moto_server, topic_arn)
    with pytest.raises(notify.NotifyError) as error:
        _promoted(s)
    message = str(error.value)
    assert f"SNS topic {topic_arn} through connection {s.notify_conn_id!r}" in message
    assert "sns:Publish NotFound" in message


@pytest.mark.integration
def test_sns_publish_denied_is_named(monkeypatch, tmp_path, tmp_path_factory):
    """A user without sns:Publish, on a moto server of its own (IAM checks are server-wide)."""
    with start_moto_server(tmp_path_factory.mktemp("moto_server")) as endpoint:
        topic_arn = aws_client("sns", endpoint).create_topic(Name="mlops-denied")["TopicArn"]
        iam = aws_client("iam", endpoint)
        iam.create_user(UserName="bystander")
        iam.put_user_policy(
            UserName="bystander",
            PolicyName="list-only",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": ["sns:ListTopics"], "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="bystander")["AccessKey"]
        moto_enable_iam(endpoint)
        s = _sns_settings(
            monkeypatch,
            tmp_path,
            endpoint,
            topic_arn,
            login=key["AccessKeyId"],
            password=key["SecretAccessKey"],
        )
        with pytest.raises(notify.NotifyError) as error:
            _promoted(s)
        assert f"SNS topic {topic_arn} through connection {s.notify_conn_id!r}" in str(error.value)
        assert "sns:Publish denied" in str(error.value)


@pytest.mark.integration
def test_sns_unreachable_endpoint_is_named(monkeypatch, tmp_path, tmp_path_factory):
    with start_moto_server(tmp_path_factory.mktemp("moto_server")) as endpoint:
        pass  # the server is gone: nothing listens on its port any more
    topic_arn = "arn:aws:sns:us-east-1:123456789012:mlops-gone"
    s = _sns_settings(monkeypatch, tmp_path, endpoint, topic_arn)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(notify.NotifyError) as error:
        _promoted(s)
    assert f"SNS topic {topic_arn} through connection {s.notify_conn_id!r}" in str(error.value)
    assert "cannot reach the SNS endpoint" in str(error.value)
