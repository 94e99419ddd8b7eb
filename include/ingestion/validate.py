"""Validate a landed batch against a contract feed, row by row and batch by batch.

Row checks (types, NaN/inf, nulls, ranges, allowed values, future timestamps, duplicate
keys) give each failing row one reason, joining several problems with "; ". Batch checks
(files, schema, row count, null rates, bad-row share, freshness) decide whether the batch
may be committed. Nothing is dropped: every landed row ends up valid or quarantined.

Landed files are matched on the contract's source headers (a column's ``source:``, by default
its name); once the schema is checked each table is renamed to contract names, which is all
that the row checks, curated and quarantine files see.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.contract import Feed
from include.ingestion.coerce import TIMESTAMP, coerce
from include.ingestion.reader import SOURCE_FILE, SOURCE_ROW, LandedBatch

REASON = "_reason"
# Above this share of missing values a column gets a warning even without its own limit.
NULL_RATE_WARNING = 0.30


@dataclass
class Check:
    name: str
    status: str  # passed, failed, warning, skipped
    message: str
    column: str | None = None
    file: str | None = None
    observed: float | int | str | None = None
    limit: float | int | str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ValidationResult:
    feed: str
    landed_rows: int
    valid: pa.Table  # typed per contract, in landing order
    quarantined: pd.DataFrame  # raw text values + source + reason
    checks: list[Check] = field(default_factory=list)
    raw: pa.Table | None = None
    reasons: dict[int, list[str]] = field(default_factory=dict)
    undecodable: list = field(default_factory=list)

    def reject_all(self, why: str) -> pd.DataFrame:
        """Quarantine frame for a rejected batch: every landed row, with its own reason if
        it had one and the batch-level reason."""
        everything = np.ones(self.raw.num_rows, dtype=bool)
        # "; " separates the reasons of a row, so the batch reason must not contain it.
        why = why.replace("; ", ", ")
        reasons = {i: self.reasons.get(i, []) + [f"batch_rejected: {why}"] for i in range(self.raw.num_rows)}
        undecodable = [
            type(u)(u.file, u.row, u.text, f"{u.reason}; batch_rejected: {why}") for u in self.undecodable
        ]
        return _quarantine_frame(self.raw, everything, reasons, undecodable)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]

    @property
    def passed(self) -> bool:
        return not self.failed_checks

    def reason_counts(self, quarantined: pd.DataFrame | None = None) -> dict[str, int]:
        """Reason kinds of ``quarantined`` (default: the row-level quarantine frame)."""
        counts: Counter[str] = Counter()
        frame = self.quarantined if quarantined is None else quarantined
        for reason in frame[REASON]:
            for part in reason.split("; "):
                counts[part.split(":", 1)[0]] += 1
        return dict(sorted(counts.items()))


class _Reasons:
    """Collects reasons per row index without touching clean rows."""

    def __init__(self, n: int):
        self.n = n
        self.by_row: dict[int, list[str]] = {}

    def add(self, mask: np.ndarray, kind: str, describe) -> int:
        rows = np.flatnonzero(mask)
        for i in rows:
            self.by_row.setdefault(int(i), []).append(f"{kind}: {describe(int(i))}")
        return len(rows)

    def mask(self) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        if self.by_row:
            m[list(self.by_row)] = True
        return m


# A value shown in a reason is cut to this many characters; the quarantined row keeps it whole.
SHOWN_VALUE_CHARS = 80


def _fmt(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str) and len(value) > SHOWN_VALUE_CHARS:
        return f"{value[:SHOWN_VALUE_CHARS]!r}... ({len(value):,} characters)"
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


def _shown(feed: Feed, header: str) -> str:
    """A header as the producer wrote it, with the contract name when that differs."""
    name = feed.names_by_source.get(header, header)
    return header if name == header else f"{header} ({name})"


def _schema_checks(feed: Feed, batch: LandedBatch) -> list[Check]:
    checks: list[Check] = []
    expected = set(feed.source_names)
    # A header equal to a contract name but not to its source is an extra column: say which one it meant.
    meant = {c.name: c.source for c in feed.columns if c.name != c.source and c.name not in expected}
    data_files = [f for f in batch.files if f.status not in ("marker",)]
    if not data_files:
        checks.append(
            Check("files_present", "failed", "the landing partition holds no data file (only markers)")
        )
    for f in batch.files:
        if f.status == "refused":
            checks.append(Check("file_readable", "failed", f.message, file=f.name))
        elif f.status in ("unreadable", "unsupported"):
            checks.append(
                Check(
                    "file_readable",
                    "failed",
                    f"{f.name}: {f.message}; the file is preserved in quarantine",
                    file=f.name,
                )
            )
        elif f.status == "empty":
            checks.append(
                Check("file_readable", "warning", f"{f.name}: {f.message}", file=f.name, observed=0)
            )
    for f, _table in batch.tables:
        present = set(f.columns)
        missing = sorted(expected - present)
        extra = sorted(present - expected)
        if missing:
            checks.append(
                Check(
                    "schema_missing_columns",
                    "failed",
                    f"{f.name} lacks required column(s) {', '.join(_shown(feed, m) for m in missing)}",
                    file=f.name,
                    column=",".join(missing),
                )
            )
        if extra:
            status = "failed" if feed.extra_columns == "reject" else "warning"
            hints = [f"use {meant[x]} for {x}" for x in extra if x in meant]
            checks.append(
                Check(
                    "schema_extra_columns",
                    status,
                    f"{f.name} has column(s) {', '.join(extra)} that the contract does not declare"
                    + (f" (files are matched on source headers: {', '.join(hints)})" if hints else "")
                    + (" (dropped)" if status == "warning" else ""),
                    file=f.name,
                    column=",".join(extra),
                )
            )
    return checks


def validate(
    feed: Feed, batch: LandedBatch, window_start: datetime, window_end: datetime
) -> ValidationResult:
    """Validate ``batch`` for the partition covering [window_start, window_end) (tz-aware)."""
    checks = _schema_checks(feed, batch)
    landed_tables = [(f, _to_contract_names(t, feed)) for f, t in batch.tables]
    markers: Counter[tuple[str, str]] = Counter()
    tables = [_read_markers(t, feed, markers) if f.format == "csv" else t for f, t in landed_tables]
    if tables:
        unified = _unify(tables, feed)
        # Quarantined rows keep the values as they landed ("?" stays "?").
        landed = _unify([t for _, t in landed_tables], feed) if markers else unified
    else:
        empty = {c: pa.array([], pa.string()) for c in (*feed.column_names, SOURCE_FILE)}
        unified = landed = pa.table(empty | {SOURCE_ROW: pa.array([], pa.int64())})
    checks += _marker_checks(feed, markers)
    n = unified.num_rows
    reasons = _Reasons(n)
    typed: dict[str, pa.Array] = {}
    null_masks: dict[str, np.ndarray] = {}
    for column in feed.columns:
        raw = unified.column(column.name).combine_chunks()
        coerced = coerce(raw, column.dtype)
        values = typed[column.name] = coerced.values

        def show_raw(i, raw=raw):
            return _fmt(raw[i].as_py())

        out_of_range = coerced.out_of_range if coerced.out_of_range is not None else np.zeros(len(raw), bool)
        type_bad = coerced.type_bad | coerced.fractional | out_of_range
        reasons.add(
            out_of_range,
            "range",
            lambda i, c=column, r=show_raw: f"{c.name}={r(i)} is outside the int64 range",
        )
        reasons.add(
            coerced.type_bad,
            "type",
            lambda i, c=column, r=show_raw: f"{c.name}={r(i)} is not a valid {c.dtype}",
        )
        reasons.add(
            coerced.fractional,
            "type",
            lambda i, c=column, r=show_raw: f"{c.name}={r(i)} is not a whole number",
        )
        is_null = raw.is_null().to_numpy(zero_copy_only=False)
        if coerced.floats is not None:
            floats = coerced.floats
            nan_mask = np.isnan(floats) & ~is_null & ~type_bad
            inf_mask = np.isinf(floats)
            reasons.add(nan_mask, "nan", lambda i, c=column: f"{c.name} is NaN")
            reasons.add(
                inf_mask, "infinite", lambda i, c=column, v=floats: f"{c.name}={_fmt(v[i])} is not finite"
            )
            if column.dtype == "int":
                _int_range(column, values, reasons)
            else:
                _float_range(column, floats, reasons)
        null_masks[column.name] = is_null
        if not column.nullable:
            reasons.add(
                is_null, "null", lambda i, c=column: f"{c.name} is missing (the column is not nullable)"
            )
        if column.allowed is not None:
            if column.dtype == "int":  # exactly: as floats, 2^53 + 1 would match 2^53
                allowed = pc.fill_null(
                    pc.is_in(values, pa.array(_whole(column.allowed), pa.int64())), False
                ).to_numpy(zero_copy_only=False)
            elif coerced.floats is not None:
                allowed = np.isin(coerced.floats, np.array(column.allowed, dtype=float))
            else:
                allowed = pc.fill_null(
                    pc.is_in(values, pa.array([str(a) for a in column.allowed])), False
                ).to_numpy(zero_copy_only=False)
            reasons.add(
                ~allowed & ~is_null & ~type_bad,
                "allowed",
                lambda i, c=column, v=values: (
                    f"{c.name}={_fmt(v[i].as_py())} is not one of {list(c.allowed)}"
                ),
            )
    if n:
        ts = typed[feed.event_timestamp]
        future_limit = pd.Timestamp(window_end) + timedelta(minutes=feed.limits.max_future_minutes)
        future = pc.fill_null(pc.greater(ts, pa.scalar(future_limit, TIMESTAMP)), False).to_numpy(
            zero_copy_only=False
        )
        reasons.add(
            future,
            "future",
            lambda i: (
                f"{feed.event_timestamp}={ts[i].as_py().isoformat()} is after "
                f"{future_limit.isoformat()} (future timestamp)"
            ),
        )
        _duplicate_keys(feed, typed, unified, reasons)
    bad = reasons.mask()
    # Landing order (files by name, rows in file order) is kept: it is deterministic and
    # sorting a million rows would cost more than validating them.
    valid = pa.table(typed).filter(pa.array(~bad))
    quarantined = _quarantine_frame(landed, bad, reasons.by_row, batch.undecodable)
    landed_rows = n + len(batch.undecodable)
    checks += _batch_checks(feed, null_masks, landed_rows, len(quarantined), valid, window_start, window_end)
    return ValidationResult(
        feed.name, landed_rows, valid, quarantined, checks, landed, reasons.by_row, batch.undecodable
    )


def _whole(values) -> list[int]:
    """The allowed values of an int column that an int64 can equal."""
    found = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if float(value).is_integer() and -(2**63) <= int(value) < 2**63:
            found.append(int(value))
    return found


def _float_range(column, floats: np.ndarray, reasons: _Reasons) -> None:
    finite = np.isfinite(floats)
    if column.min is not None:
        reasons.add(
            finite & (floats < column.min),
            "range",
            lambda i, c=column, v=floats: f"{c.name}={_fmt(v[i])} is below the minimum {c.min:g}",
        )
    if column.max is not None:
        reasons.add(
            finite & (floats > column.max),
            "range",
            lambda i, c=column, v=floats: f"{c.name}={_fmt(v[i])} is above the maximum {c.max:g}",
        )


def _bound(limit) -> str:
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def _int_range(column, values: pa.Array, reasons: _Reasons) -> None:
    """min/max of an int column compared as integers, exactly: a float comparison rounds above 2^53."""
    present = values.is_valid().to_numpy(zero_copy_only=False)
    ints = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)
    if column.min is not None:
        low = max(math.ceil(column.min), -(2**63))  # v < min  <=>  v < ceil(min)
        reasons.add(
            present & (ints < low) if low <= 2**63 - 1 else present,
            "range",
            lambda i, c=column: f"{c.name}={ints[i]} is below the minimum {_bound(c.min)}",
        )
    if column.max is not None:
        high = min(math.floor(column.max), 2**63 - 1)  # v > max  <=>  v > floor(max)
        reasons.add(
            present & (ints > high) if high >= -(2**63) else present,
            "range",
            lambda i, c=column: f"{c.name}={ints[i]} is above the maximum {_bound(c.max)}",
        )


def _read_markers(table: pa.Table, feed: Feed, seen: Counter) -> pa.Table:
    """``table`` (a CSV's text, contract names) with each column's ``null_values`` markers read as
    null, exactly as written (``NA`` is not ``na``); ``seen`` counts them by (column, marker)."""
    for index, column in enumerate(feed.columns):
        if not column.null_values:
            continue
        values = table.column(column.name)
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            continue
        hit = pc.fill_null(pc.is_in(values, pa.array(column.null_values, values.type)), False)
        found = pc.value_counts(pc.filter(values, hit)).to_pylist()
        if not found:
            continue
        for entry in found:
            seen[(column.name, entry["values"])] += int(entry["counts"])
        table = table.set_column(index, column.name, pc.if_else(hit, pa.scalar(None, values.type), values))
    return table


def _marker_checks(feed: Feed, seen: Counter) -> list[Check]:
    """One report line per column whose missing-value markers were read as null in CSV files."""
    checks = []
    for column in feed.columns:
        counts = {m: seen[(column.name, m)] for m in column.null_values if seen[(column.name, m)]}
        if counts:
            shown = ", ".join(f"{m!r} x{n}" for m, n in counts.items())
            checks.append(
                Check(
                    "null_markers",
                    "passed",
                    f"{column.name}: {sum(counts.values())} CSV values read as null by null_values ({shown})",
                    column=column.name,
                    observed=sum(counts.values()),
                    limit=", ".join(counts),
                )
            )
    return checks


def _to_contract_names(table: pa.Table, feed: Feed) -> pa.Table:
    """The feed's columns of a landed table, renamed from source headers to contract names and in
    contract order; extra columns are left out (the schema checks reported them).

    A file lacking a column fails the schema checks, but its rows are still landed rows: the
    missing columns are added as nulls so that every row is counted and quarantined.
    """
    present = [c for c in feed.columns if c.source in table.column_names]
    table = table.select([c.source for c in present] + [SOURCE_FILE, SOURCE_ROW]).rename_columns(
        [c.name for c in present] + [SOURCE_FILE, SOURCE_ROW]
    )
    for name in feed.column_names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table.select([*feed.column_names, SOURCE_FILE, SOURCE_ROW])


def _unify(tables: list[pa.Table], feed: Feed) -> pa.Table:
    """Concatenate the files of a batch. When files disagree on a column's type (CSV text
    next to Parquet numbers), value columns become text and coercion parses them again;
    when they agree, native types are kept, which is faster and exact."""
    if len({tuple(t.schema.field(c).type for c in feed.column_names) for t in tables}) == 1:
        return pa.concat_tables(tables)
    as_text = [
        t.cast(
            pa.schema([pa.field(f.name, pa.string()) if f.name in feed.column_names else f for f in t.schema])
        )
        for t in tables
    ]
    return pa.concat_tables(as_text)


def _duplicate_keys(feed: Feed, typed: dict[str, pa.Array], unified: pa.Table, reasons: _Reasons) -> None:
    """Flag every repeat of a primary key; the first occurrence (file order) is kept."""
    n = unified.num_rows
    codes = np.zeros(n, dtype=np.int64)
    complete = np.ones(n, dtype=bool)
    for key in feed.primary_key:
        encoded = pc.dictionary_encode(typed[key])
        index = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        complete &= index >= 0
        codes = codes * (len(encoded.dictionary) + 1) + (index + 1)
    unique, first = np.unique(codes, return_index=True)
    first_of_row = first[np.searchsorted(unique, codes)]
    dup = complete & (first_of_row != np.arange(n))
    if not dup.any():
        return
    files, rows = unified.column(SOURCE_FILE), unified.column(SOURCE_ROW)

    def describe(i: int) -> str:
        j = int(first_of_row[i])
        shown = ", ".join(f"{k}={_fmt(typed[k][i].as_py())}" for k in feed.primary_key)
        return f"{shown} repeats the row first seen in {files[j].as_py()} row {rows[j].as_py()}"

    reasons.add(dup, "duplicate_key", describe)


def _quarantine_frame(
    unified: pa.Table, bad: np.ndarray, reasons: dict[int, list[str]], undecodable: list
) -> pd.DataFrame:
    indices = np.flatnonzero(bad)
    picked = unified.take(pa.array(indices, pa.int64()))
    columns = {}
    for name in picked.column_names:
        col = picked.column(name)
        columns[name] = col.to_pandas() if name == SOURCE_ROW else col.cast(pa.string()).to_pandas()
    frame = pd.DataFrame(columns)
    frame[REASON] = pd.Series(["; ".join(reasons[int(i)]) for i in indices], dtype=object)
    if undecodable:
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    {
                        SOURCE_FILE: [u.file for u in undecodable],
                        SOURCE_ROW: [u.row for u in undecodable],
                        "_raw_line": [u.text for u in undecodable],
                        REASON: [f"encoding: {u.reason}" for u in undecodable],
                    }
                ),
            ],
            ignore_index=True,
        )
    if len(frame):
        frame = frame.sort_values([SOURCE_FILE, SOURCE_ROW], kind="mergesort").reset_index(drop=True)
    return frame


def _batch_checks(
    feed: Feed,
    null_masks: dict[str, np.ndarray],
    landed: int,
    bad: int,
    valid: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
) -> list[Check]:
    limits = feed.limits
    checks = []
    in_range = limits.min_rows <= landed <= limits.max_rows
    checks.append(
        Check(
            "row_count",
            "passed" if in_range else "failed",
            f"{landed} rows landed; the contract allows {limits.min_rows}..{limits.max_rows}",
            observed=landed,
            limit=f"{limits.min_rows}..{limits.max_rows}",
        )
    )
    for column in feed.columns:
        if not landed:
            break
        rate = float(null_masks[column.name].sum()) / landed
        if column.max_null_rate is not None:
            ok = rate <= column.max_null_rate
            checks.append(
                Check(
                    "null_rate",
                    "passed" if ok else "failed",
                    f"{column.name} is missing in {rate:.2%} of rows; limit {column.max_null_rate:.2%}",
                    column=column.name,
                    observed=round(rate, 6),
                    limit=column.max_null_rate,
                )
            )
        elif rate > NULL_RATE_WARNING:
            checks.append(
                Check(
                    "null_rate",
                    "warning",
                    f"{column.name} is missing in {rate:.2%} of rows",
                    column=column.name,
                    observed=round(rate, 6),
                    limit=NULL_RATE_WARNING,
                )
            )
    share = bad / landed if landed else 0.0
    checks.append(
        Check(
            "bad_row_share",
            "passed" if share <= limits.max_bad_row_share else "failed",
            f"{bad} of {landed} rows failed row checks ({share:.2%}); limit {limits.max_bad_row_share:.2%}",
            observed=round(share, 6),
            limit=limits.max_bad_row_share,
        )
    )
    if valid.num_rows:
        newest = pd.Timestamp(pc.max(valid.column(feed.event_timestamp)).as_py())
        oldest_allowed = pd.Timestamp(window_end) - timedelta(hours=limits.max_age_hours)
        fresh = newest >= oldest_allowed
        checks.append(
            Check(
                "freshness",
                "passed" if fresh else "failed",
                f"newest {feed.event_timestamp} is {newest.isoformat()}; it must be at or after "
                f"{oldest_allowed.isoformat()} ({limits.max_age_hours:g} h before the partition end)",
                column=feed.event_timestamp,
                observed=newest.isoformat(),
                limit=oldest_allowed.isoformat(),
            )
        )
        early = (
            pc.sum(
                pc.less(valid.column(feed.event_timestamp), pa.scalar(pd.Timestamp(window_start), TIMESTAMP))
            ).as_py()
            or 0
        )
        if early:
            checks.append(
                Check(
                    "late_arrivals",
                    "warning",
                    f"{early} valid rows have {feed.event_timestamp} before the partition start "
                    f"{pd.Timestamp(window_start).isoformat()} (late arrivals, kept)",
                    column=feed.event_timestamp,
                    observed=early,
                )
            )
    else:
        checks.append(Check("freshness", "skipped", "no valid rows to check freshness on"))
    return checks
