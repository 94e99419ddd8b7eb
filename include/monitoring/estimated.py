"""Performance before labels: the champion's ROC AUC estimated from its scores alone.

Confidence-based performance estimation (NannyML's CBPE): if the model's calibration holds, an
application scored with calibrated probability p is a defaulter with probability p, so the ROC
curve expected on a day's traffic weighs each application as p of a positive and 1 - p of a
negative at its score. The calibration is the one measured at training: an isotonic map from
score to observed default rate over equal-count bins of the holdout, logged with the version as
``calibration.json``.

Each estimate carries a sampling band (``sampling_band``) at ``monitoring.estimated.confidence``,
and the training run stores the reference period's estimate (the holdout the calibration is
fitted on, with its band) in ``calibration.json``. A day alerts when its estimate is below the
AUC floor, or when its whole band lies more than ``monitoring.estimated.max_drop`` below the
reference estimate (the band's upper end under reference - max_drop); the record names the
rule that fired, with its numbers. A version whose ``calibration.json`` has no reference
(registered before the band existed) is judged on the floor alone (``reference: missing``).

Its limit: the estimate sees only the scores. It follows a change in the inputs (a population
the model separates less well), but a change in P(y | x), concept drift, leaves the scores and
so the estimate where they were; the realized AUC (``performance.realized``) still guards that.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np

from include import settings as settings_module
from include import storage
from include.contract import Contract
from include.monitoring import daily, performance

MONITOR = "performance/estimated"
CALIBRATION = "calibration.json"  # run artifact: the holdout's isotonic calibration map
METHOD = "CBPE: expected ROC AUC from scores calibrated on the training holdout"


CALIBRATION_BINS = 20  # at most; a holdout's few thousand rows give ~200 per bin
BAND_RESAMPLES = 400  # bootstrap resamples per band: the standard error to ~3.5 % of itself
BAND_SEED = 0  # fixed: the same scores give the same band, on any day and machine load
BAND_BLOCK_CELLS = 2_000_000  # resamples are drawn in blocks of at most this many row draws
BAND_METHOD = (
    f"estimate +- z * bootstrap error: {BAND_RESAMPLES} resamples of the day's rows (seed {BAND_SEED})"
)
REFERENCE_PERIOD = "training holdout (the rows the calibration is fitted on)"


def calibration_map(y_true, scores) -> dict:
    """Isotonic regression of the observed default rate on the score, over equal-count bins of
    the holdout (mean score, rate, rows per bin). Fitted on single rows, the steps overfit the
    holdout's extremes (probabilities of exactly 0 and 1) and the estimate ran 0.013 AUC high;
    over 20 bins its bias was 0.004 on 14 simulated days (docs/monitoring.md)."""
    from sklearn.isotonic import IsotonicRegression

    y, s = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    bins = max(1, min(CALIBRATION_BINS, len(y) // 100))
    parts = np.array_split(np.argsort(s, kind="stable"), bins)
    centre = np.array([s[p].mean() for p in parts])
    rate = np.array([y[p].mean() for p in parts])
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        centre, rate, sample_weight=[len(p) for p in parts]
    )
    return {
        "method": f"isotonic over {bins} equal-count bins of the holdout",
        "rows": int(len(y)),
        "scores": [float(v) for v in fitted.X_thresholds_],
        "probabilities": [float(v) for v in fitted.y_thresholds_],
    }


def calibrated(mapping: dict, scores) -> np.ndarray:
    """The default probability the holdout observed at each score (linear between its steps)."""
    return np.interp(np.asarray(scores, dtype=float), mapping["scores"], mapping["probabilities"])


def calibration_artifact(y_true, scores, confidence: float) -> dict:
    """``calibration.json`` as training logs it: the calibration map of the holdout and, under
    ``reference``, the reference period's estimate: the estimated AUC of the holdout through
    that map, with its band at ``confidence`` and the holdout's realized AUC beside it."""
    from sklearn.metrics import roc_auc_score

    mapping = calibration_map(y_true, scores)
    s = np.asarray(scores, dtype=float)
    probability = calibrated(mapping, s)
    auc = expected_auc(s, probability)
    band = sampling_band(s, probability, confidence) if auc is not None else None
    y = np.asarray(y_true, dtype=int)
    return {
        **mapping,
        "reference": {
            "period": REFERENCE_PERIOD,
            "rows": int(len(s)),
            "estimated_auc": auc,
            "confidence": confidence,
            "band": band and band["band"],
            "realized_band": band and band["realized_band"],
            "band_method": BAND_METHOD,
            "realized_auc": float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None,
        },
    }


