"""Tests for pipeline.baselines: recency rule, logistic baseline, BG/NBD."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from pipeline.baselines import (
    MedianImputer,
    RecencyRule,
    fit_logistic_baseline,
    fit_recency_rule,
    recency_rule_scores,
)
from pipeline.clv import bgnbd_summary

# --- recency rule -------------------------------------------------------------------------


def test_recency_rule_scores_are_rank_normalised() -> None:
    # Ranks 2.5, 1, 4, 2.5 (the two 10s share ranks 2 and 3) divided by 4.
    scores = recency_rule_scores([10, 0, 30, 10])
    np.testing.assert_allclose(scores, [0.625, 0.25, 1.0, 0.625])


@pytest.mark.parametrize(
    ("days", "match"), [([1.0, -2.0], ">= 0"), ([1.0, np.nan], ">= 0"), ([], "empty")]
)
def test_recency_rule_scores_reject_bad_days(days: list, match: str) -> None:
    with pytest.raises(ValueError, match=f"days_since_last_order.*{match}"):
        recency_rule_scores(days)


def _recency_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = rng.exponential(60.0, size=n).round()
    y = (rng.uniform(size=n) < expit(1.2 * np.log1p(days) - 4.5)).astype(int)
    return days, y


def test_fit_recency_rule_logistic_recovers_slope() -> None:
    days, y = _recency_sample(30_000, seed=0)
    rule = fit_recency_rule(days, y)
    assert rule.method == "logistic"
    assert rule.coef == pytest.approx(1.2, abs=0.08)
    assert rule.intercept == pytest.approx(-4.5, abs=0.3)
    proba = rule.predict_proba(np.array([0.0, 7.0, 30.0, 365.0]))
    assert proba.shape == (4, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(np.diff(proba[:, 1]) > 0)


def test_fit_recency_rule_isotonic_is_monotone_and_beats_base_rate() -> None:
    days, y = _recency_sample(5_000, seed=1)
    rule = fit_recency_rule(days, y, method="isotonic")
    churn = rule.predict_proba(pd.DataFrame({"days_since_last_order": np.sort(days)}))[:, 1]
    assert np.all(np.diff(churn) >= 0)
    brier_rule = np.mean((rule.predict_proba(days)[:, 1] - y) ** 2)
    brier_base = np.mean((y.mean() - y) ** 2)
    assert brier_rule < brier_base


def test_fit_recency_rule_refuses_to_invert() -> None:
    # Here long silence means *less* churn: the rule falls back to the base rate.
    days = np.array([1.0, 2.0, 3.0, 100.0, 200.0, 300.0])
    y = np.array([1, 1, 0, 0, 0, 0])
    rule = fit_recency_rule(days, y)
    np.testing.assert_allclose(rule.predict_proba(days)[:, 1], 2 / 6)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_recency_rule_json_round_trip(method: str) -> None:
    days, y = _recency_sample(2_000, seed=2)
    rule = fit_recency_rule(days, y, method=method)  # type: ignore[arg-type]
    restored = RecencyRule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert restored == rule
    np.testing.assert_array_equal(restored.predict_proba(days), rule.predict_proba(days))


def test_fit_recency_rule_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="y must contain both classes"):
        fit_recency_rule([1, 2, 3], [0, 0, 0])
    with pytest.raises(ValueError, match="y must be 1-D with 3 rows"):
        fit_recency_rule([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="method"):
        fit_recency_rule([1, 2, 3], [0, 1, 1], method="tree")  # type: ignore[arg-type]
    rule = fit_recency_rule([1, 2, 3, 4], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="'days_since_last_order' column"):
        rule.predict_proba(pd.DataFrame({"recency": [1.0]}))


# --- logistic baseline --------------------------------------------------------------------


def _feature_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "late_delivery_share_90d": np.where(rng.uniform(size=n) < 0.1, np.nan, signal),
            "orders_365d": pd.array(rng.integers(0, 20, size=n), dtype="Int64"),
            "has_complaint": rng.uniform(size=n) < 0.2,
            "channel": pd.array(rng.choice(["web", "app", None], size=n), dtype="str"),
            "loyalty_type": pd.Categorical(rng.choice(["premium", "price", "inertia"], size=n)),
        }
    )
    frame.loc[frame.index[:5], "orders_365d"] = pd.NA
    y = (rng.uniform(size=n) < expit(1.5 * signal - 0.5)).astype(int)
    return frame, y


def test_fit_logistic_baseline_handles_mixed_dtypes_and_missing() -> None:
    X, y = _feature_frame(3_000, seed=0)
    model = fit_logistic_baseline(X, y, seed=0)
    proba = model.predict_proba(X)[:, 1]
    assert roc_auc_score(y, proba) > 0.75
    # Scoring survives a category never seen in training and missing values everywhere.
    new = X.head(3).copy()
    new["channel"] = pd.array(["store", None, "web"], dtype="str")
    new["late_delivery_share_90d"] = np.nan
    out = model.predict_proba(new)[:, 1]
    assert out.shape == (3,) and np.all((out > 0) & (out < 1))


def test_fit_logistic_baseline_is_deterministic() -> None:
    X, y = _feature_frame(1_000, seed=1)
    first = fit_logistic_baseline(X, y, seed=7)
    second = fit_logistic_baseline(X, y, seed=7)
    np.testing.assert_array_equal(
        first.named_steps["logistic"].coef_, second.named_steps["logistic"].coef_
    )
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_fit_logistic_baseline_rejects_bad_input() -> None:
    X, y = _feature_frame(50, seed=2)
    with pytest.raises(ValueError, match="first_order_at"):
        fit_logistic_baseline(X.assign(first_order_at=pd.Timestamp("2024-01-01")), y, seed=0)
    with pytest.raises(ValueError, match="y must be 1-D with 50 rows"):
        fit_logistic_baseline(X, y[:10], seed=0)
    with pytest.raises(ValueError, match="X must be a pandas DataFrame"):
        fit_logistic_baseline(X.to_numpy(), y, seed=0)  # type: ignore[arg-type]


# --- BG/NBD summary -----------------------------------------------------------------------


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "A", "A", "B", "C"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",  # same day as the first: not a repeat purchase
                    "2024-01-05 12:00",
                    "2024-01-11 08:00",
                    "2024-02-01 00:00",  # at the cutoff: the future
                    "2024-02-03 10:00",  # after the cutoff
                    "2024-01-20 15:00",
                    "2024-02-01 00:00",  # C's only order is at the cutoff
                ]
            ),
            "amount": [10.0] * 8,
        }
    )


def test_bgnbd_summary_hand_computed() -> None:
    summary = bgnbd_summary(_orders(), cutoff=pd.Timestamp("2024-02-01"))
    # A: purchase days Jan 1, 5, 11 -> 2 repeats, last - first = 10 days, Feb 1 - Jan 1 = 31.
    # B: one purchase day (Jan 20) -> 0 repeats, recency 0, T = 12. C: nothing before cutoff.
    expected = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "frequency": [2.0, 0.0],
            "recency": [10.0, 0.0],
            "T": [31.0, 12.0],
        }
    )
    pd.testing.assert_frame_equal(summary, expected, check_dtype=False)
    assert summary[["frequency", "recency", "T"]].dtypes.eq("float64").all()


def test_bgnbd_summary_reads_canonical_dtypes() -> None:
    # The canonical orders table: pandas "string" ids and microsecond timestamps.
    orders = _orders().astype({"customer_id": "string", "ordered_at": "datetime64[us]"})
    summary = bgnbd_summary(orders, cutoff=pd.Timestamp("2024-02-01"))
    assert summary["customer_id"].tolist() == ["A", "B"]
    assert summary[["frequency", "recency", "T"]].to_numpy().tolist() == [
        [2.0, 10.0, 31.0],
        [0.0, 0.0, 12.0],
    ]


def test_bgnbd_summary_ignores_orders_at_or_after_cutoff() -> None:
    orders = _orders()
    cutoff = pd.Timestamp("2024-02-01")
    future = orders["ordered_at"] >= cutoff
    moved = orders.assign(
        ordered_at=orders["ordered_at"].where(~future, pd.Timestamp("2030-06-01"))
    )
    pd.testing.assert_frame_equal(
        bgnbd_summary(orders, cutoff=cutoff), bgnbd_summary(moved, cutoff=cutoff)
    )
    # Half a day later, C's midnight order counts, and T is measured to the cutoff time.
    later = bgnbd_summary(orders, cutoff=pd.Timestamp("2024-02-01 12:00"))
    assert later.set_index("customer_id").loc["C"].tolist() == [0.0, 0.0, 0.5]
    assert later.set_index("customer_id").loc["A"].tolist() == [3.0, 31.0, 31.5]


def test_bgnbd_summary_customer_ids_and_time_unit() -> None:
    summary = bgnbd_summary(
        _orders(), cutoff=pd.Timestamp("2024-02-01"), customer_ids=["C", "A"], time_unit_days=7.0
    )
    assert summary["customer_id"].tolist() == ["C", "A"]
    assert summary.iloc[0, 1:].isna().all()
    assert summary.iloc[1, 1:].tolist() == pytest.approx([2.0, 10 / 7, 31 / 7])


def _summary_by_groupby(orders: pd.DataFrame, cutoff: pd.Timestamp, unit: float) -> pd.DataFrame:
    # The plain pandas reading of the definition: what the fast path must equal, bit for bit.
    before = orders[orders["ordered_at"] < cutoff]
    g = before.assign(day=before["ordered_at"].dt.normalize()).groupby("customer_id")["day"]
    a = g.agg(first="min", last="max", n_days="nunique")
    one = pd.Timedelta(days=1) * unit
    out = pd.DataFrame(
        {
            "frequency": (a["n_days"] - 1).astype("float64"),
            "recency": (a["last"] - a["first"]) / one,
            "T": (cutoff - a["first"]) / one,
        }
    )
    return out.astype("float64").reset_index()


@pytest.mark.parametrize("kind", ["string", "object", "category", "tz"])
def test_bgnbd_summary_equals_the_groupby_definition(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    at = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h")
    ids = pd.Series([f"c{k:03d}" for k in rng.integers(0, 700, n)])
    orders = pd.DataFrame({"customer_id": ids, "ordered_at": at}).astype(
        {"ordered_at": "datetime64[us]"}
    )
    cutoff = pd.Timestamp("2023-11-20 06:00")
    if kind == "string":
        orders["customer_id"] = orders["customer_id"].astype("string")
    elif kind == "category":
        # categories in order of appearance, not sorted: the output must still be
        orders["customer_id"] = pd.Categorical(
            orders["customer_id"], categories=pd.unique(orders["customer_id"])
        )
    elif kind == "tz":
        orders["ordered_at"] = (
            orders["ordered_at"].dt.tz_localize("UTC").dt.tz_convert("Europe/London")
        )
        cutoff = cutoff.tz_localize("Europe/London")
    plain = orders.astype({"customer_id": "object"})
    for unit in (1.0, 7.0):
        got = bgnbd_summary(orders, cutoff=cutoff, time_unit_days=unit)
        want = _summary_by_groupby(plain, cutoff, unit)
        assert got["customer_id"].astype(str).tolist() == want["customer_id"].tolist()
        np.testing.assert_array_equal(
            got[["frequency", "recency", "T"]].to_numpy(),
            want[["frequency", "recency", "T"]].to_numpy(),
        )
    wanted = ["c010", "nobody", "c003", "c699"]
    got = bgnbd_summary(orders, cutoff=cutoff, customer_ids=wanted).set_index("customer_id")
    want = _summary_by_groupby(plain, cutoff, 1.0).set_index("customer_id").reindex(wanted)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())


def test_bgnbd_summary_rejects_bad_input() -> None:
    orders = _orders()
    cutoff = pd.Timestamp("2024-02-01")
    with pytest.raises(ValueError, match=r"orders lacks columns \['ordered_at'\]"):
        bgnbd_summary(orders.drop(columns="ordered_at"), cutoff=cutoff)
    with pytest.raises(ValueError, match="orders.ordered_at must be datetime"):
        bgnbd_summary(orders.assign(ordered_at="2024-01-01"), cutoff=cutoff)
    with pytest.raises(ValueError, match="orders.ordered_at has 1 missing"):
        holey = orders.assign(ordered_at=orders["ordered_at"].mask(orders.index == 2))
        bgnbd_summary(holey, cutoff=cutoff)
    with pytest.raises(ValueError, match="time zone"):
        bgnbd_summary(orders, cutoff=pd.Timestamp("2024-02-01", tz="UTC"))
    with pytest.raises(ValueError, match="customer_ids repeats"):
        bgnbd_summary(orders, cutoff=cutoff, customer_ids=["A", "A"])
    with pytest.raises(ValueError, match="time_unit_days"):
        bgnbd_summary(orders, cutoff=cutoff, time_unit_days=0.0)


# --- BG/NBD probability of no purchase ----------------------------------------------------


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_median_imputer_matches_scikit_learn_bit_for_bit() -> None:
    # The logistic baseline's figures must not move with the faster imputer: same
    # medians (odd and even counts of values), same indicator columns, an empty column
    # left out with its indicator kept, as SimpleImputer does.
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(3)
    X = np.round(rng.lognormal(size=(1_001, 6)), 2)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[:, 2] = np.nan  # no value at all
    X[:, 4] = rng.normal(size=1_001)  # never missing: no indicator
    X[::2, 5] = np.nan  # 500 values left: an even count, the median is a mean of two
    new = X[::-1].copy()
    new[0, 4] = np.nan  # missing at scoring only: imputed, still no indicator

    ours = MedianImputer().fit(X)
    theirs = SimpleImputer(strategy="median", add_indicator=True).fit(X)
    np.testing.assert_array_equal(ours.transform(X), theirs.transform(X))
    np.testing.assert_array_equal(ours.transform(new), theirs.transform(new))
    assert ours.transform(X).shape == (1_001, 5 + 5)


def test_median_imputer_rejects_infinite_values() -> None:
    X = np.array([[1.0, np.inf], [2.0, 3.0]])
    with pytest.raises(ValueError, match="1 infinite values"):
        MedianImputer().fit(X)


def test_logistic_baseline_reaches_its_optimum() -> None:
    # A baseline stopped short of its optimum is a different model on another CPU (with
    # L-BFGS the Online Retail logistic AUC moved 0.005 between two). On near-collinear
    # features, as the churn features are (orders and spend over nested windows), its
    # probabilities must be those of a fit run to a far tighter tolerance (L-BFGS at its
    # default tolerance is 0.001 away here, Newton's method 0.0001).
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    n = 20_000
    base = rng.normal(size=(n, 3))
    X = pd.DataFrame({f"x{i}": base[:, i % 3] + 0.002 * rng.normal(size=n) for i in range(30)})
    y = (rng.random(n) < expit(base @ [1.0, -0.5, 0.3] - 0.5)).astype(int)
    model = fit_logistic_baseline(X, y, seed=0)
    p = model.predict_proba(X)[:, 1]
    tight = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=100)
    q = model.set_params(logistic=tight).fit(X, y).predict_proba(X)[:, 1]
    assert np.abs(p - q).max() < 5e-4
