"""The storage layer on a file:// root and on S3 (a local moto server): the same test
functions run on both."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from include import settings as settings_module
from include import storage
from include.ingestion.partition import ingest_partition, read_curated
from tests.support.data import credit_frame, land_bytes, to_csv
from tests.support.moto import aws_client, moto_enable_iam, set_aws_connection, start_moto_server

DAY = date(2024, 5, 1)
FEED = "credit_applications"


@pytest.fixture(params=["file", "s3"])
def store(request):
    """Settings on a fresh file:// root or a fresh S3 bucket."""
    return request.getfixturevalue("settings" if request.param == "file" else "s3_settings")


def _uri(settings, *segments: str) -> str:
    return "/".join((settings.storage_root, *segments))


def test_roots_are_what_the_settings_say(store):
    assert storage.describe(storage.root(store)) == store.storage_root
    assert storage.describe(storage.partition("landing", FEED, DAY, settings=store)) == _uri(
        store, "landing", FEED, "dt=2024-05-01"
    )


def test_atomic_write_then_read_back_and_overwrite(store):
    target = storage.path("curated", "feed", "dt=2024-05-01", "part-0.parquet", settings=store)
    assert not storage.exists(target)
    storage.write_bytes_atomic(target, b"first version")
    assert storage.exists(target)
    assert storage.read_bytes(target) == b"first version"
    storage.write_bytes_atomic(target, b"second")
    assert storage.read_bytes(target) == b"second"
    # No temporary file is left next to the target.
    assert [p.name for p in storage.list_files(target.parent)] == ["part-0.parquet"]


def test_list_tree_finds_files_at_any_depth_by_relative_path(store):
    directory = storage.path("landing", "feed", "dt=2024-05-01", settings=store)
    assert storage.list_tree(directory, store) == []  # absent folder: empty, no error
    for name in ("b.csv", "late/x/part2.csv", "late/a.csv", "_temporary/0/part.csv"):
        storage.write_bytes_atomic(directory / name, name.encode())
    storage.write_bytes_atomic(
        storage.path("landing", "feed", "dt=2024-05-02", "c.csv", settings=store), b"c"
    )
    found = storage.list_tree(directory, store)
    assert [f.relative for f in found] == ["_temporary/0/part.csv", "b.csv", "late/a.csv", "late/x/part2.csv"]
    assert [storage.read_bytes(f.path) for f in found] == [f.relative.encode() for f in found]
    assert not any(f.refused for f in found)


def test_list_names_gives_relative_names_of_files_at_any_depth(store):
    directory = storage.path("monitoring", "ds", "drift", settings=store)
    assert storage.list_names(directory) == []  # absent folder: empty, no error
    for name in ("dt=2026-01-02/hour=01.json", "dt=2026-01-01/hour=23.json", "dt=2026-01-01/hour=00.json"):
        storage.write_bytes_atomic(directory / name, b"{}")
    assert storage.list_names(directory) == [
        "dt=2026-01-01/hour=00.json",
        "dt=2026-01-01/hour=23.json",
        "dt=2026-01-02/hour=01.json",
    ]
    if store.storage_root.startswith("file://"):  # a link never leads outside the root
        outside = directory.path + "/../../../../secret.json"
        Path(outside).write_text("{}")
        os.symlink(outside, directory.path + "/dt=2026-01-02/hour=02.json")
        Path(directory.path, "dt=2026-01-02", ".hour=03.json.tmp").write_text("{}")  # a write in progress
        assert storage.list_names(directory)[-1] == "dt=2026-01-02/hour=01.json"


def test_write_of_binary_data_is_byte_exact(store):
    data = bytes(range(256)) * 1000 + b"\x00\r\n"
    target = storage.path("landing", "feed", "blob.bin", settings=store)
    storage.write_bytes_atomic(target, data)
    assert storage.read_bytes(target) == data


