"""The plan of one draft: the roles the flags name, the guesses for the rest (event timestamp,
key, label feed, target, maturity, shared markers) and what a person must be warned about."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from include.contract import _RESERVED_SOURCES, SOURCE_MAX_CHARS, suggest_name
from include.contract.draft.errors import DraftError
from include.contract.draft.keys import duplicates, guess_key, key_values
from include.contract.draft.profiling import Profile, as_category, profile
from include.contract.draft.sample import Sample, timestamps


def _names(headers: list[str]) -> dict[str, str]:
    """Header -> a lower-case identifier, unique among the headers."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        base = suggest_name(header) if header else "column"
        name, n = base, 2
        while name in used:
            name, n = f"{base[:60]}_{n}", n + 1
        names[header] = name
        used.add(name)
    return names


def _resolve(flag: str, wanted: str, headers: list[str], names: dict[str, str], where: str) -> str:
    """The header a flag names: the header itself, its contract name, or the header in another case."""
    if wanted in headers:
        return wanted
    for header in headers:
        if names[header] == wanted or header.lower() == wanted.lower():
            return header
    shown = ", ".join(headers)
    raise DraftError(f"{flag} {wanted}: no such column in {where}; the headers found are: {shown}")


def check_headers(headers: list[str], where: str) -> None:
    for header in headers:
        if header != header.strip() or "\n" in header or "\r" in header:
            raise DraftError(
                f"{where}: the header {header!r} has leading or trailing whitespace or a line break; "
                "a contract's source must match the header exactly: fix the producer's header first"
            )
        if len(header) > SOURCE_MAX_CHARS:
            raise DraftError(
                f"{where}: the header {header[:40]!r}... is longer than {SOURCE_MAX_CHARS} characters"
            )
        if header in _RESERVED_SOURCES:
            raise DraftError(f"{where}: the header {header!r} is a column ingestion adds to every table")


