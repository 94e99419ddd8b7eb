"""Which dataset and partition date a DAG run works on, from its Params and data interval.

Validated here rather than trusted from the UI form: a malformed date, an unknown dataset
or a value that could leave the storage root is refused with a message naming it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from include import contract as contract_module
from include import settings as settings_module
from include.errors import PermanentError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PARAMS = ("dataset", "date", "dry_run")
SHOWN_CHARS = 80  # a refusal quotes at most this much of a value


class RunParamsError(PermanentError, ValueError):
    """A trigger parameter is invalid; the message names it and the accepted values."""


def shown(value) -> str:
    """``repr(value)``, cut so that a refusal stays readable whatever was typed."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"


def refuse_unknown(params: dict, accepted: tuple[str, ...]) -> None:
    """A key the DAG does not declare is a typo or a smuggled value: refuse it by name."""
    unknown = sorted(str(k) for k in params if k not in accepted)
    if unknown:
        raise RunParamsError(
            f"unknown param(s) {', '.join(map(shown, unknown))}; accepted: {', '.join(accepted)}"
        )


@dataclass(frozen=True)
class RunTarget:
    dataset: str
    date: str  # YYYY-MM-DD
    feeds: tuple[str, ...]
    dry_run: bool

    @property
    def day(self) -> date:
        return date.fromisoformat(self.date)

    def as_dict(self) -> dict:
        return asdict(self) | {"feeds": list(self.feeds)}

    def per_feed(self) -> list[dict]:
        """One dict per feed: what the mapped ingestion tasks receive."""
        return [self.as_dict() | {"feed": feed} for feed in self.feeds]

    @classmethod
    def from_dict(cls, doc: dict) -> RunTarget:
        return cls(doc["dataset"], doc["date"], tuple(doc["feeds"]), bool(doc["dry_run"]))


def interval_end(data_interval_end: datetime | None, run_after: datetime) -> datetime:
    """Where a run's data interval ends.

    Airflow 3 gives a run triggered without a logical date (the default of ``airflow dags
    trigger`` and of the REST API) no data interval at all. Such a run means "as of when it was
    triggered", so its ``run_after`` stands in: the interval the UI form's default logical date
    (now) gives. It is fixed per run, so retries and reruns agree.
    """
    return run_after if data_interval_end is None else data_interval_end


def interval_start(data_interval_start: datetime | None, run_after: datetime, period: timedelta) -> datetime:
    """Where a run's data interval starts; ``period`` before ``run_after`` when it has none
    (see ``interval_end``)."""
    return run_after - period if data_interval_start is None else data_interval_start


def partition_date(data_interval_start: datetime, timezone: str) -> date:
    """A nightly run at 02:00 on D+1 covers [02:00 D, 02:00 D+1): it ingests day D."""
    return data_interval_start.astimezone(ZoneInfo(timezone)).date()


def resolve(
    params: dict, data_interval_start: datetime, settings: settings_module.Settings | None = None
) -> RunTarget:
    s = settings or settings_module.get()
    refuse_unknown(params, PARAMS)
    dataset = params.get("dataset") or s.dataset
    known = contract_module.available(s.contracts_dir)
    if not isinstance(dataset, str) or dataset not in known:
        raise RunParamsError(
            f"param 'dataset'={shown(dataset)} is not a known dataset; choose one of {known}"
        )
    override = params.get("date")
    if override in (None, ""):
        day = partition_date(data_interval_start, s.timezone)
    else:
        if not isinstance(override, str) or not _DATE.match(override):
            raise RunParamsError(
                f"param 'date'={shown(override)} must be a date written YYYY-MM-DD, or empty"
            )
        try:
            day = date.fromisoformat(override)
        except ValueError:
            raise RunParamsError(f"param 'date'={override!r} is not a calendar date") from None
    dry_run = params.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise RunParamsError(f"param 'dry_run'={shown(dry_run)} must be true or false")
    contract = contract_module.load(dataset, s.contracts_dir)
    return RunTarget(dataset, day.isoformat(), tuple(f.name for f in contract.feeds()), dry_run)