def test_list_files_is_sorted_by_name_and_skips_folders(store):
    directory = storage.path("landing", "feed", "dt=2024-05-01", settings=store)
    assert storage.list_files(directory) == []  # absent folder: empty, no error
    assert storage.list_dirs(directory) == []
    for name in ("b.csv", "a.parquet", "_SUCCESS", "C.csv", "a.csv"):
        storage.write_bytes_atomic(directory / name, name.encode())
    storage.write_bytes_atomic(directory / "sub" / "inner.csv", b"x")
    assert [p.name for p in storage.list_files(directory)] == [
        "C.csv",
        "_SUCCESS",
        "a.csv",
        "a.parquet",
        "b.csv",
    ]
    assert [p.name for p in storage.list_dirs(directory)] == ["sub"]
    assert [storage.read_bytes(p) for p in storage.list_files(directory)][:2] == [b"C.csv", b"_SUCCESS"]


def test_delete_removes_and_tolerates_an_absent_object(store):
    directory = storage.path("quarantine", "feed", settings=store)
    storage.write_bytes_atomic(directory / "keep.txt", b"k")
    storage.write_bytes_atomic(directory / "drop.txt", b"d")
    storage.delete(directory / "drop.txt")
    assert [p.name for p in storage.list_files(directory)] == ["keep.txt"]
    storage.delete(directory / "drop.txt")  # already gone: no error
    assert storage.read_bytes(directory / "keep.txt") == b"k"


def test_missing_object_gives_a_storage_error_naming_the_uri(store):
    missing = storage.path("landing", "feed", "dt=2024-05-01", "nope.csv", settings=store)
    with pytest.raises(storage.StorageError) as info:
        storage.read_bytes(missing)
    assert (
        str(info.value)
        == f"cannot read {_uri(store, 'landing', 'feed', 'dt=2024-05-01', 'nope.csv')}: it does not exist"
    )
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.parametrize(
    "segment",
    [
        "..",
        "../etc",
        "a/b",
        "/",
        "",
        ".",
        ".hidden",
        "_marker",
        "-x",
        "a..b",
        "a b",
        "dt=2024-05-01;rm",
        "caf\u00e9",
        "a\\b",
        "x" * 256,
        None,
    ],
)
def test_safe_segment_rejects_names_that_could_escape_or_are_outside_the_charset(store, segment):
    with pytest.raises(storage.StorageError, match="refusing path segment"):
        storage.safe_segment(segment)
    with pytest.raises(storage.StorageError, match="refusing path segment"):
        storage.path("landing", segment, settings=store)


@pytest.mark.parametrize("segment", ["dt=2024-05-01", "part-0123abcd.parquet", "A_b.c-d=e", "x" * 255, "0"])
def test_safe_segment_accepts_plain_names(store, segment):
    assert storage.safe_segment(segment) == segment
    assert storage.describe(storage.path("landing", segment, settings=store)) == _uri(
        store, "landing", segment
    )


def test_partition_rejects_an_unknown_zone_and_an_escaping_dataset(store):
    with pytest.raises(storage.StorageError, match="unknown zone 'archive'"):
        storage.partition("archive", FEED, DAY, settings=store)
    with pytest.raises(storage.StorageError, match="refusing path segment '../landing'"):
        storage.partition("curated", "../landing", DAY, settings=store)


def test_full_ingest_round_trip_gives_the_same_data_version_on_both_roots(
    settings, s3_settings, moto_server, credit
):
    frame = credit_frame(DAY, 150)
    frame.loc[3, "age"] = "forty"
    reports = {}
    for name, s in (("file", settings), ("s3", s3_settings)):
        land_bytes(s, FEED, DAY, "_SUCCESS", b"")
        land_bytes(s, FEED, DAY, "a.csv", to_csv(frame))
        reports[name] = ingest_partition(credit, FEED, DAY, settings=s)
        assert reports[name]["counts"] == {"landed": 150, "curated": 149, "quarantined": 1}
        assert reports[name]["curated_files"][0].startswith(
            _uri(s, "curated", FEED, "dt=2024-05-01", "part-")
        )
    assert reports["s3"]["data_version"] == reports["file"]["data_version"]
    assert reports["s3"]["data_version"].startswith("sha256:")
    curated_file, curated_s3 = (read_curated(FEED, DAY, settings=s) for s in (settings, s3_settings))
    pd.testing.assert_frame_equal(curated_s3, curated_file)
    assert len(curated_s3) == 149 and frame.loc[3, "application_id"] not in set(curated_s3["application_id"])
    # A second run on S3 replaces nothing and gives the same report.
    assert ingest_partition(credit, FEED, DAY, settings=s3_settings) == reports["s3"]
    bucket, prefix = s3_settings.storage_root[len("s3://") :].split("/", 1)
    keys = sorted(o["Key"] for o in aws_client("s3", moto_server).list_objects_v2(Bucket=bucket)["Contents"])
    assert [k.split("/")[:2] for k in keys] == [
        [prefix, zone]
        for zone in ("curated", "curated", "curated", "landing", "landing", "quarantine", "quarantine")
    ]  # curated: the data, its report and that report in the partition's history


