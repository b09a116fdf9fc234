"""Why a customer is at risk: reasons per concept, strengths, drivers, SHAP values."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pipeline.explain import (
    concept_drivers,
    drivers_by_type,
    family_drivers,
    global_drivers,
    reasons,
    shap_values,
)
from pipeline.progress import Progress
from pipeline.train import BGNBD_FEATURE, ChurnScore, Design

NA = np.nan
FEATURES = [
    "days_since_last_order",
    "overdue_ratio",
    "sessions_30d",
    "orders_30d",
    "complaints_unresolved_now",
    "complaint_open_days_max_now",
    "points_balance",
    "region",
    "spend_trend_90d",
    "referrals_made",
]


def shap(rows: list[list[float]], index=None) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=FEATURES, index=index)
    out["_base"] = -1.0
    return out


@pytest.fixture
def customers() -> pd.DataFrame:
    """Three customers' features, in another row order than the SHAP frames."""
    return pd.DataFrame(
        {
            "customer_id": ["z", "y", "x"],
            "days_since_last_order": [3.0, 60.0, 102.0],
            "order_gap_mean_days": [20.0, 15.0, 21.0],
            "overdue_ratio": [0.15, 4.0, 4.9],
            "sessions_30d": [5.0, 0.0, 1.0],
            "sessions_90d": [12.0, 6.0, 1.0],
            "orders_30d": [1.0, 0.0, 0.0],
            "order_rate_per_30d": [1.5, 2.0, 1.4],
            "complaints_unresolved_now": [0.0, 1.0, 0.0],
            "complaint_open_days_max_now": [NA, 34.0, NA],
            "points_balance": [2500.0, 0.0, 50.0],
            "orders_total": [30.0, 12.0, 9.0],
            "region": ["north", "south", "north"],
            "spend_trend_90d": [0.5, -1.0, -0.2],
            "spend_90d": [300.0, 0.0, 40.0],
            "referrals_made": [2.0, 0.0, 0.0],
        },
        index=[12, 11, 10],
    )


def test_one_reason_per_concept_summed_within_the_concept(customers) -> None:
    values = shap(
        [
            # x: recency 0.5 + 0.25 + 0.125 (three features, one concept) beats the
            # single biggest feature (orders_30d 0.6); region is bigger still but context
            [0.5, 0.25, 0.125, 0.6, 0.0, 0.0, 0.1, 0.9, 0.0, 0.0],
        ],
        index=[10],
    )

    out = reasons(values, customers, k=3).loc[10]

    assert [out["reason_concept_1"], out["reason_concept_2"], out["reason_concept_3"]] == [
        "recency_visits",
        "switching_costs",
        None,
    ]
    # said by the concept's strongest feature, against the customer's own norm
    assert out["reason_1"] == "last order 102 days ago; usually every 21 days"
    # the rhythm concept's "no orders in the last 30 days; usually 1.4 a month" only
    # restates the silence: the next concept takes its slot (no other raises the risk)
    assert out["reason_2"] == "only 50 loyalty points banked"  # not said as a strength
    assert pd.isna(out["reason_3"])


def test_no_two_reasons_of_one_concept_and_never_context(customers) -> None:
    rng = np.random.default_rng(1)
    values = shap(rng.normal(0, 1, (3, len(FEATURES))).tolist(), index=[10, 11, 12])
    values["region"] = 5.0  # the biggest push of all: still never a reason

    out = reasons(values, customers, k=3)

    concepts = out[["reason_concept_1", "reason_concept_2", "reason_concept_3"]]
    for _, row in concepts.iterrows():
        present = row.dropna().tolist()
        assert len(present) == len(set(present))
        assert "context" not in present
    said = out.filter(like="reason_").astype(str)
    assert not said.apply(lambda c: c.str.contains("north|south")).any().any()


def test_open_complaint_is_one_reason_not_two(customers) -> None:
    # both complaint features push: one complaint reason, with the complaint's age
    values = shap([[0.0, 0.0, 0.0, 0.0, 0.5, 0.4, 0.0, 0.0, 0.0, 0.0]], index=[11])

    out = reasons(values, customers, k=3).loc[11]

    assert out["reason_1"] == "1 complaint open for 34 days"
    assert out["reason_concept_1"] == "complaints"
    assert pd.isna(out["reason_2"]) and pd.isna(out["reason_concept_2"])


