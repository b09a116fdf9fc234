"""Wide curve tables for ``dvc plots``: one x grid, one column per model."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def roc_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    out = {"fpr": GRID}
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        out[name] = np.interp(GRID, fpr, tpr)
    return pd.DataFrame(out)


def pr_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    out = {"recall": GRID}
    for name, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        # Interpolated precision: the best precision at this recall or more (the
        # standard PR envelope; raw PR points zig-zag and share recall values).
        order = np.argsort(recall, kind="stable")
        recall, precision = recall[order], precision[order]
        best_after = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, GRID, side="left").clip(max=len(recall) - 1)
        out[name] = best_after[idx]
    return pd.DataFrame(out)


def lift_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Share of churners reached (cumulative gain) by share of customers contacted."""
    out = {"share_contacted": GRID}
    y = np.asarray(y, dtype=float)
    for name, p in scores.items():
        order = np.argsort(-np.asarray(p), kind="stable")
        gained = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1.0)])
        share = np.arange(len(y) + 1) / len(y)
        out[name] = np.interp(GRID, share, gained)
    return pd.DataFrame(out)


def calibration_table(
    y: np.ndarray, scores: Mapping[str, np.ndarray], *, n_bins: int = 10
) -> pd.DataFrame:
    """Observed churn rate per uniform bin of predicted probability (NaN: empty bin)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    out = {"predicted": np.round(centers, 3), "perfect": np.round(centers, 3)}
    y = np.asarray(y, dtype=float)
    for name, p in scores.items():
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
        sums = np.bincount(idx, weights=y, minlength=n_bins)
        counts = np.bincount(idx, minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return pd.DataFrame(out)