# --------------------------------------------------------------------------- permissions


def test_denied_s3_permissions_are_named_in_the_storage_error(monkeypatch, credit, tmp_path_factory):
    """A read-only IAM user on a moto server of its own (IAM checks are server-wide)."""
    with start_moto_server(tmp_path_factory.mktemp("moto_server")) as endpoint:
        bucket = f"perm-{uuid.uuid4().hex[:12]}"
        admin = aws_client("s3", endpoint)
        admin.create_bucket(Bucket=bucket)
        admin.put_object(
            Bucket=bucket, Key=f"root/landing/{FEED}/dt=2024-05-01/a.csv", Body=to_csv(credit_frame(DAY, 120))
        )
        iam = aws_client("iam", endpoint)
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader",
            PolicyName="read-only",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                        }
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        moto_enable_iam(endpoint)

        conn_id = f"reader_{uuid.uuid4().hex[:12]}"
        set_aws_connection(monkeypatch, conn_id, endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        s = settings_module.load(
            {"MLOPS_STORAGE_ROOT": f"s3://{bucket}/root", "MLOPS_STORAGE_CONN_ID": conn_id}
        )
        landing = storage.partition("landing", FEED, DAY, settings=s)
        assert [p.name for p in storage.list_files(landing)] == ["a.csv"]  # list and read are allowed
        assert storage.read_bytes(landing / "a.csv").startswith(b"application_id,")

        with pytest.raises(storage.StorageError) as write:
            storage.write_bytes_atomic(landing / "b.csv", b"x")
        assert str(write.value).startswith(
            f"permission denied: cannot write s3://{bucket}/root/landing/{FEED}/"
            "dt=2024-05-01/b.csv (the credentials lack s3:PutObject)"
        )
        with pytest.raises(storage.StorageError) as delete:
            storage.delete(landing / "a.csv")
        assert str(delete.value).startswith(
            f"permission denied: cannot delete s3://{bucket}/root/landing/{FEED}/"
            "dt=2024-05-01/a.csv (the credentials lack s3:DeleteObject)"
        )
        assert storage.exists(landing / "a.csv")  # still there

        with pytest.raises(storage.StorageError, match="the credentials lack s3:PutObject"):
            ingest_partition(credit, FEED, DAY, settings=s)


def test_a_long_lived_process_sees_objects_another_writer_added_after_it_listed(s3_settings, moto_server):
    """s3fs caches listings per process; the scheduler-side or a test process must not be blind
    to what a task process (here: boto3 directly) wrote after its first look."""
    directory = storage.path("audit", "dt=2024-05-01", settings=s3_settings)
    storage.write_bytes_atomic(directory / "a.json", b"{}")
    assert [p.name for p in storage.list_files(directory)] == ["a.json"]
    later = directory / "b.json"
    assert not storage.exists(later)
    bucket, prefix = s3_settings.storage_root.removeprefix("s3://").split("/", 1)
    aws_client("s3", moto_server).put_object(
        Bucket=bucket, Key=f"{prefix}/audit/dt=2024-05-01/b.json", Body=b"{}"
    )
    assert [p.name for p in storage.list_files(directory)] == ["a.json", "b.json"]
    assert storage.exists(later)
    assert [p.name for p in storage.list_dirs(storage.path("audit", settings=s3_settings))] == [
        "dt=2024-05-01"
    ]