@dataclass
class Plan:
    """The decisions of one draft: roles from the flags, the guesses, what to warn about."""

    name: str
    path: Path
    sample: Sample
    label_sample: Sample | None
    favorable: str | None
    timezone: str
    names: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    label_profiles: dict[str, Profile] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    id_headers: list[str] = field(default_factory=list)
    ts_header: str = ""
    target_header: str = ""
    observed_header: str = ""
    label_extra: list[str] = field(default_factory=list)
    maturity: int = 0
    maturity_note: str = "labels arrive with the events: nothing to wait for"
    positive: object = 1
    positive_note: str = ""
    class_names: dict = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)  # markers written as the top-level null_values
    marker_columns: dict[str, set[str]] = field(default_factory=dict)
    guesses: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def target_profile(self) -> Profile:
        return (self.label_profiles if self.label_sample else self.profiles)[self.target_header]

    @property
    def every_profile(self) -> list[Profile]:
        return [*self.profiles.values(), *self.label_profiles.values()]

    @property
    def unplaced(self) -> list[str]:
        return [f"{p.header}: {p.unplaced}" for p in self.every_profile if p.unplaced]

    def decide(self, target, timestamp, ids: list[str], protected: list[str], labels) -> None:
        sample, where = self.sample, str(self.path)
        self.names = _names(sample.headers)
        self.warnings += sample.notes + [f"skipped {s}" for s in sample.skipped]
        self.id_headers = [_resolve("--id", c, sample.headers, self.names, where) for c in ids]
        if timestamp:
            self.ts_header = _resolve("--timestamp", timestamp, sample.headers, self.names, where)
        protected_headers = [_resolve("--protected", c, sample.headers, self.names, where) for c in protected]
        if self.label_sample is None:
            if target is None:
                raise DraftError(
                    "--target is required: name the outcome column (the headers found are: "
                    f"{', '.join(sample.headers)}); with a separate label feed, give --labels PATH"
                )
            self.target_header = _resolve("--target", target, sample.headers, self.names, where)
        self.profiles = {h: profile(h, self.names[h], sample.pieces[h]) for h in sample.headers}
        self._event_timestamp()
        self._primary_key()
        if self.label_sample is not None:
            self._label_feed(target, labels)
        self._roles(protected_headers)
        self.positive, self.positive_note, self.class_names = _target(self.target_profile, self.warnings)
        for p in self.every_profile:
            if p.nonfinite:
                self.warnings.append(
                    f"column {p.header} holds {p.nonfinite:,} NaN or infinite Parquet values: ingestion "
                    "quarantines them (write a null instead)"
                )
        for h in sample.headers:
            missing = sample.missing_from(h)
            if missing:
                self.warnings.append(
                    f"column {h} is missing from {len(missing)} of {len(sample.files)} files (e.g. "
                    f"{missing[0]}): ingestion rejects a batch whose file lacks a declared column"
                )
        if "feature" not in self.roles.values():
            self.warnings.append("no column is a model feature: CHECK the roles")
        self._shared_markers()

    def _event_timestamp(self) -> None:
        headers = self.sample.headers
        if not self.ts_header:
            stamps = [h for h in headers if self.profiles[h].dtype == "timestamp"]
            if not stamps:
                raise DraftError(
                    f"no column of {self.path} holds timestamps (the headers found are: {', '.join(headers)}); "
                    "the contract needs an event timestamp: have the producer add when each event "
                    "happened, then name it with --timestamp"
                )
            self.ts_header = stamps[0]
            others = f" (other timestamp columns: {', '.join(stamps[1:])})" if stamps[1:] else ""
            self.guesses.append(
                f"event_timestamp {self.names[self.ts_header]} is the first timestamp column{others}: CHECK"
            )
        elif self.profiles[self.ts_header].dtype != "timestamp":
            p = self.profiles[self.ts_header]
            raise DraftError(
                f"--timestamp {self.ts_header}: its values are not ISO 8601 timestamps (read as {p.dtype}"
                + (f": {p.unplaced}" if p.unplaced else "")
                + ")"
            )

    def _primary_key(self) -> None:
        """Named by --id, else a unique id-like column, else a refusal that names the flag."""
        if not self.id_headers:
            self.id_headers = [guess_key(self.sample, self.profiles, self.ts_header, str(self.path))]
            self.guesses.append(
                f"primary_key {self.names[self.id_headers[0]]}: a column whose name says id and whose "
                "values are present and unique (or nearly: see the warnings); CHECK"
            )
        repeats = duplicates(self.sample, self.id_headers)
        if repeats:
            self.warnings.append(
                f"the primary key {', '.join(self.id_headers)} repeats in {repeats:,} row(s) of the same "
                "batch: ingestion quarantines each repeat as duplicate_key"
            )
        for h in self.id_headers:
            if self.profiles[h].nulls:
                self.warnings.append(
                    f"the key column {h} is missing in {self.profiles[h].nulls:,} row(s): they will be "
                    "quarantined"
                )

    def _label_feed(self, target: str | None, labels) -> None:
        """The label files: the key, when each outcome became known, and the outcome."""
        label_sample = self.label_sample
        taken = set(self.names.values())
        lnames = {
            h: self.names[h] if h in self.names else free_name(suggest_name(h), taken, "_label")
            for h in label_sample.headers
        }
        for h in self.id_headers:
            if h not in label_sample.headers:
                raise DraftError(
                    f"the label files at {labels} lack the key column {h}; the headers found there are: "
                    f"{', '.join(label_sample.headers)}"
                )
        rest = [h for h in label_sample.headers if h not in self.id_headers]
        self.label_profiles = {h: profile(h, lnames[h], label_sample.pieces[h]) for h in rest}
        if target is not None:
            self.target_header = _resolve("--target", target, rest, lnames, f"the label files at {labels}")
        else:
            candidates = [h for h in rest if self.label_profiles[h].dtype != "timestamp"]
            if len(candidates) != 1:
                raise DraftError(
                    f"--target is required: the label files at {labels} have {len(candidates)} columns "
                    f"besides the key and timestamps ({', '.join(candidates) or 'none'})"
                )
            self.target_header = candidates[0]
            self.guesses.append(
                f"labels.column {lnames[self.target_header]}: the label files' only value column; CHECK"
            )
        if self.target_header in self.sample.headers:
            raise DraftError(
                f"the target {self.target_header} is in the events files too; with a separate label feed "
                "it arrives only in the label files (drop --labels to read it from the events)"
            )
        stamps = [h for h in rest if h != self.target_header and self.label_profiles[h].dtype == "timestamp"]
        if not stamps:
            raise DraftError(
                f"the label files at {labels} have no timestamp column besides the key and "
                f"{self.target_header}: a separate label feed needs when each outcome became known"
            )
        self.observed_header = stamps[0]
        self.guesses.append(
            f"labels.observed_timestamp: {self.observed_header}, the label files' first timestamp column; CHECK"
        )
        self.label_extra = [h for h in rest if h not in (self.target_header, self.observed_header)]
        if self.label_extra:
            self.warnings.append(
                f"the label files have columns the label feed does not carry ({', '.join(self.label_extra)}): "
                "extra_columns is ignore, so ingestion drops them with a warning"
            )
        self.maturity, self.maturity_note = _maturity(
            self.sample, label_sample, self.id_headers, self.ts_header, self.observed_header
        )

    def _roles(self, protected_headers: list[str]) -> None:
        for h in self.sample.headers:
            p = self.profiles[h]
            if h == self.ts_header:
                self.roles[h] = "event_timestamp"  # part of the key too, when --id names it
            elif h in self.id_headers:
                if h == self.target_header:
                    raise DraftError(f"--id {h} is the target too: the outcome cannot identify a row")
                self.roles[h] = "id"
                if not p.unplaced:
                    p.dtype = "string"  # an identifier is text: no range, leading zeros kept
            elif h == self.target_header:
                self.roles[h] = "target"
            elif h in protected_headers:
                self.roles[h] = "protected"
                if not as_category(p):
                    self.warnings.append(
                        f"the protected attribute {h} is {p.dtype} with {p.distinct:,} distinct values: "
                        "fairness is judged per value, so group it (e.g. age bands) upstream"
                    )
            elif p.unplaced or p.dtype == "timestamp" or p.text_kind == "free text":
                self.roles[h] = "not_a_feature"
            else:
                self.roles[h] = "feature"

    def _shared_markers(self) -> None:
        """A marker goes to the top-level null_values when several columns read it as missing and
        no column reads it as a value; otherwise it stays with its column."""
        considered = [p for p in self.profiles.values() if not p.unsupported]
        considered += [
            self.label_profiles[h]
            for h in (self.target_header, self.observed_header)
            if h in self.label_profiles
        ]
        for p in considered:
            for m in p.markers:
                self.marker_columns.setdefault(m, set()).add(p.header)
        pieces = {**self.sample.pieces, **(self.label_sample.pieces if self.label_sample else {})}
        for m, columns in self.marker_columns.items():
            appears = {
                h
                for h, ps in pieces.items()
                if any(p.csv and pc.any(pc.equal(p.values, m)).as_py() for p in ps)
            }
            if len(columns) >= 2 and columns == appears:
                self.shared.add(m)