def test_a_strength_is_never_a_reason(customers) -> None:
    # z has 2,500 points and referred two customers: if the model pushes on them, the
    # concept has nothing to say, rather than call a strength a reason
    values = shap([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.6]], index=[12])

    out = reasons(values, customers, k=3).loc[12]

    assert out[["reason_1", "reason_2", "reason_3"]].isna().all()


def test_keeps_them_names_the_strongest_real_strength_only(customers) -> None:
    values = shap(
        [
            # z: points lower the risk most, then the on-schedule rhythm
            [-0.3, 0.0, 0.0, 0.0, 0.0, 0.0, -0.8, 0.0, 0.0, -0.1],
            # y: spend fell to nothing and that "lowers" the risk: never a strength
            [0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.9, 0.0],
        ],
        index=[12, 11],
    )

    out = reasons(values, customers, k=2)

    assert out.loc[12, "keeps_them"] == "2,500 loyalty points banked"
    assert pd.isna(out.loc[11, "keeps_them"])


def test_rhythm_on_schedule_is_a_strength_not_a_reason(customers) -> None:
    values = shap([[-0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], index=[12])

    out = reasons(values, customers, k=1).loc[12]

    assert out["keeps_them"] == "on schedule: last order 3 days ago, usually every 20 days"
    assert pd.isna(out["reason_1"])


def test_reasons_are_vectorised_and_row_aligned(customers) -> None:
    big = pd.concat([customers] * 2000, ignore_index=True)
    rng = np.random.default_rng(7)
    values = shap(rng.normal(0, 1, (len(big), len(FEATURES))).tolist())

    out = reasons(values, big, k=3)

    assert out.index.equals(values.index)
    # each row's reasons come from its own customer: x's last order is 102 days ago
    recency = out["reason_concept_1"].eq("recency_visits") & big["customer_id"].eq("x")
    said = out.loc[recency, "reason_1"]
    assert said.str.startswith(("last order 102 days ago", "1 visit", "last visit")).all()


# ------------------------------------------------------------------------ drivers

FAMILIES = {n: "f_" + n.split("_")[0] for n in FEATURES}


def test_global_drivers_mean_absolute_shap_with_family_and_concept(customers) -> None:
    values = shap([[1.0] + [0.0] * 9, [-0.5] + [0.0] * 8 + [0.25]])

    out = global_drivers(values, FAMILIES)

    assert out.loc[0].to_dict() == {
        "feature": "days_since_last_order",
        "mean_abs_shap": 0.75,
        "family": "f_days",
        "concept": "recency_visits",
    }
    assert out.loc[1, "feature"] == "referrals_made"
    assert out.loc[1, "concept"] == "tenure"


def test_family_drivers_sum_members_per_row_before_taking_abs() -> None:
    values = shap([[0.75, 0.25] + [0.0] * 8, [-0.25, 0.25] + [0.0] * 8])
    fam = {
        n: "recency" if n in ("days_since_last_order", "overdue_ratio") else n for n in FEATURES
    }

    out = family_drivers(values, fam)

    assert out.loc[0].to_dict() == {"family": "recency", "mean_abs_shap": 0.5}


def test_drivers_by_type_signed_means_per_type() -> None:
    values = shap([[1.0] + [0.0] * 9, [-0.5] + [0.0] * 9, [0.5] + [0.0] * 9])
    fam = {n: "a" if n == "days_since_last_order" else "b" for n in FEATURES}

    out = drivers_by_type(values, fam, pd.Series(["p", "q", "p"], index=[5, 6, 7]))

    got = out.set_index(["loyalty_type", "family"])
    assert got.loc[("p", "a"), "mean_shap"] == 0.75
    assert got.loc[("q", "a"), "mean_shap"] == -0.5
    assert got.loc[("p", "a"), "customers"] == 2
    assert out["customers"].dtype == "int64"


def test_concept_drivers_share_and_direction(customers) -> None:
    rows = pd.concat([customers] * 10, ignore_index=True)
    days = rows["days_since_last_order"].to_numpy()
    contributions = np.zeros((len(rows), len(FEATURES)))
    contributions[:, 0] = (days - days.mean()) / 50  # later order -> higher risk
    contributions[:, 6] = 0.1 * np.sign(rows["points_balance"].to_numpy() - 1000)
    values = shap(contributions.tolist())

    out = concept_drivers(values, rows)

    first = out.iloc[0]
    assert first["concept"] == "recency_visits" and first["direction"] == "higher"
    assert first["top_feature"] == "days_since_last_order"
    assert out["share"].sum() == pytest.approx(1.0)
    assert "context" not in set(out["concept"])


def test_concept_drivers_name_only_data_the_shop_records(customers) -> None:
    """A shop with no visits or referrals recorded (an orders-only export) is not told
    its risk moves with "whether they still visit the shop" or "whether the customer
    recommends the shop": those concepts are named by what it does record."""
    rows = pd.concat([customers] * 10, ignore_index=True)
    contributions = np.zeros((len(rows), len(FEATURES)))
    contributions[:, 0] = (rows["days_since_last_order"].to_numpy() - 50) / 50
    contributions[:, 2] = 0.01 * rows["sessions_30d"].to_numpy()
    contributions[:, 9] = 0.05 * rows["referrals_made"].to_numpy()
    values = shap(contributions.tolist())

    full = concept_drivers(values, rows).set_index("concept")
    bare = rows.assign(sessions_30d=np.nan, sessions_90d=np.nan, referrals_made=np.nan)
    short = concept_drivers(values, bare).set_index("concept")

    assert full.loc["recency_visits", "label"] == "Recency and visits"
    assert "visit" in full.loc["recency_visits", "covers"]
    assert full.loc["tenure", "label"] == "Tenure and advocacy"
    assert short.loc["recency_visits", "label"] == "Recency"
    assert short.loc["tenure", "label"] == "Tenure"
    assert not short["covers"].str.contains("visit|recommend").any(), short["covers"]
    # the figures are the same; only the words change
    pd.testing.assert_series_equal(full["share"], short["share"])


# ----------------------------------------------------------------------- shap_values


def test_shap_values_add_up_to_the_raw_score_in_any_batch_size() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] + 0.5 * rng.normal(size=200) > 0).astype(int)
    params = {"objective": "binary", "num_threads": 1, "verbose": -1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=5)
    design = Design(features=("a", "b"), categories={})
    rows = x.head(7).set_axis([7, 3, 9, 1, 2, 8, 4])

    score = ChurnScore(booster, design)

    with Progress("test", 3, unit="batches") as progress:
        out = shap_values(score, rows, batch_size=3, progress=progress)
    whole = shap_values(score, rows)

    assert progress.done == 3
    pd.testing.assert_frame_equal(out, whole)
    assert out.columns.tolist() == ["a", "b", "_base"]
    assert out.index.tolist() == [7, 3, 9, 1, 2, 8, 4]
    np.testing.assert_allclose(
        out.sum(axis=1).to_numpy(), booster.predict(rows, raw_score=True), rtol=1e-9
    )