def expected_auc(scores, probabilities) -> float | None:
    """ROC AUC expected when each row is a positive with its probability: every row counted
    once as a positive weighing p and once as a negative weighing 1 - p, at its score.
    None when the probabilities leave no positive or no negative weight."""
    from sklearn.metrics import roc_auc_score

    s, p = np.asarray(scores, dtype=float), np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    if len(s) == 0 or p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    labels = np.r_[np.ones(len(s)), np.zeros(len(s))]
    return float(roc_auc_score(labels, np.r_[s, s], sample_weight=np.r_[p, 1 - p]))


def _grouped_aucs(starts: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The ROC AUC of each row of ``positive`` / ``negative`` weights (resamples x rows, rows in
    ascending score order, tied scores starting at ``starts``): a tie counts one half."""
    if len(starts) == positive.shape[1]:  # no tied scores
        p, n = positive, negative
    else:
        p, n = np.add.reduceat(positive, starts, axis=1), np.add.reduceat(negative, starts, axis=1)
    below = np.cumsum(n, axis=1) - n
    area = (p * (below + 0.5 * n)).sum(axis=1)
    pairs = p.sum(axis=1) * n.sum(axis=1)
    return np.divide(area, pairs, out=np.full(len(area), np.nan), where=pairs > 0)


def sampling_band(
    scores, probabilities, confidence: float, *, resamples: int = BAND_RESAMPLES, seed: int = BAND_SEED
) -> dict:
    """The estimate's sampling band at two-sided ``confidence``, from the day's rows and the
    calibration, by a fixed-seed bootstrap.

    Each of ``resamples`` resamples draws the day's n rows with replacement (a count per row)
    and computes the expected AUC of the resample through the calibrated probabilities: the
    spread of those is the estimate's standard error, how much another day of n applications from
    the same population would move it. The band is estimate +- z * that error (z of the
    normal at ``confidence``; the bootstrap distribution is close to normal from a few hundred
    rows, and a band centred on the estimate always contains it), clipped to [0, 1]. This is the
    band the drop rule reads: the reference estimate is an expected AUC too (no outcome noise),
    so the day's expected AUC is what is compared with it.

    ``realized_band`` answers another question, where the AUC the labels will show should land:
    in the same resamples each row's outcomes are drawn from its calibrated probability
    (binomial on its count), and the realized AUC of those draws gives a second error, the one
    Hanley & McNeil's formula approximates with the expected positives and negatives. It is
    2-4 times wider than the estimate's (docs/monitoring.md), so a rule on it would only fire
    far below the reference.

    Deterministic: a fixed seed (numpy's PCG64), a fixed resample count and blocks sized by n
    alone, so the same scores and calibration give the same band to the last digit, whatever
    the machine is doing; the cost is O(resamples x n) (0.3 s for 6,000 rows on one core)."""
    s = np.asarray(scores, dtype=float)
    order = np.argsort(s, kind="stable")
    s, p = s[order], np.clip(np.asarray(probabilities, dtype=float)[order], 0.0, 1.0)
    n = len(s)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, BAND_BLOCK_CELLS // max(n, 1)))
    expected, realized, done = [], [], 0
    while done < resamples:
        size = min(block, resamples - done)
        drawn = rng.integers(0, n, (size, n)) + n * np.arange(size)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=size * n).reshape(size, n)
        positives = rng.binomial(counts, p).astype(float)
        counts = counts.astype(float)
        expected.append(_grouped_aucs(starts, counts * p, counts * (1 - p)))
        realized.append(_grouped_aucs(starts, positives, counts - positives))
        done += size
    centre = expected_auc(s, p)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)

    def band(values: list[np.ndarray]) -> tuple[float | None, list[float] | None]:
        values = np.concatenate(values)
        values = values[np.isfinite(values)]
        if centre is None or len(values) < 2:
            return None, None
        error = float(np.std(values, ddof=1))
        return error, [max(0.0, centre - z * error), min(1.0, centre + z * error)]

    error, estimate_band = band(expected)
    realized_error, realized_band = band(realized)
    return {
        "estimated_auc": centre,
        "confidence": confidence,
        "standard_error": error,
        "band": estimate_band,
        "realized_standard_error": realized_error,
        "realized_band": realized_band,
        "resamples": resamples,
        "seed": seed,
    }


def _rules(record: dict, contract: Contract) -> list[dict]:
    """The alert rules the day's estimate breaks, each with its numbers."""
    fired = []
    auc = record["estimated_auc"]
    if record["below_floor"]:
        fired.append(
            {
                "rule": "below_floor",
                "estimated_auc": auc,
                "auc_floor": contract.auc_floor,
                "text": f"estimated AUC {auc:.4f} < floor {contract.auc_floor}",
            }
        )
    if record["dropped"]:
        low, high = record["band"]
        reference = record["reference"]["estimated_auc"]
        fired.append(
            {
                "rule": "dropped",
                "band": [low, high],
                "reference_auc": reference,
                "max_drop": record["max_drop"],
                "drop_line": record["drop_line"],
                "text": (
                    f"{record['confidence']:.0%} band [{low:.4f}, {high:.4f}] wholly below reference "
                    f"{reference:.4f} - max_drop {record['max_drop']} = {record['drop_line']:.4f}"
                ),
            }
        )
    return fired


def estimate(contract: Contract, day: date, *, settings: settings_module.Settings | None = None) -> dict:
    """The estimated AUC of the applications scored on ``day`` by the version that scored most of
    them, with its sampling band, against the contract's floor and the reference period's
    estimate; stored once, then read back."""
    from include.monitoring.reference import version_artifact

    s = settings or settings_module.get()
    found = daily.stored(contract.name, MONITOR, day, s)
    if found is not None:
        return found
    rows = daily.applications(daily.captured(contract, day, s), contract)
    version = daily.main_version(rows)
    limits = contract.monitoring.estimated
    record = {
        "dataset": contract.name,
        "day": day.isoformat(),
        "monitor": "estimated_performance",
        "method": METHOD,
        "model_version": version,
        "auc_floor": contract.auc_floor,
        "captured": int(len(rows)),
        "estimated_auc": None,
        "below_floor": False,
        "confidence": limits.confidence,
        "max_drop": limits.max_drop,
        "band": None,
        "dropped": False,
        "rules": [],
    }
    if version is None:
        return {**record, "status": "no_scored_rows"}  # nothing stored: the capture may come later
    mapping = version_artifact(s, contract.name, version, CALIBRATION)
    if mapping is None:
        detail = f"version {version} was registered without {CALIBRATION}"
        return daily.store(
            contract.name, MONITOR, day, {**record, "status": "no_calibration", "detail": detail}, s
        )
    scores = rows.loc[rows["model_version"].astype(str) == version, "score"].to_numpy(dtype=float)
    record["rows"] = int(len(scores))
    if len(scores) < performance.MIN_LABELLED:
        return daily.store(contract.name, MONITOR, day, {**record, "status": "too_few_rows"}, s)
    probability = calibrated(mapping, scores)
    auc = expected_auc(scores, probability)
    record |= {
        "status": "estimated" if auc is not None else "degenerate",
        "estimated_auc": auc,
        "expected_default_rate": float(probability.mean()),
        "below_floor": auc is not None and auc < contract.auc_floor,
    }
    if auc is not None:
        spread = sampling_band(scores, probability, limits.confidence)
        record |= {
            "band": spread["band"],
            "standard_error": spread["standard_error"],
            "realized_band": spread["realized_band"],
            "band_method": BAND_METHOD,
        }
    reference = mapping.get("reference") or {}
    if reference.get("estimated_auc") is None:
        record |= {
            "reference": "missing",
            "drop_line": None,
            "reference_detail": f"{CALIBRATION} of v{version} has no reference estimate: no drop rule, "
            "the floor alone judges this version",
        }
    else:
        line = reference["estimated_auc"] - limits.max_drop
        record |= {
            "reference": {
                k: reference.get(k) for k in ("period", "rows", "estimated_auc", "band", "confidence")
            },
            "drop_line": line,
            "dropped": record["band"] is not None and record["band"][1] < line,
        }
    record["rules"] = _rules(record, contract) if auc is not None else []
    return daily.store(contract.name, MONITOR, day, record, s)


def fired_rules(record: dict) -> list[dict]:
    """The rules a stored record fired; a record stored before the band knew only the floor."""
    if "rules" in record:
        return record["rules"]
    if not record.get("below_floor"):
        return []
    return [
        {
            "rule": "below_floor",
            "estimated_auc": record["estimated_auc"],
            "auc_floor": record["auc_floor"],
            "text": f"estimated AUC {record['estimated_auc']:.4f} < floor {record['auc_floor']}",
        }
    ]


def alert(
    contract: Contract, record: dict, *, dag_run_id: str, settings: settings_module.Settings | None = None
) -> bool:
    """Audit and notify an estimate that breaks a rule, below the floor or dropped from the
    reference (once per day); True when one fired. The audit event keeps its type
    (``estimated_auc_below_floor``) for either rule; its ``rules`` say which."""
    from include.monitoring.alerts import alert_once, monitor_event

    fired = fired_rules(record)
    if not fired:
        return False
    s = settings or settings_module.get()
    day = date.fromisoformat(record["day"])
    names = [r["rule"] for r in fired]
    band = record.get("band")
    message = (
        f"{contract.name}: estimated AUC {record['estimated_auc']:.4f}"
        + (f" [{band[0]:.4f}, {band[1]:.4f}]" if band else "")
        + f" of v{record['model_version']} on the {record['rows']} applications of {day}: "
        + "; ".join(r["text"] for r in fired)
        + f" ({METHOD}). Labels will confirm it; the inputs have moved where the model separates less well."
    )
    what = {
        ("below_floor",): "below the floor",
        ("dropped",): "dropped below the reference",
    }.get(tuple(names), "below the floor and dropped below the reference")
    reference = record.get("reference")
    alert_once(
        contract,
        f"estimated-{day}",
        kind="estimated_performance_alert",
        subject=f"{contract.name}: estimated AUC {what} on {day}",
        message=message,
        facts=monitor_event(
            "estimated_auc_below_floor",
            contract,
            dag_run_id,
            version=record["model_version"],
            day=record["day"],
            rules=names,
            estimated_auc=record["estimated_auc"],
            band=band,
            auc_floor=contract.auc_floor,
            reference_auc=reference.get("estimated_auc") if isinstance(reference, dict) else None,
            max_drop=record.get("max_drop"),
            drop_line=record.get("drop_line"),
            rows=record["rows"],
        ),
        interval=(day, day),
        dag_run_id=dag_run_id,
        task="estimated_performance",
        audit_key=f"estimated_performance:{day}",
        settings=s,
    )
    return True


def history(
    contract: Contract, first: date, last: date, *, settings: settings_module.Settings | None = None
) -> list[dict]:
    """Per application day: the estimated AUC with its band, drop line and fired rules and, once
    outcomes matured, the realized AUC."""
    estimated = {r["day"]: r for r in daily.history(contract.name, MONITOR, first, last, settings)}
    out, day = [], first
    while day <= last:
        path = performance.record_path(contract.name, day, settings)
        realized = json.loads(storage.read_bytes(path)) if storage.exists(path) else None
        e = estimated.get(day.isoformat())
        if e or realized:
            out.append(
                {
                    "day": day.isoformat(),
                    "estimated_auc": e and e.get("estimated_auc"),
                    "band": e and e.get("band"),
                    "drop_line": e and e.get("drop_line"),
                    "rules": [r["rule"] for r in fired_rules(e)] if e else [],
                    "realized_auc": realized and realized.get("auc"),
                    "model_version": e and e.get("model_version"),
                    "auc_floor": contract.auc_floor,
                }
            )
        day += timedelta(days=1)
    return out