def free_name(name: str, taken: set[str], suffix: str) -> str:
    return name if name not in taken else f"{name[: 64 - len(suffix)]}{suffix}"


def _target(p: Profile, warnings: list[str]) -> tuple[object, str, dict]:
    """The positive_value guess, its comment, and class names when the levels are words."""
    if p.unplaced:
        raise DraftError(f"the target {p.header} cannot be typed: {p.unplaced}")
    counts = ", ".join(f"{v} x{c:,}" for v, c in p.levels)
    if p.dtype == "bool":
        return True, f"the bool's true ({counts})", {}
    if p.dtype in ("int", "float"):
        if p.numbers is None:
            raise DraftError(
                f"the target {p.header} has {p.distinct:,} distinct numbers: the package models a two-class "
                "outcome (land it as two levels, e.g. 0 and 1)"
            )
        if set(p.numbers) <= {0.0, 1.0}:
            return 1, f"1 of 0/1 ({counts})", {}
        rarest = float(p.levels[-1][0]) if p.levels else p.numbers[-1]
        value = int(rarest) if rarest == int(rarest) else rarest
        if len(p.numbers) > 2:
            warnings.append(
                f"the target {p.header} has {len(p.numbers)} values: every value but positive_value "
                "counts as the other class"
            )
        return value, f"the rarest value ({counts})", {}
    if not as_category(p):
        raise DraftError(f"the target {p.header} has {p.distinct:,} distinct values: not a two-class outcome")
    value = p.levels[-1][0]
    if len(p.levels) > 2:
        warnings.append(
            f"the target {p.header} has {len(p.levels)} levels: every level but positive_value counts "
            "as the other class"
        )
        return value, f"the rarest level ({counts})", {}
    if len(p.levels) == 1:
        return value, f"the only level seen ({counts})", {}
    return value, f"the rarer level ({counts})", {1: str(value), 0: str(p.levels[0][0])}


def _maturity(
    sample: Sample, label_sample: Sample, id_headers: list[str], ts_header: str, observed_header: str
) -> tuple[int, str]:
    """Days from an event to its outcome, from the events whose outcome is in the label files."""
    events, _ = key_values(sample, id_headers)
    when = pa.chunked_array([stamps for _, stamps in timestamps(sample, ts_header)]).to_pylist()
    happened = {k: t for k, t in zip(events, when, strict=True) if t is not None}
    outcomes, _ = key_values(label_sample, id_headers)
    known = pa.chunked_array([stamps for _, stamps in timestamps(label_sample, observed_header)]).to_pylist()
    delays = [
        (t - happened[k]).total_seconds() / 86_400
        for k, t in zip(outcomes, known, strict=True)
        if t is not None and k in happened
    ]
    if not delays:
        return 0, "no outcome in the label files matches an event in the sample, so 0"
    shortest = max(0, math.floor(min(delays)))
    return shortest, (
        f"the shortest delay from an event to its outcome over {len(delays):,} matched rows is "
        f"{min(delays):.2f} days (the longest {max(delays):.2f}); say how long an outcome takes to be final"
    )
