"""Wide curve tables for dvc plots: one x grid, one column per model."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.curves import GRID, calibration_table, lift_table, pr_table, roc_table

Y = np.array([1, 0, 1, 0])
P = np.array([0.9, 0.8, 0.7, 0.1])


def test_roc_table_interpolates_each_model_on_one_fpr_grid():
    t = roc_table(Y, {"model": P, "perfect": Y.astype(float)})
    assert list(t.columns) == ["fpr", "model", "perfect"]
    assert len(t) == len(GRID) == 101
    # ROC of P: (0,0) (0,.5) (.5,.5) (.5,1) (1,1): at fpr 0.25 the curve is at tpr 0.5
    assert t.loc[t["fpr"] == 0.25, "model"].item() == pytest.approx(0.5)
    assert t.loc[t["fpr"] == 0.75, "model"].item() == pytest.approx(1.0)
    assert (t.loc[t["fpr"] > 0, "perfect"] == 1.0).all()


def test_lift_table_is_the_cumulative_share_of_churners_reached():
    t = lift_table(Y, {"model": P}).set_index("share_contacted")["model"]
    # contacting 1 of 4 reaches 1 of 2 churners, 2 of 4 still 1, 3 of 4 both
    assert t[0.25] == pytest.approx(0.5)
    assert t[0.5] == pytest.approx(0.5)
    assert t[0.75] == pytest.approx(1.0)
    assert t[0.0] == 0.0 and t[1.0] == 1.0


def test_pr_table_precision_at_full_recall():
    t = pr_table(Y, {"model": P}).set_index("recall")["model"]
    assert t[1.0] == pytest.approx(2 / 3)  # both churners found among the top 3


def test_calibration_table_observed_rate_per_uniform_bin():
    t = calibration_table(Y, {"model": P}, n_bins=2)
    # bin [0, .5): p=0.1 (no churn); bin [.5, 1]: 0.9, 0.8, 0.7 (2 of 3 churn)
    assert t["model"].tolist() == pytest.approx([0.0, 2 / 3])
    assert t["predicted"].tolist() == [0.25, 0.75]
    empty = calibration_table(Y, {"model": np.full(4, 0.95)}, n_bins=2)
    assert np.isnan(empty["model"].iloc[0])
