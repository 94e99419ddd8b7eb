"""The audit trail: append-only objects, idempotent retries, clear errors; file:// and S3."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from include import audit, storage
from include import settings as settings_module
from tests.support.moto import aws_client, set_aws_connection

DAY = date(2026, 3, 2)
RUN = "scheduled__2026-03-02T03:00:00+00:00"


def _event(kind="promoted", **extra):
    return {
        "type": kind,
        "time": "2026-03-02T03:14:00+00:00",
        "actor": "schedule",
        "dag_run_id": RUN,
        "model": "credit_default",
        "version": "2",
        **extra,
    }


@pytest.fixture(params=["file", "s3"])
def root(request, tmp_path):
    if request.param == "file":
        return settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri()})
    return request.getfixturevalue("s3_settings")


def test_records_are_appended_never_rewritten_and_retries_are_no_ops(root):
    first = audit.record(
        [_event("gate_result", gate="auc_floor", passed=True)],
        day=DAY,
        dag_run_id=RUN,
        task="evaluate",
        settings=root,
    )
    again = audit.record(
        [_event("gate_result", gate="auc_floor", passed=True)],
        day=DAY,
        dag_run_id=RUN,
        task="evaluate",
        settings=root,
    )
    other = audit.record(
        [_event("promoted", previous="1")], day=DAY, dag_run_id=RUN, task="promote", settings=root
    )
    assert first == again != other
    directory = storage.path("audit", f"dt={DAY}", settings=root)
    assert len(storage.list_files(directory)) == 2
    events = audit.read(DAY, DAY, settings=root)
    assert [e["type"] for e in events] == ["gate_result", "promoted"]
    assert events[1]["previous"] == "1" and events[1]["dag_run_id"] == RUN


def test_a_keyed_retry_with_a_new_time_is_not_a_second_fact(tmp_path):
    s = settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri()})
    first = audit.record(
        [_event("promoted") | {"time": "2026-03-02T03:00:05+00:00"}],
        day=DAY,
        dag_run_id=RUN,
        task="promote",
        key="v3:promoted",
        settings=s,
    )
    retry = audit.record(
        [_event("promoted") | {"time": "2026-03-02T03:07:41+00:00"}],
        day=DAY,
        dag_run_id=RUN,
        task="promote",
        key="v3:promoted",
        settings=s,
    )
    other = audit.record(
        [_event("promoted")], day=DAY, dag_run_id=RUN, task="promote", key="v4:promoted", settings=s
    )
    assert first == retry != other
    assert [e["time"] for e in audit.read(DAY, DAY, settings=s)][0] == "2026-03-02T03:00:05+00:00"
    assert len(audit.read(DAY, DAY, settings=s)) == 2


def test_days_outside_the_range_are_not_read(root):
    audit.record([_event()], day=date(2026, 3, 1), dag_run_id=RUN, task="t", settings=root)
    audit.record([_event("rollback")], day=DAY, dag_run_id=RUN, task="t", settings=root)
    assert [e["type"] for e in audit.read(DAY, DAY, settings=root)] == ["rollback"]


@pytest.mark.parametrize(
    "event, message",
    [
        (_event(actor=""), "lacks actor"),
        ({k: v for k, v in _event().items() if k != "dag_run_id"}, "lacks dag_run_id"),
        (_event("renamed"), "'renamed' is not one of"),
        (_event(time="yesterday"), "'yesterday' is not an ISO timestamp"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(tmp_path, event, message):
    s = settings_module.load({"MLOPS_STORAGE_ROOT": tmp_path.as_uri()})
    with pytest.raises(audit.AuditError, match=message):
        audit.record([event], day=DAY, dag_run_id=RUN, task="t", settings=s)
    assert not (tmp_path / "audit").exists()


def test_the_trail_is_written_and_kept_in_a_bucket_under_the_documented_object_lock(moto_server, monkeypatch):
    """docs/governance.md's 7-year set-up: Object Lock with a default COMPLIANCE retention. The audit
    trail must still be writable there (S3 refuses puts without a checksum to such a bucket), every
    event object gets the retention, and deleting its version is refused."""
    import json
    import uuid
    from datetime import datetime

    from botocore.exceptions import ClientError

    token = uuid.uuid4().hex[:12]
    bucket, conn_id = f"mlops-audit-{token}", f"moto_lock_{token}"
    s3 = aws_client("s3", moto_server)
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    documented_rule = (
        '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE","Years":7}}}'
    )
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=json.loads(documented_rule))
    set_aws_connection(monkeypatch, conn_id, moto_server)
    s = settings_module.load({"MLOPS_STORAGE_ROOT": f"s3://{bucket}/prod", "MLOPS_STORAGE_CONN_ID": conn_id})

    audit.record([_event("promoted", previous="1")], day=DAY, dag_run_id=RUN, task="promote", settings=s)
    audit.record(
        [_event("promoted", previous="1")], day=DAY, dag_run_id=RUN, task="promote", settings=s
    )  # retry
    assert [e["type"] for e in audit.read(DAY, DAY, settings=s)] == ["promoted"]

    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="prod/audit/")["Contents"]]
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 1, versions  # the retry wrote no second version
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE", head
    kept_for = head["ObjectLockRetainUntilDate"] - datetime.now(UTC)
    # 7 years, as S3 counts them (moto: 7 x 365 days from the write)
    assert 7 * 365 - 2 <= kept_for.days <= 7 * 366, head["ObjectLockRetainUntilDate"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=versions[0]["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied", refused.value.response
