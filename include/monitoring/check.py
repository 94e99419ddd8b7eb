"""One hourly drift check: the run's capture window against the reference profile of the model
version that scored it (the champion of that hour, from the registry), stored in the drift
history; an alerting window also gets Evidently's report.
"""

from __future__ import annotations

from datetime import datetime

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import history
from include.monitoring import window as window_module
from include.monitoring.reference import champion_version, reference

REPORT_SAMPLE_ROWS = 20_000  # reference rows read back for Evidently's HTML report (alerts only)


def check(
    contract: Contract,
    interval_end: datetime,
    *,
    settings: settings_module.Settings | None = None,
    report: bool = False,
) -> dict:
    """Judge the window of the run whose data interval ends at ``interval_end``; return its record.

    Status: ``judged``, ``too_few_rows`` or ``no_champion`` (nothing to compare with; not stored,
    so a later run after the first champion judges the window). The Evidently report is rendered
    when the window raises an alert, or when ``report`` asks for it."""
    from include.drift.engine import detect

    s = settings or settings_module.get()
    start, end = window_module.bounds(interval_end, contract.monitoring.lookback_hours)
    existing = history.read_record(contract.name, end, s)
    if existing is not None:
        return existing  # the original run's result: retries and backfills report the same
    live = window_module.read(contract.name, start, end, s)
    version = window_module.scoring_version(live) or champion_version(s, contract.name)
    base = {
        "dataset": contract.name,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "rows": live.rows,
        "hours_read": live.hours_read,
        "hours_missing": live.hours_missing,
        "model_version": version,
    }
    if version is None:
        return {**base, "status": "no_champion"}
    if live.rows < contract.monitoring.min_window_rows:
        record = {**base, "status": "too_few_rows", "min_window_rows": contract.monitoring.min_window_rows}
        return history.write_record(contract.name, end, record, s)[0]
    profile, run_id, lineage = reference(s, contract.name, version)
    result = detect(profile, live.frame, contract)
    alert = result.dataset_drift or result.data_quality_incident
    record = {
        **base,
        "status": "judged",
        "reference_run_id": run_id,
        "reference_rows": profile.rows,
        "result": result.to_dict(),
        "alert": alert,
        "report": render_report(contract, live, lineage, s, result, profile.rows)
        if alert or report
        else None,
    }
    return history.write_record(contract.name, end, record, s)[0]


def render_report(
    contract: Contract,
    live: window_module.Window,
    lineage: list[dict],
    settings: settings_module.Settings,
    result=None,
    reference_rows: int | None = None,
) -> str:
    """Evidently's drift report of the window against a sample of the reference's training rows,
    opened by the package's verdict on the same window (``result``, from the profile of
    ``reference_rows``)."""
    import pandas as pd

    from include.drift.report import render_html
    from include.ingestion.partition import read_curated

    days = sorted({e["partition"] for e in lineage if e["feed"] == contract.name})
    frames = [read_curated(contract.name, datetime.fromisoformat(d).date(), settings=settings) for d in days]
    sample = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(sample) > REPORT_SAMPLE_ROWS:
        sample = sample.sample(REPORT_SAMPLE_ROWS, random_state=0)
    end = live.end
    path = storage.path(
        "monitoring",
        contract.name,
        "reports",
        f"dt={end.date().isoformat()}",
        f"hour={end.hour:02d}.html",
        settings=settings,
    )
    return render_html(sample, live.frame, contract, path, result=result, reference_rows=reference_rows)
