"""Drift history in storage: one record per judged window, the retraining triggers, and a plot.

``monitoring/<dataset>/drift/dt=<day>/hour=<HH>.json``: the record of the window ending at that
hour (per-column statistic, threshold, verdict; dataset decision; row counts; model version;
report location). The first write of a window wins, so a retried or backfilled run finds the
record of the original run and reports the same result.
``monitoring/<dataset>/triggers/<window end>.json``: a drift-triggered retraining (for the cooldown).
``monitoring/<dataset>/drift_scores.png``: drift scores over time, redrawn after each check.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from include import settings as settings_module
from include import storage

STAMP = "%Y%m%dT%H%M%SZ"  # no ':' in object names


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP)


def record_path(dataset: str, window_end: datetime, settings: settings_module.Settings | None = None):
    end = window_end.astimezone(UTC)
    return storage.path(
        "monitoring",
        dataset,
        "drift",
        f"dt={end.date().isoformat()}",
        f"hour={end.hour:02d}.json",
        settings=settings,
    )


def read_record(
    dataset: str, window_end: datetime, settings: settings_module.Settings | None = None
) -> dict | None:
    path = record_path(dataset, window_end, settings)
    return json.loads(storage.read_bytes(path)) if storage.exists(path) else None


def write_record(
    dataset: str, window_end: datetime, record: dict, settings: settings_module.Settings | None = None
) -> tuple[dict, str]:
    """Store the window's record unless one exists; return the stored record and its URI."""
    path = record_path(dataset, window_end, settings)
    if storage.exists(path):
        return json.loads(storage.read_bytes(path)), storage.describe(path)
    storage.write_bytes_atomic(path, json.dumps(record, sort_keys=True, indent=1, default=str).encode())
    return record, storage.describe(path)


def recent(
    dataset: str, window_end: datetime, count: int, settings: settings_module.Settings | None = None
) -> list[dict | None]:
    """Records of the ``count`` hourly windows ending at ``window_end``, oldest first (None: no record)."""
    return [read_record(dataset, window_end - timedelta(hours=n), settings) for n in range(count - 1, -1, -1)]


def between(
    dataset: str, first: datetime, last: datetime, settings: settings_module.Settings | None = None
) -> list[dict]:
    """Every record whose window ends in ``[first, last]``, oldest first."""
    root = storage.path("monitoring", dataset, "drift", settings=settings)
    records = []
    for directory in storage.list_dirs(root):
        day = datetime.fromisoformat(directory.name.removeprefix("dt=")).replace(tzinfo=UTC)
        if day.date() < first.date() or day.date() > last.date():
            continue
        for path in storage.list_files(directory):
            if path.name.endswith(".json"):
                record = json.loads(storage.read_bytes(path))
                if first <= datetime.fromisoformat(record["window_end"]) <= last:
                    records.append(record)
    return sorted(records, key=lambda r: r["window_end"])


def trigger_path(dataset: str, window_end: datetime, settings: settings_module.Settings | None = None):
    return storage.path("monitoring", dataset, "triggers", f"{_stamp(window_end)}.json", settings=settings)


def record_trigger(
    dataset: str, window_end: datetime, facts: dict, settings: settings_module.Settings | None = None
) -> str:
    path = trigger_path(dataset, window_end, settings)
    storage.write_once(path, json.dumps(facts, sort_keys=True, default=str).encode())
    return storage.describe(path)


def triggers(dataset: str, settings: settings_module.Settings | None = None) -> list[dict]:
    """Every drift-triggered retraining recorded (the monitor's run id and conf), oldest first."""
    directory = storage.path("monitoring", dataset, "triggers", settings=settings)
    found = [
        json.loads(storage.read_bytes(p)) for p in storage.list_files(directory) if p.name.endswith(".json")
    ]
    return sorted(found, key=lambda t: t["evidence"]["window_end"])


def last_trigger(
    dataset: str, before: datetime, settings: settings_module.Settings | None = None
) -> datetime | None:
    """The window end of the latest drift-triggered retraining strictly before ``before``."""
    directory = storage.path("monitoring", dataset, "triggers", settings=settings)
    ends = [
        datetime.strptime(p.name.removesuffix(".json"), STAMP).replace(tzinfo=UTC)
        for p in storage.list_files(directory)
        if p.name.endswith(".json")
    ]
    earlier = [e for e in ends if e < before]
    return max(earlier) if earlier else None


