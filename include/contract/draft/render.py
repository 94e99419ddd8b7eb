"""The YAML of a drafted contract, written from its plan, with a comment on every guess."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyarrow.compute as pc

from include.contract import suggest_name
from include.contract.draft.plan import Plan, free_name
from include.contract.draft.profiling import Profile
from include.contract.draft.sample import Sample, timestamps
from include.contract.draft.yaml_text import flow, fold, number, percent, scalar, wrap

RANGE_MARGIN = 0.10  # share of the observed span added below the minimum and above the maximum


def render(plan: Plan) -> str:
    """The contract's text; a comment too long for its key's line goes on the lines above."""
    return "\n".join(fold(_lines(plan))) + "\n"


def _lines(plan: Plan) -> list[str]:
    out = _header(plan)
    out.append(f"name: {plan.name}")
    out.append(f"description: {scalar(f'Drafted from {plan.path.name}: describe the dataset here.')}")
    out.append(f"primary_key: {flow(plan.names[h] for h in plan.id_headers)}")
    out.append(f"event_timestamp: {scalar(plan.names[plan.ts_header])}")
    if any(p.unsupported for p in plan.every_profile) or plan.label_extra:
        out.append(
            "extra_columns: ignore   # a column left out of the draft is dropped with a warning: CHECK"
        )
    else:
        out.append(
            "extra_columns: reject   # a landed column the contract does not declare rejects the batch"
        )
    if plan.shared:
        shown = ", ".join(f"{m!r} in {len(plan.marker_columns[m])} columns" for m in sorted(plan.shared))
        out.append(
            f"null_values: {flow(sorted(plan.shared))}   # CSV markers read as missing everywhere: "
            f"{shown}; CHECK"
        )
    out.append("columns:")
    for h in plan.sample.headers:
        if not plan.profiles[h].unsupported:
            out += _column_lines(plan.profiles[h], plan.roles[h], plan.shared)
    if plan.label_sample is not None:
        out += wrap("from the label files:", "  ")
        out += _column_lines(plan.target_profile, "target", plan.shared)
    out.append("batch:")
    out += _batch_lines(plan.sample, plan.ts_header, plan.timezone, "  ")
    out += _labels(plan)
    out.append("model:")
    out.append(
        "  auc_floor: 0.5   # the package default, only better than chance: CHECK, set the AUC you require"
    )
    decision = (
        "the favorable decision (select)"
        if plan.favorable == "positive"
        else "the adverse decision (decline)"
    )
    out.append(f"  decision_threshold: 0.5   # a score at or above it is {decision}: CHECK")
    out.append("monitoring:")
    features = [plan.names[h] for h in plan.sample.headers if plan.roles[h] == "feature"]
    out += _monitoring_lines(plan.sample, features, "protected" in plan.roles.values())
    return out


def _header(plan: Plan) -> list[str]:
    sample, label_sample = plan.sample, plan.label_sample
    source = f"{len(sample.files)} file(s), {sample.rows:,} rows, under {plan.path}"
    if label_sample is not None:
        source += (
            f"; labels: {len(label_sample.files)} file(s), {label_sample.rows:,} rows, under "
            f"{label_sample.path}"
        )
    out = wrap(f"Drafted by `python -m include.contract draft` from {source}.")
    out += wrap(
        "A draft: every line marked CHECK is a guess a person must confirm or correct before the "
        "contract is used (docs/contracts.md#drafting-a-contract)."
    )
    if plan.unplaced:
        out.append(
            "# Columns it could not place (declared as text outside the model, or left out): CHECK each:"
        )
        for u in plan.unplaced:
            wrapped = wrap(u, "", 96)
            out += [f"#   - {wrapped[0][2:]}"] + [f"#     {line[2:]}" for line in wrapped[1:]]
    else:
        out.append("# Columns it could not place: none.")
    for g in plan.guesses:
        out += wrap(f"Guessed: {g}")
    for w in plan.warnings:
        out += wrap(f"Warning: {w}")
    return out


def _labels(plan: Plan) -> list[str]:
    out = ["labels:", f"  column: {scalar(plan.target_profile.name)}"]
    if plan.label_sample is None:
        out.append("  delivery: inline   # the outcome is a column of the events files")
    else:
        taken = {*plan.names.values(), plan.target_profile.name}
        observed = free_name(suggest_name(plan.observed_header), taken, "_observed")
        out.append("  delivery: separate   # the outcome arrives in its own feed: landing/<name>_labels/")
        out.append(f"  observed_timestamp: {scalar(observed)}   # when the outcome became known: CHECK")
        if observed != plan.observed_header:
            out.append(f"  observed_timestamp_source: {scalar(plan.observed_header)}")
    out.append(f"  maturity_days: {plan.maturity}   # {plan.maturity_note}: CHECK")
    out.append(f"  positive_value: {scalar(plan.positive)}   # {plan.positive_note}: CHECK")
    if plan.favorable is None:
        out += wrap(
            "CHECK: favorable is the default, negative: the class other than positive_value is the "
            "outcome a person wants (credit: repaid when positive_value is defaulted). Write positive "
            "when positive_value itself is wanted (hired, approved, a high income).",
            "  ",
        )
        out.append("  favorable: negative")
    else:
        out.append(f"  favorable: {plan.favorable}   # from --favorable")
    if plan.class_names:
        names = plan.class_names
        out.append(
            f"  names: {{1: {scalar(names[1])}, 0: {scalar(names[0])}}}   # how messages call the classes: CHECK"
        )
    else:
        out.append("  # names: {1: defaulted, 0: repaid}   # optional: how messages call the two classes")
    if plan.label_sample is not None:
        out.append("  batch:   # the label feed's limits")
        out += _batch_lines(plan.label_sample, plan.observed_header, plan.timezone, "    ", defaults_min=0)
    return out


def _column_lines(p: Profile, role: str, shared: set[str]) -> list[str]:
    """One column of the contract, with the comments that say what was guessed."""
    ind = "    "
    dtype = p.dtype
    lines: list[str] = []
    if p.unplaced:
        lines += wrap(
            f"COULD NOT PLACE {p.header}: {p.unplaced}. Declared as text outside the model "
            "(role not_a_feature, nullable) so ingestion keeps it; CHECK: give it its dtype and role",
            "  ",
        )
    elif role == "id":
        lines += wrap(f"{p.header}: the primary key, read as text (an identifier has no range)", "  ")
    else:
        seen = f"{p.present:,} values" + (f", {p.distinct:,} distinct" if p.distinct else "")
        what = f"{role}, " if role in ("protected", "target", "event_timestamp") else ""
        lines += wrap(f"{p.header}: {what}{dtype} guessed from {seen}; CHECK", "  ")
    lines.append(f"  {scalar(p.name)}:")
    if p.name != p.header:
        lines.append(f"{ind}source: {scalar(p.header)}")
    lines.append(f"{ind}dtype: {dtype}")
    if role != "feature":
        lines.append(f"{ind}role: {role}")
    if p.unplaced:
        lines.append(f"{ind}nullable: true")
        return lines
    if role == "not_a_feature" and dtype == "timestamp":
        lines[-1] += "   # a timestamp is never a model feature: CHECK"
    if role == "not_a_feature" and p.text_kind == "free text":
        lines[-1] += (
            f"   # free text ({p.distinct:,} distinct values in {p.present:,}), so not a feature; "
            "CHECK: a category needs dtype category and its allowed levels"
        )
    if dtype in ("int", "float") and p.low is not None and not (role == "target" or p.numbers == [0.0, 1.0]):
        lo, hi = _nice_bounds(p.low, p.high, dtype == "int")
        note = f"seen {number(p.low)}..{number(p.high)}; {RANGE_MARGIN:.0%} of the span added each side"
        note += ", not below 0" if p.low >= 0 else ""
        lines.append(f"{ind}min: {number(lo)}   # {note}: CHECK")
        lines.append(f"{ind}max: {number(hi)}")
        if dtype == "int" and p.numbers is not None and role == "feature":
            codes = ", ".join(number(x) for x in p.numbers)
            lines += wrap(
                f"only {len(p.numbers)} distinct values ({codes}): CHECK whether they are codes "
                "(then dtype: category with allowed levels)",
                ind,
            )
    if dtype in ("int", "float") and p.numbers is not None and (role == "target" or p.numbers == [0.0, 1.0]):
        lines.append(f"{ind}allowed: {flow(int(x) if x == int(x) else x for x in p.numbers)}")
    if dtype == "timestamp" and p.first:
        lines.append(f"{ind}# seen {p.first} .. {p.last}")
    if dtype == "category":
        lines.append(f"{ind}allowed:   # levels seen, with their rows: CHECK that none is missing")
        width = max(len(scalar(v)) for v, _ in p.levels)
        for value, count in p.levels:
            lines.append(f"{ind}  - {scalar(value).ljust(width)}   # {count:,}")
    if p.nulls:
        rate = p.nulls / p.rows if p.rows else 0
        worst = max(p.batch_null_rates.values(), default=0.0)
        lines.append(f"{ind}nullable: true")
        lines.append(
            f"{ind}max_null_rate: {number(_null_limit(p))}   # missing in {percent(rate)} of rows, "
            f"{percent(worst)} in the worst batch; 1.5 x that plus 2 points: CHECK"
        )
    elif p.rows:
        lines.append(f"{ind}# no value missing in {p.rows:,} rows: a missing one will be quarantined (CHECK)")
    own = [m for m in p.markers if m not in shared]
    if p.markers:
        shown = ", ".join(f"{m!r} x{c:,}" for m, c in p.markers.items())
        guessed = (
            f"; {', '.join(map(repr, p.guessed_markers))} guessed from punctuation"
            if p.guessed_markers
            else ""
        )
        if own:
            lines.append(
                f"{ind}null_values: {flow(own)}   # CSV markers read as missing: {shown}{guessed}; CHECK"
            )
        else:
            lines.append(f"{ind}# missing markers seen (top-level null_values): {shown}{guessed}")
    return lines


def _batch_lines(
    sample: Sample, ts_header: str, timezone: str, indent: str, defaults_min: int | None = None
) -> list[str]:
    rows = list(sample.batch_rows.values())
    low, high = _row_limits(rows)
    if defaults_min is not None:
        low = defaults_min
    kind = "dt= partitions" if any(sample.batch_day.values()) else "files (no dt= folder: one batch a file)"
    sizes = f"{min(rows):,} rows each" if min(rows) == max(rows) else f"{min(rows):,} to {max(rows):,} rows"
    lines = wrap(
        f"{len(rows)} batch(es) ({kind}) of {sizes}; the row limits are half "
        "the fewest and twice the most, rounded: CHECK against the producer's busiest and quietest days",
        indent,
    )
    lines += [f"{indent}min_rows: {low}", f"{indent}max_rows: {high}"]
    lines.append(f"{indent}max_bad_row_share: 0.05   # the default: more quarantined rows reject the batch")
    age, late = _freshness(sample, ts_header, timezone)
    if age is None:
        lines.append(f"{indent}max_age_hours: 48   # the default (no dt= folder to measure freshness on)")
        lines.append(f"{indent}max_future_minutes: 5   # the default")
    else:
        max_age = max(48, math.ceil(max(age, 0) * 1.5))
        lines.append(
            f"{indent}max_age_hours: {max_age}   # newest event at most {max(age, 0):.1f} h before a "
            f"partition's end ({timezone}); CHECK"
        )
        future = max(5, math.ceil(max(late, 0) * 1.5) + 1)
        lines.append(
            f"{indent}max_future_minutes: {future}   # "
            + (
                f"latest event {late:.0f} min after its partition's end: CHECK the producer's clock"
                if late > 0
                else "the default: no event after its partition's end"
            )
        )
    return lines


def _freshness(sample: Sample, header: str, timezone: str) -> tuple[float | None, float | None]:
    """Over the dt= partitions: hours from the newest event to the partition end (worst), and
    minutes the latest event lies after it (worst)."""
    newest: dict[str, datetime] = {}
    for batch, stamps in timestamps(sample, header):
        if sample.batch_day.get(batch) is None or not len(pc.drop_null(stamps)):
            continue
        top = pc.max(stamps).as_py()
        newest[batch] = max(newest.get(batch, top), top)
    if not newest:
        return None, None
    tz = ZoneInfo(timezone)
    ages, late = [], []
    for batch, top in newest.items():
        end = datetime.combine(sample.batch_day[batch] + timedelta(days=1), time(0), tzinfo=tz)
        ages.append((end - top).total_seconds() / 3600)
        late.append((top - end).total_seconds() / 60)
    return max(ages), max(late)


def _monitoring_lines(sample: Sample, features: list[str], protected: bool) -> list[str]:
    days = sum(1 for d in set(sample.batch_day.values()) if d is not None)
    lines = []
    if days:
        per_hour = sample.rows / days / 24
        lookback = 6
        if per_hour * lookback < 200:
            lookback = min(24, math.ceil(200 / max(per_hour, 1e-9)))
        rows = per_hour * lookback
        few = " (fewer than min_window_rows: windows are not judged)" if rows < 200 else ""
        lines.append(
            f"  lookback_hours: {lookback}   # each hourly drift check reads this many hours of capture: "
            f"about {rows:,.0f} rows{few} at the sample's {sample.rows / days:,.0f} a day; CHECK"
        )
    else:
        lines.append(
            "  lookback_hours: 6   # the default (no dt= folder to measure the daily volume on): CHECK"
        )
    lines.append("  min_window_rows: 200   # fewer rows and a window is recorded as too_few_rows, not judged")
    example = ", ".join(features[:2]) or "..."
    lines.append(f"  # critical_features: [{example}]   # features whose drift alone is dataset drift: CHECK")
    if protected:
        lines.append("  fairness:")
        lines.append("    small_groups: not_judged   # a group too small to measure is reported, not judged")
    return lines


def _nice_bounds(low: float, high: float, whole: bool) -> tuple[float, float]:
    """The observed range widened by RANGE_MARGIN of its span each side, rounded outward to
    two significant digits of the span, and not below 0 when no value was."""
    span = high - low
    margin = span * RANGE_MARGIN if span > 0 else max(abs(high) * RANGE_MARGIN, 1.0)
    scale = span if span > 0 else margin
    exponent = math.floor(math.log10(scale)) - 1
    step = 10.0**exponent
    if whole:
        step = max(step, 1.0)
    digits = max(0, -exponent)
    lo = round(math.floor((low - margin) / step) * step, digits)
    hi = round(math.ceil((high + margin) / step) * step, digits)
    if low >= 0:
        lo = max(lo, 0.0)
    return lo, hi


def _null_limit(p: Profile) -> float:
    worst = max(p.batch_null_rates.values(), default=0.0)
    return min(1.0, math.ceil((worst * 1.5 + 0.02) * 100) / 100)


def _row_limits(rows: list[int]) -> tuple[int, int]:
    low = min(rows) // 2 if min(rows) > 1 else min(rows)
    high = max(rows) * 2
    step = 10 ** max(0, len(str(high)) - 2)
    return low, int(math.ceil(high / step) * step)