def test_a_blend_with_bgnbd_is_explained_to_the_last_digit() -> None:
    """BG/NBD's part goes to its own feature; the parts add up to the shipped log-odds."""
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=300), BGNBD_FEATURE: rng.uniform(0.05, 0.95, size=300)})
    y = (x["a"] + 2 * x[BGNBD_FEATURE] + 0.5 * rng.normal(size=300) > 1).astype(int)
    params = {"objective": "binary", "num_threads": 1, "verbose": -1, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=5)
    design = Design(features=("a", BGNBD_FEATURE), categories={})
    score = ChurnScore(booster, design, bgnbd_weight=0.4, bgnbd_reference=-0.2)
    rows = x.head(20).copy()
    rows.loc[rows.index[:3], BGNBD_FEATURE] = np.nan  # no BG/NBD: the trees alone
    out = shap_values(score, rows)
    np.testing.assert_allclose(out.sum(axis=1).to_numpy(), score.log_odds(rows), rtol=1e-9)
    trees = shap_values(ChurnScore(booster, design), rows)
    pd.testing.assert_frame_equal(out.iloc[:3], trees.iloc[:3])
    # the trees' parts shrink by the blend weight where BG/NBD takes its share
    np.testing.assert_allclose(out["a"].iloc[3:], 0.6 * trees["a"].iloc[3:], rtol=1e-9)


