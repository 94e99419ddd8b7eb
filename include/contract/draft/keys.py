"""The primary key: a guess from the names and values of the columns, and the repeats ingestion
would quarantine as duplicate_key."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from include.contract import suggest_name
from include.contract.draft.errors import DraftError
from include.contract.draft.profiling import Profile, as_text
from include.contract.draft.sample import Sample

_ID_WORDS = {"id", "key", "uuid", "guid", "number", "no", "nr", "ref", "code"}


def _looks_like_id(header: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", suggest_name(header)))
    return bool(words & _ID_WORDS) or suggest_name(header).endswith("id")


def key_values(sample: Sample, headers: list[str]) -> tuple[list[tuple], list[str]]:
    """The key of every row (as text) and the batch each row lands in."""
    columns = []
    for header in headers:
        columns.append(pa.chunked_array([as_text(p.values) for p in sample.pieces[header]]).to_pylist())
    batches = [p.batch for p in sample.pieces[headers[0]] for _ in range(len(p.values))]
    return list(zip(*columns, strict=True)), batches


def duplicates(sample: Sample, headers: list[str]) -> int:
    """Rows whose key repeats an earlier row of the same batch (ingestion's duplicate_key)."""
    keys, batches = key_values(sample, headers)
    seen: set = set()
    repeats = 0
    for key, batch in zip(keys, batches, strict=True):
        if (batch, key) in seen:
            repeats += 1
        seen.add((batch, key))
    return repeats


def guess_key(sample: Sample, profiles: dict[str, Profile], ts_header: str, where: str) -> str:
    """The column whose name says id and whose values are all present and unique, else the one
    whose repeats are under 1 % of the rows (a producer resending rows); a refusal otherwise."""
    repeats = {
        h: _duplicates_anywhere(sample, h)
        for h in sample.headers
        if not profiles[h].unplaced
        and profiles[h].nulls == 0
        and profiles[h].dtype in ("string", "int", "category")
        and h != ts_header
    }
    id_like = [h for h in repeats if _looks_like_id(h)]
    for h in sorted(id_like, key=lambda h: repeats[h] > 0):
        if repeats[h] <= 0.01 * sample.rows:
            return h
    unique = [h for h, n in repeats.items() if n == 0]
    hint = (
        f"; columns unique in this sample: {', '.join(unique)} (pass --id with one of them if it identifies a row)"
        if unique
        else ""
    )
    near = [f"{h} ({repeats[h]:,} repeats)" for h in id_like]
    hint += f"; id-like columns that repeat too often: {', '.join(near)}" if near else ""
    raise DraftError(
        f"no id column found in {where}: every contract needs a primary key, and the package requires "
        f"producers to add one (a unique id per row) when the data has none; name it with --id COL{hint}"
    )


def _duplicates_anywhere(sample: Sample, header: str) -> int:
    values = pa.chunked_array([as_text(p.values) for p in sample.pieces[header]])
    return len(values) - len(pc.unique(values))
