"""What a careless producer lands: mixed timestamp forms, subfolders, links out of the root,
compressed files, quoted newlines across read blocks, a trailing comma on the header and
huge values. Each case through ``ingest_partition`` on file:// storage, with the accounting
check of ``tests.support.ingestion``."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from include import storage
from include.ingestion import commit, reader
from tests.support.data import credit_frame, to_csv
from tests.support.ingestion import DAY, FEED, files_of, ingest

N = 200


@pytest.fixture
def frame() -> pd.DataFrame:
    return credit_frame(DAY, N)


def landing_dir(settings) -> Path:
    directory = Path(storage.partition("landing", FEED, DAY, settings=settings).path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def curated_ts(out, frame: pd.DataFrame, row: int) -> pd.Timestamp:
    """The curated ``application_ts`` of frame row ``row``."""
    by_id = out.curated.set_index("application_id")["application_ts"]
    return by_id[frame.loc[row, "application_id"]]


def test_each_timestamp_is_read_on_its_own_a_naive_one_is_utc(settings, credit, land, frame):
    frame["application_ts"] = "2024-05-01 12:00:00"  # naive: UTC
    frame.loc[0, "application_ts"] = "2024-05-01T10:00:00+02:00"  # first row with an offset
    frame.loc[5, "application_ts"] = "2024-05-01T06:00:00-05:00"
    frame.loc[7, "application_ts"] = "2024-05-01T09:30:00Z"
    frame.loc[9, "application_ts"] = "2024-05-01T13:00:00+0100"
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    utc = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")
    assert curated_ts(out, frame, 0) == pd.Timestamp("2024-05-01 08:00", tz="UTC")
    assert curated_ts(out, frame, 5) == pd.Timestamp("2024-05-01 11:00", tz="UTC")
    assert curated_ts(out, frame, 7) == pd.Timestamp("2024-05-01 09:30", tz="UTC")
    assert curated_ts(out, frame, 9) == pd.Timestamp("2024-05-01 12:00", tz="UTC")
    # No naive value inherits the offset of a value before it.
    for row in (1, 2, 6, 8, 10, N - 1):
        assert curated_ts(out, frame, row) == utc
    assert not [c for c in out.report["checks"] if c["name"] == "late_arrivals"]


def test_every_file_below_the_partition_is_read_and_named_by_its_path(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame.iloc[:120]))
    late = frame.iloc[120:].copy()
    late.loc[130, "age"] = 5
    (landing_dir(settings) / "late" / "more").mkdir(parents=True)
    (landing_dir(settings) / "late" / "more" / "part2.csv").write_bytes(to_csv(late))
    (landing_dir(settings) / "_temporary" / "0").mkdir(parents=True)
    (landing_dir(settings) / "_temporary" / "0" / "part-9.csv").write_bytes(b"half written")
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N - 1, "quarantined": 1}
    assert out.reason(11, file="late/more/part2.csv") == "range: age=5 is below the minimum 18"
    files = {f["name"]: f for f in out.report["files"]}
    assert files["late/more/part2.csv"]["rows"] == 80
    assert files["_temporary/0/part-9.csv"]["status"] == "marker"  # a writer's scratch folder is not data


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_link_out_of_the_root_is_refused_by_name_and_nothing_of_it_is_read(
    settings, credit, land, frame, tmp_path_factory, kind
):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.csv").write_bytes(to_csv(credit_frame(DAY, 50, id_prefix="s")))
    land(FEED, DAY, "a.csv", to_csv(frame))
    link = landing_dir(settings) / ("b.csv" if kind == "file" else "extra")
    link.symlink_to(outside / "secret.csv" if kind == "file" else outside)
    out = ingest(settings, credit, expect="failed")
    name = link.name
    assert out.check("file_readable")["file"] == name
    assert f"{name} is a symbolic link (to {outside}" in str(out.error)
    assert "nothing of it was read" in str(out.error)
    # Only a.csv's rows are accounted for; the linked rows were never read, nothing was copied.
    assert out.counts["landed"] == N
    assert not out.quarantine["application_id"].str.startswith("s").any()
    assert [n for n in files_of(settings, "quarantine") if n.startswith("raw-")] == []


def test_a_link_inside_the_landing_zone_is_refused_too(settings, credit, land, frame):
    land(FEED, DAY, "a.csv", to_csv(frame))
    os.symlink(landing_dir(settings) / "a.csv", landing_dir(settings) / "b.csv")
    out = ingest(settings, credit, expect="failed")
    assert "b.csv is a symbolic link" in out.check("file_readable")["message"]


def test_gzip_is_read_by_suffix_or_by_its_bytes_and_a_broken_one_is_named(settings, credit, land, frame):
    land(FEED, DAY, "a.csv.gz", gzip.compress(to_csv(frame.iloc[:100]), mtime=0))
    land(FEED, DAY, "b.csv", gzip.compress(to_csv(frame.iloc[100:]), mtime=0))  # gzip under a .csv name
    out = ingest(settings, credit)
    assert out.counts == {"landed": N, "curated": N, "quarantined": 0}
    assert {f["name"]: f["compression"] for f in out.report["files"]} == {"a.csv.gz": "gzip", "b.csv": "gzip"}

    broken = gzip.compress(to_csv(frame), mtime=0)[:300]
    land(FEED, DAY, "b.csv", broken)
    out = ingest(settings, credit, expect="failed")
    assert "b.csv: gzip-compressed but cannot be decompressed" in out.check("file_readable")["message"]
    assert files_of(settings, "quarantine")[f"raw-{commit.sha256(broken)[:16]}-b.csv"] == broken


def test_a_quoted_newline_gets_the_same_verdict_at_any_offset(settings, credit, land, frame, monkeypatch):
    frame.loc[40, "loan_purpose"] = "car\nrepair"  # not an allowed value: one quarantined row
    frame.loc[41, "loan_purpose"] = "home\n"
    data = to_csv(frame)
    at = data.index(b'"car')
    land(FEED, DAY, "a.csv", data)
    verdicts = []
    # Arrow parses in blocks: put a block boundary inside the quoted value, and around it.
    for block in (1 << 24, at + 2, at + 5, at - 3, 4096):
        monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", block)
        out = ingest(settings, credit)
        verdicts.append((out.counts, out.reason(41), out.reason(42)))
    assert verdicts[0][0] == {"landed": N, "curated": N - 2, "quarantined": 2}
    assert verdicts[0][1].startswith("allowed: loan_purpose='car\\nrepair' is not one of")
    assert verdicts == [verdicts[0]] * len(verdicts)


def test_a_trailing_comma_on_the_header_is_named(settings, credit, land, frame):
    lines = to_csv(frame).split(b"\n")
    lines[0] += b","
    land(FEED, DAY, "a.csv", b"\n".join(lines))
    out = ingest(settings, credit, expect="failed")
    columns = len(frame.columns) + 1
    assert out.check("file_readable")["message"] == (
        f"a.csv: header has an empty column name at position(s) {columns} of {columns} (a trailing "
        "comma?); the file is preserved in quarantine"
    )


def test_a_huge_value_gives_a_short_reason_and_stays_whole_in_quarantine(settings, credit, land, frame):
    huge = "9" * 100 + "x" * 5_000_000
    frame.loc[3, "age"] = huge
    land(FEED, DAY, "a.csv", to_csv(frame))
    out = ingest(settings, credit)
    reason = out.reason(4)
    assert reason == f"type: age={huge[:80]!r}... (5,000,100 characters) is not a valid int"
    assert len(reason) < 200
    assert out.quarantine.loc[out.quarantine["_source_row"] == 4, "age"].item() == huge
