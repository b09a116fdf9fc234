"""BG/NBD by maximum likelihood: hand-computed probabilities, simulated recovery,
agreement with pymc-marketing (the slow reference), and the per-cutoff features."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from pipeline import clv
from pipeline.clv import BgNbd, bgnbd_features, fit_at_cutoffs, fit_bgnbd


def _arrays(rows: list[tuple[float, float, float]]) -> tuple[np.ndarray, ...]:
    return tuple(np.array([r[i] for r in rows], dtype=float) for i in range(3))


def test_p_no_purchase_hand_computed() -> None:
    model = BgNbd(r=1.0, alpha=10.0, a=1.0, b=2.0)
    x, t_x, T = _arrays([(0.0, 0.0, 10.0), (1.0, 10.0, 20.0)])
    # x = 0, T = 10, t = 20: alive for sure; ((alpha + T) / (alpha + T + t))^r = 20/40.
    # x = 1, t_x = 10, T = 20, t = 20:
    #   odds(dead) = a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) = 1/2 * 1.5^2 = 1.125
    #   P(alive) = 1 / 2.125; P(quiet | alive) = (30 / 50)^2 = 0.36
    #   P = 1.125 / 2.125 + 0.36 / 2.125 = 1.485 / 2.125
    got = model.p_no_purchase(x, t_x, T, horizon_days=20.0)
    np.testing.assert_allclose(got, [0.5, 1.485 / 2.125], rtol=1e-12)
    np.testing.assert_allclose(model.p_alive(x, t_x, T), [1.0, 1 / 2.125], rtol=1e-12)
    np.testing.assert_allclose(model.rate_if_alive(x, T), [1 / 20, 2 / 30], rtol=1e-12)


def test_p_no_purchase_orders_customers_sensibly() -> None:
    model = BgNbd(r=0.5, alpha=20.0, a=0.8, b=3.0)
    x, t_x, T = _arrays(
        [
            (10.0, 355.0, 365.0),  # frequent, bought 10 days ago
            (10.0, 100.0, 365.0),  # frequent, silent for 265 days
            (1.0, 5.0, 365.0),  # one repeat long ago
            (0.0, 0.0, 365.0),  # never came back
            (np.nan, np.nan, np.nan),  # no order before the cutoff
        ]
    )
    prob = model.p_no_purchase(x, t_x, T, horizon_days=90.0)
    assert np.all((prob[:4] >= 0) & (prob[:4] <= 1))
    assert math.isnan(prob[4])
    assert prob[0] < prob[1]
    assert prob[0] < prob[2]
    # A longer horizon can only make "no purchase" less likely.
    longer = model.p_no_purchase(x[:4], t_x[:4], T[:4], horizon_days=180.0)
    assert np.all(longer <= prob[:4])


def test_bad_inputs_are_named() -> None:
    model = BgNbd(r=1.0, alpha=10.0, a=1.0, b=2.0)
    with pytest.raises(ValueError, match="horizon_days"):
        model.p_no_purchase(*_arrays([(0.0, 0.0, 1.0)]), horizon_days=0.0)
    with pytest.raises(ValueError, match=r"0 <= t_x <= T.*t_x=\[5.0\]"):
        model.p_no_purchase(*_arrays([(1.0, 5.0, 1.0)]), horizon_days=30.0)
    with pytest.raises(ValueError, match="alpha must be a positive"):
        BgNbd(r=0.5, alpha=-1.0, a=0.8, b=3.0)
    with pytest.raises(ValueError, match="no repeat purchase among 2 customers"):
        fit_bgnbd(*_arrays([(0.0, 0.0, 10.0), (0.0, 0.0, 20.0)]))


def test_parameters_round_trip_through_json() -> None:
    model = BgNbd(r=0.5, alpha=20.0, a=0.8, b=3.0)
    assert BgNbd.from_dict(json.loads(json.dumps(model.to_dict()))) == model
    with pytest.raises(ValueError, match="lack"):
        BgNbd.from_dict({"r": 1.0})


def _simulate(
    n: int, *, r: float, alpha: float, a: float, b: float, horizon: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers from the BG/NBD story, first purchase at 0, observed to T, then horizon."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout = rng.beta(a, b, size=n)
    T = rng.uniform(30.0, 365.0, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    quiet = np.zeros(n, dtype=bool)
    for i in range(n):
        t, count, last, future = 0.0, 0, 0.0, 0
        while True:
            t += rng.exponential(1.0 / rate[i])
            if t > T[i] + horizon:
                break
            if t <= T[i]:
                count, last = count + 1, t
            else:
                future += 1
            if rng.uniform() < dropout[i]:  # drops out right after a repeat purchase
                break
        x[i], t_x[i], quiet[i] = count, last, future == 0
    return x, t_x, T, quiet


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return _simulate(4_000, r=0.8, alpha=100.0, a=0.5, b=4.0, horizon=90.0, seed=1)


def test_gradient_is_the_likelihoods(simulated) -> None:
    x, t_x, T, _ = simulated

    def value(p):
        return clv._negative_log_likelihood(p, x, t_x, T)[0]

    def grad(p):
        return clv._negative_log_likelihood(p, x, t_x, T)[1]

    at = np.log([0.7, 80.0, 0.6, 3.0])
    assert check_grad(value, grad, at) < 1e-4 * np.linalg.norm(grad(at))


def test_fit_recovers_simulated_parameters_and_predicts_who_stays_quiet(simulated) -> None:
    x, t_x, T, quiet = simulated
    model = fit_bgnbd(x, t_x, T)
    assert model.r == pytest.approx(0.8, rel=0.15)
    assert model.alpha == pytest.approx(100.0, rel=0.15)
    # a and b are weakly identified one by one; the mean dropout probability is not.
    assert model.a / (model.a + model.b) == pytest.approx(0.5 / 4.5, rel=0.3)
    prob = model.p_no_purchase(x, t_x, T, horizon_days=90.0)
    assert roc_auc_score(quiet, prob) > 0.68
    assert spearmanr(prob, quiet).statistic > 0.3
    assert prob.mean() == pytest.approx(quiet.mean(), abs=0.03)
    one_timers = x == 0
    assert prob[one_timers].mean() == pytest.approx(quiet[one_timers].mean(), abs=0.04)


def test_fit_agrees_with_pymc_marketing(simulated) -> None:
    """pymc-marketing's BetaGeoModel with flat priors (MAP = MLE) is the reference."""
    pytest.importorskip("pymc_marketing")
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel

    x, t_x, T, _ = simulated
    data = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "recency": t_x, "T": T})
    reference = BetaGeoModel(model_config={k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")})
    reference.fit(data=data, method="map", progressbar=False)
    theirs = {
        k: float(np.asarray(reference.fit_result[k]).reshape(-1)[0])
        for k in ("r", "alpha", "a", "b")
    }
    ours = fit_bgnbd(x, t_x, T).to_dict()
    for name in ("r", "alpha", "a", "b"):
        assert ours[name] == pytest.approx(theirs[name], rel=2e-3), name
    model = BgNbd(**theirs)
    mine = model.p_no_purchase(x, t_x, T, horizon_days=90.0)
    alive = np.asarray(reference.expected_probability_alive(data=data)).reshape(-1)
    no_purchase = np.asarray(reference.expected_probability_no_purchase(90, data=data)).reshape(-1)
    repeat = x > 0
    np.testing.assert_allclose(model.p_alive(x, t_x, T)[repeat], alive[repeat], rtol=1e-6)
    np.testing.assert_allclose(mine[repeat], no_purchase[repeat], rtol=1e-6)
    # One-time buyers are alive for sure, so P(no purchase) is the Gamma-Poisson term;
    # pymc-marketing 0.19 adds a spurious "dead" term for them.
    np.testing.assert_allclose(alive[~repeat], 1.0)
    expected = ((theirs["alpha"] + T[~repeat]) / (theirs["alpha"] + T[~repeat] + 90.0)) ** theirs[
        "r"
    ]
    np.testing.assert_allclose(mine[~repeat], expected, rtol=1e-12)


def test_large_fits_use_a_seeded_sample(simulated) -> None:
    x, t_x, T, _ = simulated
    small = fit_bgnbd(x, t_x, T, max_rows=1_000, seed=3)
    assert small == fit_bgnbd(x, t_x, T, max_rows=1_000, seed=3)
    assert small != fit_bgnbd(x, t_x, T)
    assert small.r == pytest.approx(0.8, rel=0.3)


def test_features_of_one_cutoff_come_from_its_model_and_rows(simulated) -> None:
    x, t_x, T, quiet = simulated
    frame = pd.DataFrame(
        {
            "purchase_days_total": x + 1,
            "first_order_age_days": T,
            "days_since_last_order": T - t_x,
        }
    )
    model = fit_bgnbd(x, t_x, T)
    out = bgnbd_features(frame, model, horizon_days=90)
    assert list(out.columns) == list(clv.FEATURES)
    assert out.index.equals(frame.index)
    assert out.notna().all().all()
    assert roc_auc_score(quiet, out["bgnbd_p_no_purchase"]) > 0.68
    np.testing.assert_allclose(
        out["bgnbd_p_no_purchase"], model.p_no_purchase(x, t_x, T, horizon_days=90)
    )
    assert (out["bgnbd_p_alive"] <= 1).all() and (out["bgnbd_p_alive"] > 0).all()
    # no model (nobody came back before the cutoff): the features stay empty
    assert bgnbd_features(frame, None, horizon_days=90).isna().all().all()


def test_fits_at_cutoffs_read_only_the_orders_before_each():
    rng = np.random.default_rng(4)
    n = 3000
    first = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.uniform(0, 200, n), unit="D")
    gaps = pd.to_timedelta(rng.exponential(40, (n, 6)).cumsum(axis=1).ravel(), unit="D")
    orders = pd.DataFrame(
        {
            "customer_id": np.repeat([f"c{i}" for i in range(n)], 7),
            "ordered_at": np.column_stack(
                [
                    first.to_numpy(),
                    (np.repeat(first.to_numpy(), 6) + gaps.to_numpy()).reshape(n, 6),
                ]
            ).ravel(),
        }
    )
    cutoffs = [pd.Timestamp("2023-06-01"), pd.Timestamp("2023-09-01")]
    models = fit_at_cutoffs(orders, cutoffs)
    later = orders["ordered_at"] >= cutoffs[0]
    scrambled = orders.copy()
    scrambled.loc[later, "ordered_at"] += pd.Timedelta(days=13)
    assert fit_at_cutoffs(scrambled, cutoffs[:1])[cutoffs[0]] == models[cutoffs[0]]
    assert models[cutoffs[0]] != models[cutoffs[1]]
    day_one = pd.Timestamp("2023-01-02")
    assert fit_at_cutoffs(orders, [day_one])[day_one] is None
    sample = clv.sample_customers(orders["customer_id"], max_customers=100, seed=1)
    assert len(sample) == 100 and sample.is_unique
    assert sample.equals(clv.sample_customers(orders["customer_id"], max_customers=100, seed=1))