def marks(records: list[dict], triggers=(), changes=()) -> dict:
    """What the plot marks besides the lines, within the records' time span: the windows that
    alerted, the retrainings triggered (window ends) and the champion changes ((time, label))."""
    judged = [r for r in records if r.get("status") == "judged"]
    if not judged:
        return {"alerts": [], "triggers": [], "changes": []}
    first, last = (datetime.fromisoformat(judged[i]["window_end"]) for i in (0, -1))
    first -= timedelta(hours=1)
    return {
        "alerts": [datetime.fromisoformat(r["window_end"]) for r in judged if r.get("alert")],
        "triggers": sorted(t for t in triggers if first <= t <= last),
        "changes": sorted((t, label) for t, label in changes if first <= t <= last),
    }


def plot(
    dataset: str,
    records: list[dict],
    settings: settings_module.Settings | None = None,
    *,
    drift_share: float | None = None,
    triggers=(),
    changes=(),
) -> str | None:
    """Redraw ``drift_scores.png``: each feature's statistic over its threshold (the red dashed
    drift line at 1), the share of drifted features against ``drift_share``, and ``marks``: red
    ticks on windows that alerted, orange lines where a retraining was triggered, blue lines where
    the champion changed. Returns its URI (None without judged windows)."""
    judged = [r for r in records if r.get("status") == "judged"]
    if not judged:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    marked = marks(records, triggers, changes)
    times = [datetime.fromisoformat(r["window_end"]) for r in judged]
    columns = sorted({c["column"] for r in judged for c in r["result"]["columns"]})
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True, height_ratios=[3, 1])
    colors = plt.get_cmap("tab20").colors  # 20 distinct colours, then the line style changes too
    for n, column in enumerate(columns):
        ratios = []
        for r in judged:
            found = next((c for c in r["result"]["columns"] if c["column"] == column), None)
            ratios.append(_score(found) if found else float("nan"))
        style = (
            ("-", "--", ":")[(n // len(colors)) % 3] if n >= len(colors) else ("-" if n % 2 == 0 else "--")
        )
        top.plot(
            times,
            ratios,
            marker=".",
            linewidth=1.2,
            linestyle=style,
            color=colors[n % len(colors)],
            label=column,
        )
    top.axhline(
        1.0, color="red", linestyle="--", linewidth=1.2, label="drift threshold (1 = statistic at its limit)"
    )
    for moment in marked["alerts"]:
        top.axvspan(moment - timedelta(hours=1), moment, color="red", alpha=0.08, linewidth=0)
    if marked["alerts"]:
        top.plot(
            marked["alerts"],
            [top.get_ylim()[1]] * len(marked["alerts"]),
            "v",
            color="red",
            markersize=7,
            linestyle="none",
            label="window alerted",
        )
    lines = (
        (marked["triggers"], "darkorange", "-.", "retraining triggered"),
        ([moment for moment, _ in marked["changes"]], "navy", ":", "champion changed"),
    )
    for axis in (top, bottom):
        for moments, color, style, legend in lines:
            for n, moment in enumerate(moments):
                label = legend if axis is top and n == 0 else None
                axis.axvline(moment, color=color, linestyle=style, linewidth=1.5, label=label)
    for moment, version in marked["changes"]:
        top.annotate(
            version, (moment, 1.0), xytext=(3, 6), textcoords="offset points", color="navy", fontsize=8
        )
    top.set(ylabel="statistic / threshold", title=f"{dataset}: drift per feature (above 1 = drifted)")
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: marks stay visible
    bottom.plot(
        times,
        [r["result"]["share_drifted"] for r in judged],
        color="black",
        marker=".",
        label="share drifted",
    )
    if drift_share is not None:
        bottom.axhline(
            drift_share,
            color="red",
            linestyle="--",
            linewidth=1,
            label=f"dataset-drift share ({drift_share:g})",
        )
        bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bottom.set(ylabel="share drifted", ylim=(0, 1))
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    path = storage.path("monitoring", dataset, "drift_scores.png", settings=settings)
    storage.write_bytes_atomic(path, buffer.getvalue())
    return storage.describe(path)


def _score(column: dict) -> float:
    """Comparable across methods: distance / threshold, or for p-value tests threshold / p."""
    if column.get("p_adjusted") is not None:
        return column["threshold"] / max(column["p_adjusted"], 1e-12)
    return column["statistic"] / column["threshold"] if column["threshold"] else float("nan")
