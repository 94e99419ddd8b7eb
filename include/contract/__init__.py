"""Dataset contracts: a YAML file describes a dataset; no code names its columns.

A contract gives each column a dtype, a role, nullability, ranges and allowed values, the
primary key, batch limits, how labels arrive (inline or as a separate feed after a
maturity delay), the AUC floor and the features monitoring treats as critical.

A contract yields one or two *feeds*, each a landed stream validated on its own:
the events feed (``landing/<name>/``) and, when labels arrive separately, the label feed
(``landing/<name>_labels/``) made of the primary key, the outcome timestamp and the target.

A column's key is its name everywhere downstream (curated files, model inputs, capture, drift
reports) and must be a lower-case identifier; ``source:`` gives the header as it arrives in
landed files when the producer writes it otherwise (``LIMIT_BAL``, ``Application Time``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from include.errors import PermanentError

DTYPES = ("string", "int", "float", "bool", "timestamp", "category")
ROLES = ("id", "event_timestamp", "feature", "target", "protected", "not_a_feature")
NUMERIC_DTYPES = ("int", "float", "bool")  # what a model and the drift monitor read as numbers
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
_NAME_RULE = "[a-z][a-z0-9_]*, at most 64 characters"
SOURCE_MAX_CHARS = 256
# Columns the reader adds to every landed table (include/ingestion/reader.py): a header with one
# of these names would collide with them.
_RESERVED_SOURCES = ("_source_file", "_source_row")
_TOP_LEVEL_KEYS = {
    "name",
    "description",
    "primary_key",
    "event_timestamp",
    "extra_columns",
    "columns",
    "null_values",
    "batch",
    "labels",
    "model",
    "monitoring",
}
_LABELS_KEYS = {
    "column",
    "delivery",
    "maturity_days",
    "observed_timestamp",
    "observed_timestamp_source",
    "positive_value",
    "batch",
    "favorable",
    "names",
}


class ContractError(PermanentError, ValueError):
    """A contract file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    role: str = "feature"
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    max_null_rate: float | None = None
    description: str = ""
    source: str = ""  # the header in landed files; empty means the same as the name
    # CSV fields read as missing before the type checks, besides the empty field: the contract's
    # top-level ``null_values`` then the column's own, merged at parsing (Parquet nulls are native).
    null_values: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.source:
            object.__setattr__(self, "source", self.name)


@dataclass(frozen=True)
class BatchLimits:
    min_rows: int = 1
    max_rows: int = 10_000_000
    max_bad_row_share: float = 0.05
    # Freshness: the newest event must be at most this old at the end of the partition day.
    max_age_hours: float = 48.0
    # Events later than the end of the partition day plus this skew are "in the future".
    max_future_minutes: float = 5.0
    # The producer writes a _SUCCESS marker once the partition is complete: the landing sensor
    # waits for it instead of for the files' quiet period (MLOPS_LANDING_QUIET_SECONDS).
    success_marker: bool = False