def test_a_long_choice_time_is_said_against_the_shops_median() -> None:
    """The review's finding: "takes 43 minutes from visit to order" was the first reason
    of 172 of the call list's 500, with nothing to compare it with. Against the median
    of everyone scored (computed once, so the same whoever else is explained); without
    it, or when the customer is quicker than the median, the customer's own value."""
    from pipeline.explain import shop_norms

    everyone = pd.DataFrame({"choice_time_mean_minutes_365d": [5.0, 10.0, 12.0, 43.0, 8.0, NA]})
    shop = shop_norms(everyone)
    assert shop == {"shop_choice_time_minutes": 10.0}
    frame = everyone.iloc[[3, 0]]
    values = pd.DataFrame({"choice_time_mean_minutes_365d": [0.4, 0.4], "_base": -1.0})
    values.index = frame.index

    out = reasons(values, frame, k=1, shop=shop)["reason_1"].tolist()
    assert out == [
        "takes 43 minutes from visit to order; half the shop's customers take under 10",
        "takes 5 minutes from visit to order",
    ]
    assert (
        reasons(values, frame, k=1)["reason_1"].iloc[0] == "takes 43 minutes from visit to order"
    )
    assert shop_norms(pd.DataFrame({"x": [1.0]})) == {}


def test_a_resolved_complaint_kept_beside_an_open_one_is_said_as_past() -> None:
    """The review's finding: a win-back row said "1 complaint open for 314 days" and, as
    what keeps them, "complaint resolved to their satisfaction (4/5)"."""
    frame = pd.DataFrame(
        {
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [314.0],
            "complaint_satisfaction_mean_365d": [4.0],
        }
    )
    values = pd.DataFrame(
        {
            "complaints_unresolved_now": [0.5],
            "complaint_open_days_max_now": [0.0],
            "complaint_satisfaction_mean_365d": [-0.3],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "1 complaint open for 314 days"
    assert out["keeps_them"] == "a past complaint resolved to their satisfaction (4/5)"


def test_the_usual_gap_is_said_once_and_the_next_concept_takes_the_slot() -> None:
    """A win-back row read "last order 131 days ago; usually every 5 days" and then
    "orders every 5 days, give or take 5 days": one of three reasons spent on a
    restatement. The rhythm reason gives way to the next concept's."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [131.0],
            "order_gap_mean_days": [5.0],
            "order_gap_std_days": [5.0],
            "orders_total": [12.0],
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [34.0],
        }
    )
    values = pd.DataFrame(
        {
            "days_since_last_order": [0.9],
            "order_gap_std_days": [0.5],
            "complaints_unresolved_now": [0.2],
            "complaint_open_days_max_now": [0.0],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "last order 131 days ago; usually every 5 days"
    assert out["reason_2"] == "1 complaint open for 34 days"
    assert out["reason_concept_2"] == "complaints"
    # alone, the rhythm reason is said
    alone = reasons(values.drop(columns="days_since_last_order"), frame, k=2).iloc[0]
    assert alone["reason_1"] == "orders every 5 days, give or take 5 days"


def test_a_window_of_silence_is_not_said_again_beside_the_silence() -> None:
    """Reviewed on a shop's list: 997 of 2,910 rows paired "last order 183 days ago;
    usually every 18 days" with "no spend in the last 180 days" (and "no orders in the
    last 90 days; usually 4.5 orders"): three ways of saying one silence. Beside the
    recency reason they give way to the next concept's; alone, they are said."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [183.0],
            "order_gap_mean_days": [18.0],
            "orders_total": [12.0],
            "purchase_days_total": [12.0],
            "orders_90d": [0.0],
            "order_rate_per_30d": [1.5],
            "spend_trend_90d": [NA],
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [34.0],
        }
    )
    values = pd.DataFrame(
        {
            "days_since_last_order": [0.9],
            "orders_90d": [0.6],
            "spend_trend_90d": [0.5],
            "complaints_unresolved_now": [0.2],
            "complaint_open_days_max_now": [0.0],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "last order 183 days ago; usually every 18 days"
    assert out["reason_2"] == "1 complaint open for 34 days"
    alone = reasons(values.drop(columns="days_since_last_order"), frame, k=2).iloc[0]
    assert alone["reason_1"] == "no orders in the last 90 days; usually 4.5 orders"
    assert alone["reason_2"] == "no spend in the last 180 days"
    # and its spend said as a figure: "spent 0.00 in the last 90 days; 3,942.89 a quarter
    # on average in the nine months before" beside "last order 101 days ago" (reviewed)
    frame = frame.assign(
        days_since_last_order=101.0,
        spend_90d=0.0,
        spend_365d=11_828.67,
        first_order_age_days=500.0,
        tenure_days=500.0,
    )
    values = values.drop(columns="spend_trend_90d").assign(spend_90d=0.5)
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "last order 101 days ago; usually every 18 days"
    assert out["reason_2"] == "1 complaint open for 34 days"


def test_two_days_of_purchases_are_said_once() -> None:
    """Reviewed: "ordered on 2 days in 3 months as a customer" beside the recency
    reason that says it already."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [79.0],
            "order_gap_mean_days": [2.0],
            "orders_total": [3.0],
            "purchase_days_total": [2.0],
            "tenure_days": [81.0],
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [34.0],
        }
    )
    values = pd.DataFrame(
        {
            "days_since_last_order": [0.9],
            "purchase_days_total": [0.5],
            "complaints_unresolved_now": [0.2],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "last order 79 days ago, 2 days after their first"
    assert out["reason_2"] == "1 complaint open for 34 days"


def test_a_customer_on_schedule_gets_no_recency_reason_from_bgnbd() -> None:
    """83 customers had "last order 58 days ago; usually every 81 days" as a reason (said
    by BG/NBD's chance of no purchase) and "on schedule: last order 58 days ago, usually
    every 81 days" as what keeps them."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [58.0],
            "order_gap_mean_days": [81.0],
            "orders_total": [5.0],
            "bgnbd_p_no_purchase": [0.6],
        }
    )
    values = pd.DataFrame(
        {"days_since_last_order": [-0.4], "bgnbd_p_no_purchase": [0.7], "_base": [-1.0]}
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert pd.isna(out["reason_1"])
    assert out["keeps_them"] == "on schedule: last order 58 days ago, usually every 81 days"


def test_a_late_visit_of_a_customer_on_schedule_says_the_visit_only() -> None:
    # "last visit 51 days ago; last order 57 days ago, usually every 97 days" as a reason
    # beside "on schedule: last order 57 days ago, usually every 97 days"
    frame = pd.DataFrame(
        {
            "days_since_last_session": [51.0, 51.0, 51.0],
            "days_since_last_order": [57.0, 130.0, 57.0],
            "order_gap_mean_days": [97.0, 97.0, NA],
            "orders_total": [5.0, 5.0, 1.0],
        }
    )
    values = pd.DataFrame(
        {
            "days_since_last_session": [0.6, 0.6, 0.6],
            "days_since_last_order": [-0.2, 0.1, 0.0],
            "_base": [-1.0, -1.0, -1.0],
        }
    )
    out = reasons(values, frame, k=1)
    assert out["reason_1"].tolist() == [
        "last visit 51 days ago",
        "last visit 51 days ago; last order 130 days ago, usually every 97 days",
        "last visit 51 days ago; one order so far, 57 days ago",
    ]
    assert out.loc[0, "keeps_them"] == "on schedule: last order 57 days ago, usually every 97 days"


def test_what_keeps_them_is_not_also_a_reason() -> None:
    """12798 read "usually orders every 251 days" as a reason and "on schedule: ...,
    usually every 251 days" as what keeps them."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [60.0],
            "order_gap_mean_days": [251.0],
            "orders_total": [4.0],
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [20.0],
        }
    )
    values = pd.DataFrame(
        {
            "order_gap_mean_days": [0.5],
            "days_since_last_order": [-0.3],
            "complaints_unresolved_now": [0.2],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["keeps_them"] == "on schedule: last order 60 days ago, usually every 251 days"
    assert out["reason_1"] == "1 complaint open for 20 days"
    assert pd.isna(out["reason_2"])


def test_a_customer_silent_for_a_whole_horizon_is_never_on_schedule() -> None:
    """30 of 166 on the real shop's win-back list were said to be "on schedule"."""
    frame = pd.DataFrame(
        {"days_since_last_order": [120.0, 60.0], "order_gap_mean_days": [251.0, 251.0]}
    )
    values = pd.DataFrame({"days_since_last_order": [-0.3, -0.3], "_base": [-1.0, -1.0]})
    assert reasons(values, frame, k=1)["keeps_them"].notna().tolist() == [True, True]
    kept = reasons(values, frame, k=1, horizon_days=90)["keeps_them"]
    assert kept.isna().tolist() == [True, False]


def test_one_day_of_purchases_is_said_once() -> None:
    # "bought on a single day so far" beside "one order so far, 53 days ago"
    frame = pd.DataFrame(
        {
            "days_since_last_order": [53.0],
            "orders_total": [1.0],
            "purchase_days_total": [1.0],
            "order_gap_mean_days": [NA],
            "points_balance": [0.0],
        }
    )
    values = pd.DataFrame(
        {
            "order_gap_mean_days": [0.6],
            "days_since_last_order": [0.5],
            "points_balance": [0.1],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert [out["reason_1"], out["reason_2"]] == [
        "one order so far, 53 days ago",
        "no loyalty points banked",
    ]


def test_a_value_under_the_shops_median_is_no_reason_where_the_model_says_more_is_riskier():
    """Reviewed twice: 1,494 reasons read "customer for 10 months; half the shop's
    customers for over 20 months" beside the report's "length of the relationship, the
    longer, the riskier": the model's risk rose with tenure on that shop, and the reason
    blamed a short one. Where the model agrees that less is worse, the comparison stays."""
    tenure = [300.0, 400.0, 500.0, 700.0, 900.0]
    frame = pd.DataFrame({"tenure_days": tenure, "first_order_age_days": tenure})
    shop = {"shop_tenure_days": 600.0}
    riskier_when_longer = pd.DataFrame(
        {"tenure_days": [0.1, 0.2, 0.3, 0.4, 0.5], "_base": -1.0}, index=frame.index
    )
    said = reasons(riskier_when_longer, frame, k=1, shop=shop)["reason_1"]
    assert said[0] == "customer for 10 months"  # no "half the shop's customers for over"
    assert not said.str.contains("half the shop's", na=False).any()
    riskier_when_shorter = riskier_when_longer.assign(tenure_days=[0.5, 0.4, 0.3, 0.2, 0.1])
    said = reasons(riskier_when_shorter, frame, k=1, shop=shop)["reason_1"]
    assert said[0] == "customer for 10 months; half the shop's customers for over 20 months"


def test_the_tenure_is_not_said_again_beside_a_recency_that_says_it() -> None:
    """Reviewed on Online Retail: "last order 79 days ago, 2 days after their first"
    beside "customer for 3 months" on 159 rows: the second gives way."""
    frame = pd.DataFrame(
        {
            "days_since_last_order": [79.0],
            "order_gap_mean_days": [2.0],
            "orders_total": [2.0],
            "purchase_days_total": [2.0],
            "first_order_age_days": [81.0],
            "tenure_days": [81.0],
            "complaints_unresolved_now": [1.0],
            "complaint_open_days_max_now": [34.0],
        }
    )
    values = pd.DataFrame(
        {
            "days_since_last_order": [0.9],
            "tenure_days": [0.5],
            "complaints_unresolved_now": [0.2],
            "complaint_open_days_max_now": [0.0],
            "_base": [-1.0],
        }
    )
    out = reasons(values, frame, k=2).iloc[0]
    assert out["reason_1"] == "last order 79 days ago, 2 days after their first"
    assert out["reason_2"] == "1 complaint open for 34 days"
