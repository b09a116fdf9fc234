"""Uplift from randomised arms: planted effects recovered, plays chosen, Qini exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.train import Design
from pipeline.uplift import (
    auuc,
    bootstrap_saved_difference,
    choose_plays,
    fit_plays,
    qini_curve,
    saved_at,
)


def _campaign(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers with planted effects: persuadables, sure things and sleeping dogs."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 1, n)
    complaint = rng.random(n) < 0.3
    kind = rng.choice(["premium", "price", "inertia"], n)
    base = 0.2 + 0.5 * recency
    # a service call keeps customers with an open complaint; it puts premium ones off
    effect = np.where(complaint, 0.25, 0.0) - np.where(kind == "premium", 0.12, 0.0)
    arm = np.where(rng.random(n) < 0.6, "treatment", "control")
    p = np.clip(base - effect * (arm == "treatment"), 0.01, 0.99)
    frame = pd.DataFrame(
        {
            "recency": recency,
            "complaint": complaint.astype(float),
            "kind": kind,
            "noise": rng.normal(size=n),
            "arm": arm,
            "play": "service_call",
            "churned": (rng.random(n) < p).astype(int),
        }
    )
    return frame, effect


DESIGN = Design(
    features=("recency", "complaint", "kind", "noise"),
    categories={"kind": ["inertia", "premium", "price"]},
)


@pytest.fixture(scope="module")
def fitted():
    train, _ = _campaign(16_000, seed=1)
    test, truth = _campaign(8_000, seed=2)
    model = fit_plays(train, DESIGN, plays=["service_call", "coupon"])
    return model, test, truth


def test_planted_effects_are_recovered(fitted):
    models, test, truth = fitted
    assert set(models) == {"service_call"}  # no coupon was ever sent: no model for it
    estimate = models["service_call"].effect(test)
    assert np.corrcoef(estimate, truth)[0, 1] > 0.7
    dogs = truth < 0
    assert estimate[dogs].mean() < -0.05
    assert estimate[truth > 0.2].mean() > 0.15


def test_targeting_by_uplift_saves_more_than_by_risk(fitted):
    models, test, truth = fitted
    estimate = models["service_call"].effect(test)
    churned, treated = test["churned"].to_numpy(), (test["arm"] == "treatment").to_numpy()
    risk = test["recency"].to_numpy()
    by_uplift = qini_curve(churned, treated, estimate)
    by_risk = qini_curve(churned, treated, risk)
    assert auuc(by_uplift) > auuc(by_risk) + 0.01
    gain = bootstrap_saved_difference(churned, treated, estimate, risk, share=0.2, n_boot=200)
    assert gain["low"] > 0
    # the oracle (true effects) is the ceiling; the model gets most of the way
    oracle = saved_at(churned, treated, truth, share=0.2)
    assert saved_at(churned, treated, estimate, share=0.2) > 0.7 * oracle


def test_qini_curve_hand_computed():
    # four customers, top two by score: one treated who stayed, one control who churned
    churned = np.array([0, 1, 1, 0])
    treated = np.array([True, False, True, False])
    score = np.array([0.9, 0.8, 0.2, 0.1])
    curve = qini_curve(churned, treated, score, points=5)
    # top 2: control churn rate 1/1 x 1 treated - 0 treated churners = 1 saved among the
    # treated, scaled to the 2 targeted: 2
    assert curve.loc[curve["share"] == 0.5, "saved"].item() == pytest.approx(2.0)
    # everyone: control rate 1/2 x 2 treated - 1 = 0
    assert curve["saved"].iloc[-1] == pytest.approx(0.0)
    assert saved_at(churned, treated, score, share=0.5) == pytest.approx((1 - 0) * 2 / 4)


def test_plays_chosen_by_net_saved_value():
    effects = {"coupon": np.array([0.10, 0.02, -0.05]), "call": np.array([0.05, 0.01, -0.01])}
    out = choose_plays(
        effects, value=np.array([100.0, 100.0, 100.0]), costs={"coupon": 5.0, "call": 1.0}
    )
    assert out["play"].tolist() == ["coupon", "no contact", "do not contact"]
    assert out["expected_saved_value"].tolist() == pytest.approx([5.0, 0.0, -2.0])
    assert out["uplift"].tolist() == pytest.approx([0.10, 0.01, -0.01])