@dataclass(frozen=True)
class Feed:
    """One landed stream: what ingestion validates for a partition."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    event_timestamp: str
    limits: BatchLimits
    extra_columns: str = "reject"  # or "ignore": drop unknown columns with a warning

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def source_names(self) -> tuple[str, ...]:
        """The headers landed files carry, in column order (what the schema checks compare)."""
        return tuple(c.source for c in self.columns)

    @property
    def names_by_source(self) -> dict[str, str]:
        """Landed header -> contract name, to rename a landed table once its schema is checked."""
        return {c.source: c.name for c in self.columns}


@dataclass(frozen=True)
class Labels:
    column: str
    delivery: str  # "inline" (in the events feed) or "separate" (own feed)
    maturity_days: int
    observed_timestamp: str | None = None  # separate feed: when the outcome became known
    observed_timestamp_source: str | None = None  # its header in landed label files (default: the name)
    positive_value: Any = 1
    limits: BatchLimits = field(default_factory=lambda: BatchLimits(min_rows=0))
    # Which class is the outcome a person wants: "negative" (credit: repaid, the class other than
    # ``positive_value``) or "positive" (hired, approved, a high-income flag). Every fairness
    # number is measured on the favorable decision this implies.
    favorable: str = "negative"
    names: dict = field(default_factory=dict)  # {1: "defaulted", 0: "repaid"}: how messages call the classes

    @property
    def favorable_outcome(self) -> int:
        """The outcome (1: ``positive_value``, 0: any other) that is favorable."""
        return 1 if self.favorable == "positive" else 0

    def name(self, outcome: int) -> str:
        """What messages call the rows with ``outcome`` (the contract's names, else neutral words)."""
        if outcome in self.names:
            return self.names[outcome]
        return "favorable outcome" if outcome == self.favorable_outcome else "unfavorable outcome"


FAVORABLE = ("negative", "positive")
SMALL_GROUPS = ("not_judged", "block")
DRIFT_METHODS = ("wasserstein", "jensenshannon", "psi", "ks", "chisquare", "z")


@dataclass(frozen=True)
class ColumnDrift:
    """A contract's override of the drift method and/or threshold for one column."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class GateLimits:
    """The promotion gates besides the AUC floor (``model.gates``). The comparison with the
    champion is DeLong's on the same holdout: a one-sided bound at ``confidence`` on the AUC
    difference, so a margin is never judged inside the noise of a few thousand rows."""

    confidence: float = 0.95  # one-sided level of the bounds on challenger - champion AUC
    non_inferiority_margin: float = 0.01  # no_regression: the lower bound must be above -margin
    min_improvement: float = 0.0  # superiority: the lower bound must be above this (0: significantly better)
    max_overfit_gap: float = 0.1  # train AUC - holdout AUC
    min_approval_ratio: float = 0.8  # four-fifths rule on the holdout's decisions
    max_tpr_gap: float = 0.1  # favorable decisions among favorable outcomes: gap between groups
    max_fpr_gap: float = 0.1  # favorable decisions among unfavorable outcomes: gap between groups
    p99_latency_ms: float = 200.0  # CPU time of one application's scoring
    min_rows: int = 1000  # matured rows a training window must hold


@dataclass(frozen=True)
class ShadowLimits:
    """A challenger in shadow (``model.shadow``): it scores the live traffic beside the champion
    and is judged on the same applications once their outcomes mature (include/shadow/)."""

    min_outcomes: int = 1000  # matured outcomes before any verdict (and at least one of each class)
    max_days: int = 28  # the shadow period: not significantly better by then, it is retired
    approval: bool = False  # a winning shadow waits for a person instead of being promoted at once

    def looks(self, maturity_days: int) -> int:
        """How many daily verdicts the period allows: the first matured cohort is judged
        ``maturity_days + 1`` days after the start, the last on day ``max_days``."""
        return max(1, self.max_days - maturity_days)


@dataclass(frozen=True)
class FairnessLimits:
    """Bias drift on live decisions (``monitoring.fairness``): a limit counts as crossed only when
    the whole confidence interval is past it, so noise in a small group does not alert."""

    min_approval_ratio: float = 0.8  # four-fifths rule: lowest / highest favorable-decision rate by group
    max_tpr_gap: float = 0.1  # favorable decisions among favorable outcomes: highest - lowest group rate
    max_fpr_gap: float = 0.1  # favorable decisions among unfavorable outcomes
    confidence: float = 0.95  # two-sided level of every interval, live and at the promotion gates
    min_group_rows: int = 100  # fewer decisions in a group and its favorable-decision rate is not judged
    min_group_outcomes: int = 30  # fewer rows of the outcome in a group and its TPR (or FPR) is not judged
    hold_promotion: bool = True  # after a bias alert, the next promotion waits for a person
    # A group under the minimum sizes is reported and named, and "not_judged"; "block" fails the
    # promotion gates (offline and in shadow) while such a group exists.
    small_groups: str = "not_judged"


@dataclass(frozen=True)
class EstimatedLimits:
    """The estimate before labels (``monitoring.estimated``): each day's estimated AUC carries a
    sampling band; a day alerts when the band lies wholly below the reference period's estimate
    by more than ``max_drop`` (as well as when it falls below the AUC floor)."""

    max_drop: float = 0.02
    confidence: float = 0.95  # two-sided level of the band


@dataclass(frozen=True)
class AttributionLimits:
    """Feature-attribution drift (``monitoring.attribution``): the ranking of features by mean
    absolute contribution on live traffic against the one measured on the training holdout."""

    min_ndcg: float = 0.9  # SageMaker Model Monitor's default alert limit
    sample_rows: int = 2000  # captured rows explained per day (a fixed-seed sample)


@dataclass(frozen=True)
class Monitoring:
    """How the hourly monitor judges this dataset (defaults: the team's guides)."""

    critical_features: tuple[str, ...] = ()
    drift_share: float = 0.3  # dataset drift when at least this share of features drift
    consecutive_windows: int = 2  # sustained drift: this many drifted windows in a row
    cooldown_hours: float = 24.0  # no drift-triggered retraining within this long of the last one
    lookback_hours: int = 6  # each hourly check reads this many hours of capture
    min_window_rows: int = 200  # fewer rows and the window is not judged
    columns: dict[str, ColumnDrift] = field(default_factory=dict)
    fairness: FairnessLimits = field(default_factory=FairnessLimits)
    attribution: AttributionLimits = field(default_factory=AttributionLimits)
    estimated: EstimatedLimits = field(default_factory=EstimatedLimits)
    # Below the floor, roll back to the previous champion when it does significantly better on the
    # same matured cohort, instead of retraining (include/monitoring/fallback.py).
    auto_rollback: bool = False


DEFAULT_MONITORING = Monitoring()  # what a contract's missing monitoring keys mean


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    event_timestamp: str
    limits: BatchLimits
    labels: Labels
    auc_floor: float
    decision_threshold: float
    critical_features: tuple[str, ...]
    extra_columns: str
    source: Path
    monitoring: Monitoring = field(default_factory=Monitoring)
    gates: GateLimits = field(default_factory=GateLimits)
    shadow: ShadowLimits = field(default_factory=ShadowLimits)
    null_values: tuple[str, ...] = ()  # CSV fields every column reads as missing (besides the empty field)

    def by_role(self, role: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role == role)

    @property
    def features(self) -> tuple[str, ...]:
        """The model's inputs, in contract order: ids, timestamps, the target and protected
        attributes never are."""
        return self.by_role("feature")

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """Features the models and the drift monitor treat as numbers (ints, floats and bools,
        a bool as 0/1), in contract order."""
        return tuple(c.name for c in self.columns if c.role == "feature" and c.dtype in NUMERIC_DTYPES)

    @property
    def categorical_features(self) -> tuple[str, ...]:
        """Features treated as categories (categories and free text, compared as text)."""
        return tuple(c.name for c in self.columns if c.role == "feature" and c.dtype not in NUMERIC_DTYPES)

    @property
    def protected(self) -> tuple[str, ...]:
        return self.by_role("protected")

    @property
    def target(self) -> str:
        return self.labels.column

    def outcome(self, frame):
        """The label of each row as 1 (the contract's ``positive_value``, e.g. defaulted) or 0:
        what every model, metric and monitor reads as the positive class. Rows must be labelled."""
        import numpy as np

        labels = frame[self.target]
        if labels.isna().any():
            raise ValueError(
                f"{int(labels.isna().sum())} of {len(labels)} rows have no {self.target!r}: "
                "only labelled rows have an outcome"
            )
        return (labels.to_numpy(dtype=object) == self.labels.positive_value).astype(np.int64)

    def favorable_decision(self, scores):
        """1 where the decision at ``decision_threshold`` is the favorable one, else 0: a score
        below the threshold when the favorable outcome is the negative class (approve), at or
        above it when it is the positive class (select)."""
        import numpy as np

        high = np.asarray(scores, dtype=float) >= self.decision_threshold
        return (high if self.labels.favorable == "positive" else ~high).astype(np.int64)

    @property
    def label_feed_name(self) -> str:
        return f"{self.name}_labels"

    def events_feed(self) -> Feed:
        columns = self.columns
        if self.labels.delivery == "separate":
            columns = tuple(c for c in columns if c.name != self.labels.column)
        return Feed(
            self.name, columns, self.primary_key, self.event_timestamp, self.limits, self.extra_columns
        )

    def label_feed(self) -> Feed | None:
        if self.labels.delivery != "separate":
            return None
        by_name = {c.name: c for c in self.columns}
        observed = Column(
            self.labels.observed_timestamp,
            "timestamp",
            role="event_timestamp",
            source=self.labels.observed_timestamp_source or "",
            null_values=self.null_values,
        )
        columns = tuple(by_name[k] for k in self.primary_key) + (observed, by_name[self.labels.column])
        return Feed(
            self.label_feed_name,
            columns,
            self.primary_key,
            observed.name,
            self.labels.limits,
            self.extra_columns,
        )

    def feeds(self) -> tuple[Feed, ...]:
        label_feed = self.label_feed()
        return (self.events_feed(),) + ((label_feed,) if label_feed else ())

    def feed(self, name: str) -> Feed:
        for f in self.feeds():
            if f.name == name:
                return f
        raise ContractError(
            f"contract {self.name!r} has no feed {name!r}; feeds: {[f.name for f in self.feeds()]}"
        )


def available(contracts_dir: Path) -> list[str]:
    """Names of the contracts in ``contracts_dir`` (cheap: no YAML parsing)."""
    return sorted(p.stem for p in Path(contracts_dir).glob("*.yaml"))


def choices(settings) -> list[str]:
    """The datasets the trigger forms offer, the configured default among them; otherwise the
    DAGs would not import, with an error that names neither setting."""
    names = available(settings.contracts_dir)
    if settings.dataset not in names:
        raise ContractError(
            f"MLOPS_DATASET={settings.dataset!r} has no contract in MLOPS_CONTRACTS_DIR={settings.contracts_dir} "
            f"(found {names or 'no *.yaml file'}): set MLOPS_DATASET to one of them, or add "
            f"{settings.dataset}.yaml there"
        )
    return names


def load(name: str, contracts_dir: Path | None = None) -> Contract:
    """Load and check the contract ``name`` (default folder: settings' contracts dir)."""
    if contracts_dir is None:
        from include import settings

        contracts_dir = settings.get().contracts_dir
    if not isinstance(name, str) or not _NAME.match(name):
        raise ContractError(f"dataset name {name!r} is not a lower-case identifier")
    path = Path(contracts_dir) / f"{name}.yaml"
    if not path.is_file():
        raise ContractError(
            f"unknown dataset {name!r}: no contract file {path}; known: {', '.join(available(contracts_dir)) or 'none'}"
        )
    return parse(path)


def suggest_name(header: str) -> str:
    """A lower-case identifier for a landed header (``default.payment.next.month`` ->
    ``default_payment_next_month``), offered when a contract uses the header as a column key."""
    name = re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")
    if not re.match(r"[a-z]", name):
        name = f"column_{name}".rstrip("_")
    return name[:64].rstrip("_")


def _yaml_scalar(text: str) -> str:
    """``text`` as a YAML value that reads back as the same string: plain if it can be, else quoted."""
    import json

    import yaml

    try:
        plain = yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain = False
    return text if plain else json.dumps(text, ensure_ascii=False)


def parse(path: Path) -> Contract:
    import yaml

    from include.contract.yaml_loader import DuplicateKeyError
    from include.contract.yaml_loader import load as load_yaml

    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise ContractError(f"{path}: {exc}; a key may appear once in a mapping") from None
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from None
    return _Parser(path).contract(doc)


class _Parser:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str) -> ContractError:
        return ContractError(f"{self.path}: {where}: {message}")

    def mapping(self, doc: Any, where: str) -> dict:
        if not isinstance(doc, dict):
            raise self.fail(where, f"expected a mapping, got {type(doc).__name__}")
        return doc

    def number(
        self,
        doc: dict,
        key: str,
        where: str,
        default: float | None,
        low: float | None = None,
        high: float | None = None,
    ) -> float | None:
        value = doc.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where}.{key}", f"expected a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(f"{where}.{key}", f"{value} is outside {low}..{high}")
        return value

    def monitoring(self, doc: dict, critical: tuple[str, ...], features: set[str]) -> Monitoring:
        known = {
            "critical_features",
            "drift_share",
            "consecutive_windows",
            "cooldown_hours",
            "lookback_hours",
            "min_window_rows",
            "columns",
            "fairness",
            "attribution",
            "estimated",
            "auto_rollback",
        }
        self.known_keys(doc, "monitoring", known)
        columns = {}
        for name, override in self.mapping(doc.get("columns") or {}, "monitoring.columns").items():
            where = f"monitoring.columns.{name}"
            if name not in features:
                raise self.fail(where, f"{name!r} is not a feature")
            override = self.mapping(override, where)
            self.known_keys(override, where, {"method", "threshold"})
            method = override.get("method")
            if method is not None and method not in DRIFT_METHODS:
                raise self.fail(f"{where}.method", f"{method!r} is not one of {', '.join(DRIFT_METHODS)}")
            columns[name] = ColumnDrift(method, self.number(override, "threshold", where, None, 0, 1000))
        return Monitoring(
            critical_features=critical,
            drift_share=self.number(doc, "drift_share", "monitoring", DEFAULT_MONITORING.drift_share, 0, 1),
            consecutive_windows=int(
                self.number(
                    doc, "consecutive_windows", "monitoring", DEFAULT_MONITORING.consecutive_windows, 1, 48
                )
            ),
            cooldown_hours=self.number(
                doc, "cooldown_hours", "monitoring", DEFAULT_MONITORING.cooldown_hours, 0, 24 * 30
            ),
            lookback_hours=int(
                self.number(doc, "lookback_hours", "monitoring", DEFAULT_MONITORING.lookback_hours, 1, 168)
            ),
            min_window_rows=int(
                self.number(
                    doc, "min_window_rows", "monitoring", DEFAULT_MONITORING.min_window_rows, 1, 10_000_000
                )
            ),
            columns=columns,
            auto_rollback=self.flag(doc, "auto_rollback", "monitoring", DEFAULT_MONITORING.auto_rollback),
            fairness=self.fairness(doc.get("fairness")),
            attribution=self.attribution(doc.get("attribution")),
            estimated=self.estimated(doc.get("estimated")),
        )

    def estimated(self, doc: Any) -> EstimatedLimits:
        where, d = "monitoring.estimated", EstimatedLimits()
        doc = self._known(doc, where, EstimatedLimits)
        return EstimatedLimits(
            max_drop=self.number(doc, "max_drop", where, d.max_drop, 0, 1),
            confidence=self.number(doc, "confidence", where, d.confidence, 0.5, 0.999),
        )

    def flag(self, doc: dict, key: str, where: str, default: bool) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"expected true or false, got {value!r}")
        return value

    def _known(self, doc: Any, where: str, cls) -> dict:
        doc = self.mapping(doc or {}, where)
        self.known_keys(doc, where, set(cls.__dataclass_fields__))
        return doc

    def known_keys(self, doc: dict, where: str, known: set[str]) -> None:
        """Refuse a key the parser does not read (a typo would otherwise fall back to a default),
        suggesting the closest known key."""
        unknown = sorted(map(str, set(doc) - known))
        if not unknown:
            return
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            if close:
                hints.append(f"{close[0]} for {key}")
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise self.fail(where, f"unknown keys {unknown}{hint}; known: {sorted(known)}")

    def fairness(self, doc: Any) -> FairnessLimits:
        where, d = "monitoring.fairness", FairnessLimits()
        doc = self._known(doc, where, FairnessLimits)
        hold = self.flag(doc, "hold_promotion", where, d.hold_promotion)
        small = doc.get("small_groups", d.small_groups)
        if small not in SMALL_GROUPS:
            raise self.fail(f"{where}.small_groups", f"{small!r} is not one of {', '.join(SMALL_GROUPS)}")
        return FairnessLimits(
            min_approval_ratio=self.number(doc, "min_approval_ratio", where, d.min_approval_ratio, 0, 1),
            max_tpr_gap=self.number(doc, "max_tpr_gap", where, d.max_tpr_gap, 0, 1),
            max_fpr_gap=self.number(doc, "max_fpr_gap", where, d.max_fpr_gap, 0, 1),
            confidence=self.number(doc, "confidence", where, d.confidence, 0.5, 0.999),
            min_group_rows=int(self.number(doc, "min_group_rows", where, d.min_group_rows, 1, 10_000_000)),
            min_group_outcomes=int(
                self.number(doc, "min_group_outcomes", where, d.min_group_outcomes, 1, 10_000_000)
            ),
            hold_promotion=hold,
            small_groups=small,
        )

    def gates(self, doc: Any) -> GateLimits:
        where, d = "model.gates", GateLimits()
        if isinstance(doc, dict) and "min_group_defaulters" in doc:
            raise self.fail(
                f"{where}.min_group_defaulters",
                "is retired: the gates judge groups by monitoring.fairness.min_group_rows and "
                "min_group_outcomes, like the live monitor, and small groups follow "
                "monitoring.fairness.small_groups (not_judged or block); remove the key",
            )
        doc = self._known(doc, where, GateLimits)
        return GateLimits(
            confidence=self.number(doc, "confidence", where, d.confidence, 0.5, 0.999),
            non_inferiority_margin=self.number(
                doc, "non_inferiority_margin", where, d.non_inferiority_margin, 0, 1
            ),
            min_improvement=self.number(doc, "min_improvement", where, d.min_improvement, 0, 1),
            max_overfit_gap=self.number(doc, "max_overfit_gap", where, d.max_overfit_gap, 0, 1),
            min_approval_ratio=self.number(doc, "min_approval_ratio", where, d.min_approval_ratio, 0, 1),
            max_tpr_gap=self.number(doc, "max_tpr_gap", where, d.max_tpr_gap, 0, 1),
            max_fpr_gap=self.number(doc, "max_fpr_gap", where, d.max_fpr_gap, 0, 1),
            p99_latency_ms=self.number(doc, "p99_latency_ms", where, d.p99_latency_ms, 0.001, 600_000),
            min_rows=int(self.number(doc, "min_rows", where, d.min_rows, 1, 1_000_000_000)),
        )

    def shadow(self, doc: Any, maturity_days: int) -> ShadowLimits:
        where, d = "model.shadow", ShadowLimits()
        doc = self._known(doc, where, ShadowLimits)
        limits = ShadowLimits(
            min_outcomes=int(self.number(doc, "min_outcomes", where, d.min_outcomes, 1, 1_000_000_000)),
            max_days=int(self.number(doc, "max_days", where, d.max_days, 1, 3650)),
            approval=self.flag(doc, "approval", where, d.approval),
        )
        if limits.max_days <= maturity_days:
            raise self.fail(
                f"{where}.max_days",
                f"{limits.max_days} days end the shadow period before any outcome matures "
                f"(labels.maturity_days is {maturity_days}); give more than {maturity_days}",
            )
        return limits

    def attribution(self, doc: Any) -> AttributionLimits:
        where, d = "monitoring.attribution", AttributionLimits()
        doc = self._known(doc, where, AttributionLimits)
        return AttributionLimits(
            min_ndcg=self.number(doc, "min_ndcg", where, d.min_ndcg, 0, 1),
            sample_rows=int(self.number(doc, "sample_rows", where, d.sample_rows, 10, 1_000_000)),
        )

    def limits(self, doc: Any, where: str, defaults: BatchLimits) -> BatchLimits:
        doc = self._known(doc, where, BatchLimits)
        limits = BatchLimits(
            min_rows=int(self.number(doc, "min_rows", where, defaults.min_rows, 0)),
            max_rows=int(self.number(doc, "max_rows", where, defaults.max_rows, 1)),
            max_bad_row_share=self.number(doc, "max_bad_row_share", where, defaults.max_bad_row_share, 0, 1),
            max_age_hours=self.number(doc, "max_age_hours", where, defaults.max_age_hours, 0),
            max_future_minutes=self.number(doc, "max_future_minutes", where, defaults.max_future_minutes, 0),
            success_marker=self.flag(doc, "success_marker", where, defaults.success_marker),
        )
        if limits.min_rows > limits.max_rows:
            raise self.fail(where, f"min_rows {limits.min_rows} > max_rows {limits.max_rows}")
        return limits

    def source(self, doc: dict, key: str, where: str, default: str | None) -> str | None:
        """A header as it arrives in landed files: any one-line text, matched exactly."""
        if key not in doc:
            return default
        value, where = doc[key], f"{where}.{key}"
        if value is None or value == "":
            raise self.fail(where, "is empty; give the header as it arrives in landed files, or drop the key")
        if not isinstance(value, str):
            raise self.fail(
                where,
                f"expected the header as a string, got {type(value).__name__} {value!r} "
                "(quote it in the YAML)",
            )
        if "\n" in value or "\r" in value:
            raise self.fail(where, f"{value!r} contains a line break; a header is one line")
        if value != value.strip():
            raise self.fail(
                where, f"{value!r} has leading or trailing whitespace; write the header without it"
            )
        if len(value) > SOURCE_MAX_CHARS:
            raise self.fail(where, f"is {len(value)} characters long; at most {SOURCE_MAX_CHARS}")
        if value in _RESERVED_SOURCES:
            raise self.fail(
                where,
                f"{value!r} is a column the reader adds to every landed table "
                f"({', '.join(_RESERVED_SOURCES)})",
            )
        return value

    def column(self, name: Any, doc: Any) -> Column:
        where = f"columns.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            rule = f"column names must be lower-case identifiers ({_NAME_RULE})"
            if not isinstance(name, str):
                raise self.fail(
                    where,
                    f"{rule}; YAML read this key as {type(name).__name__} {name!r}: name the "
                    f"column e.g. {suggest_name(str(name))} and add source: with the header in quotes",
                )
            raise self.fail(
                where, f"{rule}; name it e.g. {suggest_name(name)} and add source: {_yaml_scalar(name)}"
            )
        doc = self.mapping(doc, where)
        self.known_keys(doc, where, set(Column.__dataclass_fields__) - {"name"})
        dtype = doc.get("dtype")
        if dtype not in DTYPES:
            raise self.fail(f"{where}.dtype", f"{dtype!r} is not one of {DTYPES}")
        role = doc.get("role", "feature")
        if role not in ROLES:
            raise self.fail(f"{where}.role", f"{role!r} is not one of {ROLES}")
        allowed = doc.get("allowed")
        if allowed is not None and (not isinstance(allowed, list) or not allowed):
            raise self.fail(f"{where}.allowed", "expected a non-empty list")
        if dtype == "category" and allowed is None:
            raise self.fail(where, "a category column needs its allowed values")
        low = self.number(doc, "min", where, None)
        high = self.number(doc, "max", where, None)
        if low is not None and high is not None and low > high:
            raise self.fail(where, f"min {low} > max {high}")
        return Column(
            name=name,
            null_values=self.null_values(doc, where),
            dtype=dtype,
            role=role,
            nullable=bool(doc.get("nullable", False)),
            min=low,
            max=high,
            allowed=tuple(allowed) if allowed is not None else None,
            max_null_rate=self.number(doc, "max_null_rate", where, None, 0, 1),
            description=str(doc.get("description", "")),
            source=self.source(doc, "source", where, name),
        )

    def null_values(self, doc: dict, where: str) -> tuple[str, ...]:
        """A list of the strings a CSV writes for a missing value (``?``, ``NA``); the empty field
        is always missing and need not be listed."""
        value = doc.get("null_values")
        if value is None:
            return ()
        where = f"{where}.null_values" if where != "top level" else "null_values"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                where,
                f'expected a list of strings (quote markers YAML would read otherwise, e.g. "NA", '
                f'"null", "-"), got {value!r}',
            )
        for v in value:
            if v != v.strip() or "\n" in v:
                raise self.fail(where, f"{v!r} has surrounding whitespace or a line break")
        return tuple(dict.fromkeys(v for v in value if v != ""))

    def positive_value(self, doc: dict, target: Column) -> Any:
        """The label value read as the positive class. Ingestion keeps the target in its dtype and
        outcomes compare with ``==``, so a value the column never holds would make every outcome
        the other class (and training fail later on a single class)."""
        value = doc.get("positive_value", 1)
        where, column = "labels.positive_value", f"columns.{target.name}"
        shown = f"{value!r}" + ("" if "positive_value" in doc else " (the default)")
        numeric = isinstance(value, (int, float))  # bool included: true is 1
        if target.dtype in ("string", "category"):
            if not isinstance(value, str):
                raise self.fail(
                    where,
                    f'{shown} is not a string but {column} is {target.dtype}: quote it ({value!r} -> "{value}")',
                )
        elif target.dtype in NUMERIC_DTYPES and not numeric:
            hint = ": write true (or false)" if target.dtype == "bool" else ""
            kind = "a string" if isinstance(value, str) else "not a number"
            raise self.fail(where, f"{shown} is {kind} but {column} is {target.dtype}{hint}")
        elif target.dtype == "int" and isinstance(value, float) and not value.is_integer():
            raise self.fail(where, f"{shown} is not a whole number but {column} is int")
        elif target.dtype == "bool" and value not in (0, 1):
            raise self.fail(where, f"{shown} is not true or false but {column} is bool")
        if target.allowed is not None:
            # as ingestion compares allowed values: numbers as numbers, text as text
            allowed = [str(a) for a in target.allowed] if isinstance(value, str) else target.allowed
            if value not in allowed:
                raise self.fail(
                    where,
                    f"{shown} is not one of the allowed values of {column} {list(target.allowed)}: "
                    "every outcome would be the other class",
                )
        return value

    def labels_wording(self, doc: dict) -> tuple[str, dict]:
        favorable = doc.get("favorable", "negative")
        if favorable not in FAVORABLE:
            raise self.fail(
                "labels.favorable",
                f"{favorable!r} is not one of {', '.join(FAVORABLE)} (which class is the outcome a "
                "person wants: negative, e.g. repaid, or positive, e.g. hired)",
            )
        names = self.mapping(doc.get("names") or {}, "labels.names")
        if set(names) - {0, 1}:
            raise self.fail(
                "labels.names",
                f"keys {sorted(map(str, set(names) - {0, 1}))} are not 1 (the positive_value's class) "
                "or 0 (the other class)",
            )
        for k, v in names.items():
            if not isinstance(v, str) or not v.strip():
                raise self.fail(f"labels.names.{k}", f"expected a non-empty name, got {v!r}")
        return favorable, {int(k): v.strip() for k, v in names.items()}

    def unique_sources(self, columns: tuple[Column, ...]) -> None:
        """Each landed header feeds one column, or renaming a landed table would be ambiguous."""
        seen: dict[str, str] = {}
        for c in columns:
            if c.source in seen:
                where = f"columns.{c.name}" + (".source" if c.source != c.name else "")
                raise self.fail(
                    where,
                    f"the header {c.source!r} is already the source of columns.{seen[c.source]}; "
                    "a landed header feeds one column",
                )
            seen[c.source] = c.name

    def contract(self, doc: Any) -> Contract:
        doc = self.mapping(doc, "top level")
        self.known_keys(doc, "top level", _TOP_LEVEL_KEYS)
        name = doc.get("name")
        if name != self.path.stem:
            raise self.fail("name", f"{name!r} must equal the file name {self.path.stem!r}")
        columns_doc = doc.get("columns")
        if isinstance(columns_doc, list):
            raise self.fail(
                "columns", "expected a mapping of column name to its settings (age: {dtype: int}), got list"
            )
        columns = tuple(self.column(n, d) for n, d in self.mapping(columns_doc, "columns").items())
        null_values = self.null_values(doc, "top level")
        columns = tuple(
            replace(c, null_values=tuple(dict.fromkeys(null_values + c.null_values))) for c in columns
        )
        self.unique_sources(columns)
        names = {c.name for c in columns}
        pk = tuple(doc.get("primary_key") or ())
        if not pk or not set(pk) <= names:
            raise self.fail("primary_key", f"{list(pk)} must be a non-empty list of declared columns")
        ts = doc.get("event_timestamp")
        if ts not in names or next(c for c in columns if c.name == ts).dtype != "timestamp":
            raise self.fail("event_timestamp", f"{ts!r} must name a declared timestamp column")
        labels_doc = self.mapping(doc.get("labels"), "labels")
        self.known_keys(labels_doc, "labels", _LABELS_KEYS)
        target = labels_doc.get("column")
        if target not in names or next(c for c in columns if c.name == target).role != "target":
            raise self.fail("labels.column", f"{target!r} must name a declared column with role target")
        delivery = labels_doc.get("delivery", "inline")
        if delivery not in ("inline", "separate"):
            raise self.fail("labels.delivery", f"{delivery!r} is not inline or separate")
        observed = labels_doc.get("observed_timestamp")
        if delivery == "separate" and (not observed or not _NAME.match(observed) or observed in names):
            raise self.fail(
                "labels.observed_timestamp", "a separate label feed needs a new timestamp column name"
            )
        observed_source = self.source(labels_doc, "observed_timestamp_source", "labels", None)
        if observed_source is not None and delivery != "separate":
            raise self.fail(
                "labels.observed_timestamp_source",
                "only a separate label feed (delivery: separate) has an observed timestamp column",
            )
        if delivery == "separate":
            # The parser creates this column, so its header is checked against the label feed's others here.
            label_sources = {c.source: c.name for c in columns if c.name in (*pk, target)}
            header = observed_source or observed
            if header in label_sources:
                where = "labels.observed_timestamp" + ("_source" if observed_source else "")
                raise self.fail(
                    where,
                    f"the header {header!r} is already the source of "
                    f"columns.{label_sources[header]} in the label feed; a landed header feeds one column",
                )
        favorable, class_names = self.labels_wording(labels_doc)
        labels = Labels(
            favorable=favorable,
            names=class_names,
            column=target,
            delivery=delivery,
            maturity_days=int(self.number(labels_doc, "maturity_days", "labels", 0, 0, 3650)),
            observed_timestamp=observed,
            observed_timestamp_source=observed_source or observed,
            positive_value=self.positive_value(labels_doc, next(c for c in columns if c.name == target)),
            limits=self.limits(labels_doc.get("batch"), "labels.batch", BatchLimits(min_rows=0)),
        )
        model = self.mapping(doc.get("model") or {}, "model")
        model_keys = {"auc_floor", "decision_threshold", "gates", "shadow"}
        self.known_keys(model, "model", model_keys)
        monitoring = self.mapping(doc.get("monitoring") or {}, "monitoring")
        critical = tuple(monitoring.get("critical_features") or ())
        features = {c.name for c in columns if c.role == "feature"}
        if not set(critical) <= features:
            raise self.fail(
                "monitoring.critical_features", f"{sorted(set(critical) - features)} are not features"
            )
        monitoring_settings = self.monitoring(monitoring, critical, features)
        extra = doc.get("extra_columns", "reject")
        if extra not in ("reject", "ignore"):
            raise self.fail("extra_columns", f"{extra!r} is not reject or ignore")
        return Contract(
            name=name,
            description=str(doc.get("description", "")).strip(),
            columns=columns,
            primary_key=pk,
            event_timestamp=ts,
            limits=self.limits(doc.get("batch"), "batch", BatchLimits()),
            labels=labels,
            auc_floor=self.number(model, "auc_floor", "model", 0.5, 0, 1),
            decision_threshold=self.number(model, "decision_threshold", "model", 0.5, 0, 1),
            critical_features=critical,
            extra_columns=extra,
            source=self.path,
            monitoring=monitoring_settings,
            gates=self.gates(model.get("gates")),
            shadow=self.shadow(model.get("shadow"), labels.maturity_days),
            null_values=null_values,
        )
