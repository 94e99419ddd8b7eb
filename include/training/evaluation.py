"""Holdout metrics of a scored binary classifier, as recorded for every candidate.

ROC AUC, PR AUC (average precision), the KS statistic (max TPR - FPR), the Brier score,
a quantile calibration curve and the confusion matrix at the contract's threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)


def evaluate(y_true, scores, threshold: float, calibration_bins: int = 10) -> dict:
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(scores, dtype=float)
    if len(np.unique(y)) < 2:
        raise ValueError(f"cannot evaluate on {len(y)} rows holding a single class ({np.unique(y).tolist()})")
    fpr, tpr, _ = roc_curve(y, p)
    tn, fp, fn, tp = confusion_matrix(y, (p >= threshold).astype(int), labels=[0, 1]).ravel()
    observed, predicted = calibration_curve(y, p, n_bins=calibration_bins, strategy="quantile")
    return {
        "rows": int(len(y)),
        "positive_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "ks": float(np.max(tpr - fpr)),
        "brier": float(brier_score_loss(y, p)),
        "calibration": {"predicted": predicted.round(6).tolist(), "observed": observed.round(6).tolist()},
        "confusion": {"threshold": threshold, "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }
