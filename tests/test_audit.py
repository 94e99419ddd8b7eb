"""The audit trail: hash-chained streams, idempotent retries, concurrent writers, a verify
command that finds edits, gaps and cut tails, clear errors; file:// and S3."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from datetime import UTC, date

import pytest

from include import audit, storage
from include import settings as settings_module
from include.audit import chain, verify
from tests.support.moto import aws_client, set_aws_connection
from tests.support.paths import PROJECT_ROOT

DAY = date(2026, 3, 2)
INTERVAL = (date(2026, 2, 3), DAY)
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


def _record(settings, *events, task="promote", key=None, interval=INTERVAL, run=RUN):
    return audit.record(
        list(events), interval=interval, dag_run_id=run, task=task, key=key, settings=settings
    )


def _entry_path(settings, seq, stream="credit_default"):
    return chain.stream_dir(stream, settings) / "entries" / chain.entry_name(seq)


def _file_root(tmp_path, **env):
    """A file root whose MLflow store (the anchors) is the test's own, never the checkout's."""
    return settings_module.load(
        {"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_LOCAL_DIR": str(tmp_path / "local"), **env}
    )


@pytest.fixture(params=["file", "s3"])
def root(request, tmp_path):
    if request.param == "file":
        return _file_root(tmp_path)
    s3 = request.getfixturevalue("s3_settings")
    return dataclasses.replace(s3, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'local' / 'mlflow.db'}")


def test_entries_are_chained_and_a_retry_appends_nothing(root):
    first = _record(root, _event("gate_result", gate="auc_floor", passed=True), task="evaluate")
    again = _record(root, _event("gate_result", gate="auc_floor", passed=True), task="evaluate")
    other = _record(root, _event("promoted", previous="1"))
    assert first == again != other
    entries = [chain.load(p).body for p in chain.entry_paths("credit_default", root)]
    assert [e["seq"] for e in entries] == [1, 2]
    assert entries[0]["prev"] == chain.GENESIS and entries[1]["prev"] == entries[0]["hash"]
    assert all(e["hash"] == chain.entry_hash(e) for e in entries)
    events = audit.read(DAY, DAY, settings=root)
    assert [e["type"] for e in events] == ["gate_result", "promoted"]
    assert events[1]["previous"] == "1" and events[1]["dag_run_id"] == RUN
    assert events[1]["data_interval"] == {"start": "2026-02-03", "end": "2026-03-02"}
    assert [r.line() for r in verify.verify(settings=root)] == [
        "audit stream credit_default: 2 entries, 0 MLflow anchors checked, chain intact"
    ]


def test_a_keyed_retry_with_a_new_time_is_not_a_second_fact(tmp_path):
    s = _file_root(tmp_path)
    first = _record(s, _event("promoted") | {"time": "2026-03-02T03:00:05+00:00"}, key="v3:promoted")
    retry = _record(s, _event("promoted") | {"time": "2026-03-02T03:07:41+00:00"}, key="v3:promoted")
    other = _record(s, _event("promoted"), key="v4:promoted")
    assert first == retry != other
    assert [e["time"] for e in audit.read(DAY, DAY, settings=s)][0] == "2026-03-02T03:00:05+00:00"
    assert len(audit.read(DAY, DAY, settings=s)) == 2


def test_a_retry_whose_first_try_died_before_its_key_marker_finds_its_entry(tmp_path):
    s = _file_root(tmp_path)
    _record(s, _event("promoted"), key="v3:promoted")
    _record(s, _event("gate_result", gate="g", passed=True), task="other")
    [marker] = [
        m
        for m in storage.list_files(chain.stream_dir("credit_default", s) / "keys")
        if json.loads(storage.read_bytes(m))["seq"] == 1
    ]
    storage.delete(marker)  # the first try was killed between its entry and its marker
    _record(s, _event("promoted") | {"time": "2026-03-02T04:00:00+00:00"}, key="v3:promoted")
    assert len(chain.entry_paths("credit_default", s)) == 2
    assert verify.verify(settings=s)[0].intact


def test_events_are_filed_by_when_they_happened_and_read_by_their_data_interval(root):
    backfill = _event("rollback") | {"time": "2026-05-10T08:00:00+00:00"}
    _record(root, _event())
    _record(root, backfill, task="rollback", interval=(date(2026, 2, 1), date(2026, 2, 1)))
    assert [e["type"] for e in audit.read(DAY, DAY, settings=root)] == ["promoted"]
    assert [e["type"] for e in audit.read(date(2026, 5, 10), date(2026, 5, 10), settings=root)] == [
        "rollback"
    ]
    about_february = audit.read(date(2026, 2, 1), date(2026, 2, 3), by="data", settings=root)
    assert [e["type"] for e in about_february] == ["promoted", "rollback"]  # Feb 3 - Mar 2 and Feb 1
    assert [e["type"] for e in audit.read(date(2026, 2, 2), date(2026, 2, 2), by="data", settings=root)] == []
    assert audit.latest("credit_default", ("rollback", "promoted"), settings=root)["type"] == "rollback"


def test_each_model_has_its_own_chain(tmp_path):
    s = _file_root(tmp_path)
    _record(s, _event())
    _record(s, _event(model="card_defaults"))
    assert chain.streams(s) == ["card_defaults", "credit_default"]
    assert [r.entries for r in verify.verify(settings=s)] == [1, 1]
    with pytest.raises(audit.AuditError, match="one model, not card_defaults, credit_default"):
        _record(s, _event(), _event(model="card_defaults"))


def test_concurrent_writers_never_fork_the_chain(root):
    """Six writers append 4 entries each to one stream at once: the conditional create lets
    exactly one win each sequence number, the losers re-read the head and try again."""
    barrier = threading.Barrier(6)
    errors = []

    def writer(n):
        barrier.wait()
        try:
            for i in range(4):
                _record(root, _event(version=str(n)), task=f"writer{n}", key=f"{n}:{i}")
        except Exception as exc:  # surfaced below with the writer's number
            errors.append((n, exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    [report] = verify.verify(settings=root)
    assert report.intact and report.entries == 24, report.line()


def test_create_exclusive_lets_one_writer_win(root):
    target = storage.path("audit", "race", settings=root)
    assert storage.create_exclusive(target, b"first")
    assert not storage.create_exclusive(target, b"second")
    assert storage.read_bytes(target) == b"first"


def _three_entries(settings):
    for n in range(3):
        _record(settings, _event(version=str(n)), key=str(n))


def test_verify_reports_an_edited_entry(root):
    _three_entries(root)
    path = _entry_path(root, 2)
    body = json.loads(storage.read_bytes(path))
    body["events"][0]["actor"] = "user:mallory"
    storage.write_bytes_atomic(path, chain.canonical(body))
    [report] = verify.verify(settings=root)
    assert not report.intact
    assert report.problems == [
        f"entry 2 ({storage.describe(path)}) was edited: its content no longer matches its hash"
    ]


def test_verify_reports_an_entry_rewritten_with_a_fresh_hash(root):
    _three_entries(root)
    path = _entry_path(root, 2)
    body = json.loads(storage.read_bytes(path))
    body["events"][0]["version"] = "99"
    body["hash"] = chain.entry_hash(body)  # a careful forger recomputes the hash...
    storage.write_bytes_atomic(path, chain.canonical(body))
    [report] = verify.verify(settings=root)
    # ...but entry 3 still names the old one
    assert report.problems == [
        "entry 3 does not follow entry 2: its prev hash differs (entry 2 was replaced)"
    ]


def test_verify_reports_a_gap_and_a_cut_tail(tmp_path):
    s = _file_root(tmp_path)
    for n in range(5):
        _record(s, _event(version=str(n)), key=str(n))
    storage.delete(_entry_path(s, 2))
    storage.delete(_entry_path(s, 5))
    [report] = verify.verify(settings=s)
    assert report.problems[0] == "entries missing from the sequence: 2 (deleted)"
    assert any("records entry 5, but the chain ends at 4: its tail was cut" in p for p in report.problems)


def test_the_verify_command_exits_1_on_a_broken_chain_and_names_it(tmp_path):
    env_root = {"MLOPS_STORAGE_ROOT": tmp_path.as_uri(), "MLOPS_LOCAL_DIR": str(tmp_path / "local")}
    s = settings_module.load(env_root)
    _three_entries(s)
    command = [sys.executable, "-m", "include.audit", "verify"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env_root}
    intact = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout == "audit stream credit_default: 3 entries, 0 MLflow anchors checked, chain intact\n"
    storage.delete(_entry_path(s, 1))
    broken = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert broken.returncode == 1, broken.stderr
    assert "BROKEN" in broken.stdout and "entries missing from the sequence: 1 (deleted)" in broken.stdout


def test_reading_by_an_unknown_axis_is_refused(tmp_path):
    s = _file_root(tmp_path)
    with pytest.raises(audit.AuditError, match="read by 'run'"):
        audit.read(DAY, DAY, by="run", settings=s)


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
    s = _file_root(tmp_path)
    with pytest.raises(audit.AuditError, match=message):
        _record(s, event, task="t")
    assert not (tmp_path / "audit").exists()


def test_the_trail_is_written_and_kept_in_a_bucket_under_the_documented_object_lock(
    moto_server, monkeypatch, tmp_path
):
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
    s = settings_module.load(
        {
            "MLOPS_STORAGE_ROOT": f"s3://{bucket}/prod",
            "MLOPS_STORAGE_CONN_ID": conn_id,
            "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
        }
    )

    audit.record(
        [_event("promoted", previous="1")], interval=INTERVAL, dag_run_id=RUN, task="promote", settings=s
    )
    audit.record(
        [_event("promoted", previous="1")], interval=INTERVAL, dag_run_id=RUN, task="promote", settings=s
    )  # retry
    assert [e["type"] for e in audit.read(DAY, DAY, settings=s)] == ["promoted"]

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="prod/audit/")["Contents"]]
    [key] = [k for k in keys if "/entries/" in k]
    assert verify.verify(settings=s)[0].intact
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


# --------------------------------------------------------------------------- anchors in MLflow

OUTCOME = {"model_name": "credit_default", "holdout": {"roc_auc": 0.81}, "gates": []}
REQUEST = {"actor": "schedule", "reason": "weekly", "mode": "auto", "end": "2026-03-02", "window_days": 28}


@pytest.fixture
def registered(tmp_path):
    """A file root and a real MLflow store (SQLite) holding credit_default v1 and v2, both past
    their gates: what the weekly retraining leaves for ``promote``."""
    from include import registry

    s = _file_root(tmp_path, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    client = registry.client(s)
    client.create_registered_model("credit_default")
    for version in ("1", "2"):
        client.create_model_version("credit_default", source=(tmp_path / "model").as_uri())
        registry.set_challenger(client, "credit_default", version, gates_passed=True)
    return s, client


def _promote(s, version, run):
    from include import promotion

    return promotion.promote(
        {**OUTCOME, "version": version}, REQUEST, dag_run_id=run, task="promote", settings=s
    )


def _rewrite_with_a_fresh_hash(s, seq):
    """What an attacker with write access to a file root does: edit the entry and recompute its
    hash, so the chain alone still looks intact (nothing follows the newest entry)."""
    path = _entry_path(s, seq)
    body = json.loads(storage.read_bytes(path))
    body["events"][0]["actor"] = "user:mallory"
    body["hash"] = chain.entry_hash(body)
    storage.write_bytes_atomic(path, chain.canonical(body))
    return body["hash"]


def test_a_promotion_anchors_the_head_in_mlflow_and_in_its_notification(registered):
    from include import notify, registry

    s, client = registered
    _promote(s, "1", "run_1")
    _promote(s, "2", "run_2")
    heads = [chain.load(p).body["hash"] for p in chain.entry_paths("credit_default", s)]
    assert registry.get(client, "credit_default", "1").tags["audit_anchor.1"] == heads[0]
    assert registry.get(client, "credit_default", "2").tags["audit_anchor.2"] == heads[1]
    _promote(s, "2", "run_2")  # a retry: same entry, same anchor, nothing new
    assert registry.read_anchors(client, "credit_default") == [("1", 1, heads[0]), ("2", 2, heads[1])]
    sent = [n["facts"]["audit_anchor"] for n in notify.read_outbox(DAY, DAY, settings=s)]
    assert sorted(sent, key=lambda a: a["seq"]) == [
        {"stream": "credit_default", "seq": 1, "hash": heads[0]},
        {"stream": "credit_default", "seq": 2, "hash": heads[1]},
    ]
    [report] = verify.verify(settings=s)
    assert report.line() == "audit stream credit_default: 2 entries, 2 MLflow anchors checked, chain intact"


def test_verify_fails_on_a_newest_entry_rewritten_with_a_fresh_hash(registered):
    s, _ = registered
    _promote(s, "1", "run_1")
    _promote(s, "2", "run_2")
    anchored = chain.load(_entry_path(s, 2)).body["hash"]
    forged = _rewrite_with_a_fresh_hash(s, 2)
    [report] = verify.verify(settings=s)
    assert report.problems == [
        f"anchor audit_anchor.2 on credit_default v2 (MLflow) records entry 2 with hash {anchored}, "
        f"but the trail's entry 2 has hash {forged}: it was rewritten"
    ]


def test_verify_fails_on_a_cut_tail_the_anchor_remembers(registered):
    s, _ = registered
    _promote(s, "1", "run_1")
    _promote(s, "2", "run_2")
    anchored = chain.load(_entry_path(s, 2)).body["hash"]
    storage.delete(_entry_path(s, 2))  # and its key marker, as a careful attacker would
    for marker in storage.list_files(chain.stream_dir("credit_default", s) / "keys"):
        if json.loads(storage.read_bytes(marker))["seq"] == 2:
            storage.delete(marker)
    [report] = verify.verify(settings=s)
    assert report.problems == [
        f"anchor audit_anchor.2 on credit_default v2 (MLflow) records entry 2 with hash {anchored}, "
        "but entry 2 is missing (the chain ends at 1: its tail was cut)"
    ]


def test_a_rollback_anchors_too_and_a_vanished_stream_is_reported(registered):
    from datetime import datetime

    from include import promotion, registry

    s, client = registered
    _promote(s, "1", "run_1")
    _promote(s, "2", "run_2")
    moment = datetime(2026, 3, 3, tzinfo=UTC)
    promotion.rollback(
        "credit_default",
        "previous",
        reason="AUC fell",
        actor="user:ops",
        dag_run_id="run_3",
        interval=(moment, moment),
        task="rollback",
        settings=s,
    )
    assert (
        registry.get(client, "credit_default", "1").tags["audit_anchor.3"]
        == (chain.load(_entry_path(s, 3)).body["hash"])
    )
    for path in chain.entry_paths("credit_default", s):
        storage.delete(path)
    [report] = verify.verify(settings=s)
    assert report.stream == "credit_default" and report.anchors == 3
    assert len(report.problems) == 3 + 3  # 3 key markers past the end, 3 anchors without their entry
    assert any("anchor audit_anchor.1 on credit_default v1 (MLflow)" in p for p in report.problems)


def test_the_verify_command_names_the_anchor_it_contradicts(registered, tmp_path):
    s, _ = registered
    _promote(s, "1", "run_1")
    _rewrite_with_a_fresh_hash(s, 1)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MLOPS_STORAGE_ROOT": s.storage_root,
        "MLOPS_LOCAL_DIR": str(tmp_path / "local"),
        "MLFLOW_TRACKING_URI": s.mlflow_tracking_uri,
    }
    command = [sys.executable, "-m", "include.audit", "verify"]
    broken = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert broken.returncode == 1, broken.stderr
    assert "1 entries, 1 MLflow anchor checked, BROKEN" in broken.stdout
    assert "anchor audit_anchor.1 on credit_default v1 (MLflow)" in broken.stdout
