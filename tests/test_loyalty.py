"""The loyalty theory as code: rule tables, relationship stages and retention plays."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pipeline.loyalty import (
    BEHAVIOUR_RULES,
    PLAYS,
    SURVEY_RULES,
    assign_types,
    recommend_play,
    relationship_stage,
    situations,
)
from pipeline.schema import LOYALTY_TYPES

NA = np.nan
SURVEY_COLUMNS = [
    "main_reason",
    "attachment",
    "recommend",
    "orders_365d",
    "purchase_days_total",
    "promotion_day_order_share_365d",
]

# (main_reason, attachment, recommend, orders_365d, purchase days so far, promotion share)
#   -> type, matching rule
SURVEY_CASES = {
    "brand value, attached, advocate, repeat -> premium": (
        ("brand_value", 7, 9, 3, 3, NA),
        "premium",
        "high attachment and advocacy, and buys again: real loyalty",
    ),
    "recommend unknown counts as advocacy": (
        ("brand_value", 7, NA, 3, 3, NA),
        "premium",
        "high attachment and advocacy, and buys again: real loyalty",
    ),
    "brand value without advocacy -> later premium rule": (
        ("brand_value", 7, 5, 3, 3, NA),
        "premium",
        "values the brand and buys again",
    ),
    "attached habit buyer is premium, not inertia": (
        ("habit", 7, 9, 3, 3, NA),
        "premium",
        "high attachment and advocacy, and buys again: real loyalty",
    ),
    "no alternative + repeat -> monopoly": (
        ("no_alternative", 2, 2, 3, 3, NA),
        "monopoly",
        "repeat buyer for want of alternatives",
    ),
    "no alternative, one order -> latent fallback": (
        ("no_alternative", 2, 2, 1, 1, NA),
        "latent",
        "low attachment, rare purchases",
    ),
    "habit + repeat -> inertia": (
        ("habit", 3, NA, 3, 3, NA),
        "inertia",
        "repeat buyer out of habit, low attachment",
    ),
    "habit beats promotion-day share": (
        ("habit", 3, 9, 3, 3, 0.8),
        "inertia",
        "repeat buyer out of habit, low attachment",
    ),
    "habit, one order, attachment 2 -> latent fallback": (
        ("habit", 2, NA, 1, 1, NA),
        "latent",
        "low attachment, rare purchases",
    ),
    "convenience + repeat -> convenience": (
        ("convenience", 3, NA, 3, 3, NA),
        "convenience",
        "repeat buyer for ease and speed",
    ),
    "promotions -> incentive whatever the attachment": (
        ("promotions", 7, 10, 5, 5, 0.0),
        "incentive",
        "buys for rewards and campaigns",
    ),
    "says brand, buys on promotion days -> incentive": (
        ("brand_value", 3, 9, 3, 3, 0.8),
        "incentive",
        "says otherwise, but buys almost only on promotion days",
    ),
    "lowest price -> price even if attached": (
        ("lowest_price", 7, 9, 3, 3, NA),
        "price",
        "follows the lowest price",
    ),
    "held back -> latent": (
        ("held_back", 2, NA, 0, 0, NA),
        "latent",
        "wants more but is held back",
    ),
    "no reason, attached, one order -> latent": (
        (None, 6, NA, 1, 1, NA),
        "latent",
        "attached but rarely buys: something holds them back",
    ),
    "no reason, repeat -> inertia": (
        (None, 3, NA, 3, 3, NA),
        "inertia",
        "buys again without attachment",
    ),
    "no reason, orders unknown -> latent": (
        (None, 3, NA, NA, NA, NA),
        "latent",
        "low attachment, rare purchases",
    ),
    # the snapshot read can be months after the answer: a habit buyer who has lapsed
    # since (no order in its last year) still bought on many days
    "habit buyer who lapsed since -> inertia, not latent": (
        ("habit", 3, NA, 0, 9, NA),
        "inertia",
        "repeat buyer out of habit, low attachment",
    ),
    "attached brand buyer who lapsed since -> premium, not latent": (
        ("brand_value", 6, 9, 1, 8, NA),
        "premium",
        "high attachment and advocacy, and buys again: real loyalty",
    ),
    "no alternative, lapsed since -> monopoly": (
        ("no_alternative", 2, 2, 0, 5, NA),
        "monopoly",
        "repeat buyer for want of alternatives",
    ),
    "held back, one order that fell on a promotion day -> latent": (
        ("held_back", 3, NA, 1, 1, 1.0),
        "latent",
        "wants more but is held back",
    ),
    "two invoices of one visit are not buying again": (
        ("convenience", 3, NA, 2, 1, 1.0),
        "latent",
        "low attachment, rare purchases",
    ),
    "lowest price, buys on promotion days -> price": (
        ("lowest_price", 3, NA, 5, 5, 0.8),
        "price",
        "follows the lowest price",
    ),
}


@pytest.mark.parametrize(("row", "loyalty_type", "why"), SURVEY_CASES.values(), ids=SURVEY_CASES)
def test_survey_rules_assign_the_first_matching_type(row, loyalty_type, why) -> None:
    frame = pd.DataFrame([row], columns=SURVEY_COLUMNS, index=[42])

    out = assign_types(frame, SURVEY_RULES)

    pd.testing.assert_frame_equal(
        out,
        pd.DataFrame({"loyalty_type": [loyalty_type], "loyalty_rule": [why]}, index=[42]),
        check_dtype=False,
    )


def test_survey_rule_order_decides_between_matching_rules() -> None:
    # Each row matches two rules; the one listed first wins.
    frame = pd.DataFrame(
        [("habit", 7, 9, 3, 3, NA), ("habit", 3, 9, 3, 3, 0.8)], columns=SURVEY_COLUMNS
    )
    premium, monopoly, inertia = SURVEY_RULES[:3]
    (incentive_by_share,) = (
        r for r in SURVEY_RULES if r.loyalty_type == "incentive" and r.reasons is None
    )
    rest = tuple(r for r in SURVEY_RULES[3:] if r is not incentive_by_share)
    swapped = (monopoly, incentive_by_share, inertia, premium, *rest)

    forward = assign_types(frame, SURVEY_RULES)["loyalty_type"].tolist()
    backward = assign_types(frame, swapped)["loyalty_type"].tolist()

    assert forward == ["premium", "inertia"]
    assert backward == ["inertia", "incentive"]


def test_survey_rules_without_main_reason_use_behaviour_only_rules() -> None:
    frame = pd.DataFrame(
        {
            "attachment": [6.0, 3.0, 3.0],
            "orders_365d": [1, 3, 3],
            "purchase_days_total": [1, 3, 3],
            "promotion_day_order_share_365d": [NA, NA, 0.6],
        }
    )

    out = assign_types(frame, SURVEY_RULES)

    assert out["loyalty_type"].tolist() == ["latent", "inertia", "incentive"]


# (orders_365d, promotion share, discounted share, tenure, choice minutes, spend trend, returned)
BEHAVIOUR_COLUMNS = [
    "orders_365d",
    "promotion_day_order_share_365d",
    "discounted_order_share_365d",
    "tenure_days",
    "choice_time_mean_minutes_365d",
    "spend_trend_90d",
    "returned_amount_share_365d",
]
BEHAVIOUR_CASES = {
    "half on promotion days, repeat -> incentive": ((2, 0.5, 0.0, 400, NA, NA, NA), "incentive"),
    "promotion days but one order -> not incentive": ((1, 0.9, 0.0, 400, NA, NA, NA), "latent"),
    "mostly discounted -> price": ((1, 0.9, 0.6, 400, NA, NA, NA), "price"),
    "just under the discount share -> not price": ((1, 0.0, 0.59, 400, NA, NA, NA), "latent"),
    "frequent, a year of tenure, full price -> premium": (
        (4, 0.0, 0.0, 365, NA, 0.0, 0.0),
        "premium",
    ),
    "premium with unknown discount/trend/returns": ((4, 0.0, NA, 365, NA, NA, NA), "premium"),
    "premium needs a year of tenure": ((4, 0.0, 0.0, 364, NA, NA, NA), "inertia"),
    "premium needs four orders": ((3, 0.0, 0.0, 1000, 20, NA, NA), "inertia"),
    "premium not with 30% discounted": ((4, 0.0, 0.3, 400, NA, NA, NA), "inertia"),
    "premium not with spend collapsing": ((4, 0.0, 0.0, 400, NA, -0.6, NA), "inertia"),
    "premium not with 20% returned": ((4, 0.0, 0.0, 400, NA, NA, 0.2), "inertia"),
    "frequent, quick to choose -> convenience": ((3, 0.0, 0.0, 100, 10, NA, NA), "convenience"),
    "choice time unknown -> not convenience": ((3, 0.0, 0.0, 100, NA, NA, NA), "inertia"),
    "slow to choose -> inertia": ((3, 0.0, 0.0, 100, 11, NA, NA), "inertia"),
    "one order, quick -> latent": ((1, 0.0, 0.0, 100, 5, NA, NA), "latent"),
    "orders unknown -> latent": ((NA, 0.9, NA, 100, NA, NA, NA), "latent"),
}


@pytest.mark.parametrize(("row", "loyalty_type"), BEHAVIOUR_CASES.values(), ids=BEHAVIOUR_CASES)
def test_behaviour_rules(row, loyalty_type) -> None:
    frame = pd.DataFrame([row], columns=BEHAVIOUR_COLUMNS)

    assert assign_types(frame, BEHAVIOUR_RULES)["loyalty_type"].tolist() == [loyalty_type]


def test_behaviour_rules_handle_absent_feature_columns() -> None:
    # Only orders known: premium needs tenure and convenience a choice time (absent ->
    # not met); the if_missing=True conditions do not make anyone premium on their own.
    only_orders = pd.DataFrame({"orders_365d": [5, 1]}, index=["a", "b"])
    nothing = pd.DataFrame(index=[5, 7])

    assert assign_types(only_orders, BEHAVIOUR_RULES)["loyalty_type"].to_dict() == {
        "a": "inertia",
        "b": "latent",
    }
    assert assign_types(nothing, BEHAVIOUR_RULES).to_dict("index") == {
        5: {"loyalty_type": "latent", "loyalty_rule": "buys rarely"},
        7: {"loyalty_type": "latent", "loyalty_rule": "buys rarely"},
    }


def test_behaviour_rules_never_say_monopoly() -> None:
    # Attachment is invisible from behaviour, so false loyalty cannot be told apart.
    grid = list(
        itertools.product(
            [NA, 0, 1, 2, 4, 8],
            [NA, 0.0, 0.5, 1.0],
            [NA, 0.0, 0.6],
            [NA, 100, 400],
            [NA, 5, 20],
            [NA, -0.9, 0.5],
            [NA, 0.0, 0.5],
        )
    )
    frame = pd.DataFrame(grid, columns=BEHAVIOUR_COLUMNS)
    # a survey answer present in the frame is ignored: no behaviour rule reads it
    frame["main_reason"] = "no_alternative"

    types = set(assign_types(frame, BEHAVIOUR_RULES)["loyalty_type"])

    assert types == set(LOYALTY_TYPES) - {"monopoly"}


# --------------------------------------------------------------------- relationship stage


def test_relationship_stage_covers_all_five_stages() -> None:
    frame = pd.DataFrame(
        {
            "orders_total": [0, 0, 1, 2, 2, 2, 1, NA],
            "carts_90d": [0, 1, 0, 0, 0, 0, 0, 2],
            "referrals_made": [0, 0, 0, 0, 1, 0, 3, 0],
            "rating_mean_365d": [NA, NA, 5.0, 4.4, NA, 4.5, 5.0, NA],
        },
        index=list("abcdefgh"),
    )

    assert relationship_stage(frame).to_dict() == {
        "a": "suspicion",  # visits only
        "b": "expectation",  # put something in a cart
        "c": "first_purchase",
        "d": "repeat_purchase",  # rating 4.4 is not advocacy
        "e": "advocate",  # referred someone
        "f": "advocate",  # rates 4.5 on average
        "g": "first_purchase",  # advocacy needs repeat purchase first
        "h": "expectation",  # unknown orders count as none
    }
    assert relationship_stage(frame).name == "relationship_stage"


def test_relationship_stage_without_optional_columns() -> None:
    frame = pd.DataFrame({"orders_total": [0, 1, 3]})

    assert relationship_stage(frame).tolist() == ["suspicion", "first_purchase", "repeat_purchase"]


# --------------------------------------------------------------------------- plays


def test_situations_from_the_customers_own_record() -> None:
    frame = pd.DataFrame(
        {
            "complaints_unresolved_now": [1, 0, 0, 0, 0, 0, 2],
            "complaint_open_days_max_now": [34.2, NA, NA, NA, NA, NA, 1.0],
            "complaints_90d": [1, 1, 0, 0, 0, 0, 2],
            "complaint_resolve_days_mean_365d": [NA, 12.0, NA, NA, NA, NA, NA],
            "late_deliveries_90d": [3, 0, 2, 0, 0, 0, 0],
            "returns_90d": [0, 0, 1, 1, 0, 0, 0],
            "low_ratings_365d": [0, 0, 0, 0, 2, 2, 0],
            "rating_mean_365d": [4.0, 4.0, 4.0, 4.0, 2.5, 4.2, NA],
        }
    )

    out = situations(frame).fillna("")

    assert out["situation"].tolist()[:6] == [
        "complaint",  # open, even with late deliveries too
        "complaint",  # resolved, but slowly, and recently
        "fulfilment",  # late deliveries beat a return
        "quality",
        "quality",  # poor ratings
        "",  # some low ratings, good on average: nothing to fix
    ]
    assert out["situation_fact"].tolist() == [
        "1 complaint open for 34 days",
        "a complaint took 12 days to resolve",
        "2 late deliveries in the last 90 days",
        "1 return in the last 90 days",
        "rates orders 2.5/5",
        "",
        "2 complaints open for 1 day",
    ]
    actions = out["situation_action"].tolist()
    assert actions[0] == actions[1] == PLAYS["service_recovery"].action
    assert actions[2] == PLAYS["fulfilment_fix"].action
    assert actions[3].endswith("with the recent returns")
    assert actions[4].endswith("with the low ratings")
    assert actions[5] == ""


def test_a_return_worth_pennies_of_the_years_spend_is_no_quality_problem() -> None:
    """A real shop's list told a customer who had cancelled 0.50 of 668 to get a quality
    follow-up; a return is a quality signal when it is a material share of the spend."""
    frame = pd.DataFrame(
        {
            "returns_90d": [1, 2, 1, 0],
            "returned_amount_share_365d": [0.0007, 0.2, NA, 0.5],
        }
    )

    out = situations(frame)

    assert out["situation"].fillna("").tolist() == ["", "quality", "quality", ""]
    assert out["situation_fact"].fillna("").tolist()[:3] == [
        "",
        "2 returns in the last 90 days",
        "1 return in the last 90 days",
    ]


def test_situations_without_the_columns_see_nothing() -> None:
    out = situations(pd.DataFrame({"orders_90d": [1, 2]}))

    assert out["situation"].isna().all()


PLAY_CASES = {
    # (segment, type, situation, valuable) -> play
    "steady: no contact, even with a complaint": (
        ("steady", "premium", "complaint", True),
        "none",
    ),
    "lapsed: win-back": (("lapsed", "inertia", None, False), "winback"),
    "lapsed with an open complaint: apology first": (
        ("lapsed", "inertia", "complaint", False),
        "winback_recovery",
    ),
    "lapsed price customer of low value: let go": (("lapsed", "price", None, False), "let_go"),
    "lapsed price customer of value: win-back": (("lapsed", "price", None, True), "winback"),
    "lapsed with late deliveries: still a win-back": (
        ("lapsed", "convenience", "fulfilment", False),
        "winback",
    ),
    "lapsing with a complaint: recovery": (
        ("lapsing", "premium", "complaint", True),
        "service_recovery",
    ),
    "early warning, late deliveries: fulfilment": (
        ("early_warning", "price", "fulfilment", False),
        "fulfilment_fix",
    ),
    "lapsing, returns: quality": (("lapsing", "incentive", "quality", False), "quality_follow_up"),
    "early warning inertia: switching costs": (
        ("early_warning", "inertia", None, False),
        "switching_costs",
    ),
    "lapsing premium: VIP care": (("lapsing", "premium", None, False), "vip_care"),
    "lapsing price: no discount": (("lapsing", "price", None, True), "no_discount"),
    "unknown type: remove the obstacle": (("lapsing", None, None, False), "remove_obstacle"),
}


def test_plays_follow_the_segment_then_the_situation_then_the_type() -> None:
    index = list(PLAY_CASES)
    rows = pd.DataFrame(
        [row for row, _ in PLAY_CASES.values()],
        index=index,
        columns=["segment", "type", "situation", "valuable"],
    )

    plays = recommend_play(rows["segment"], rows["type"], rows["situation"], rows["valuable"])

    assert plays.name == "play"
    assert plays.to_dict() == {k: play for k, (_, play) in PLAY_CASES.items()}


def test_no_switching_costs_for_the_gone_and_every_play_is_described() -> None:
    n = 200
    rng = np.random.default_rng(0)
    segment = pd.Series(rng.choice(["early_warning", "lapsing", "lapsed", "steady"], n))
    types = pd.Series(rng.choice(list(LOYALTY_TYPES), n))
    situation = pd.Series(rng.choice(["complaint", "fulfilment", "quality", None], n))
    valuable = pd.Series(rng.random(n) < 0.2)

    plays = recommend_play(segment, types, situation, valuable)

    gone = plays[segment == "lapsed"]
    assert set(gone) <= {"winback", "winback_recovery", "let_go"}
    assert set(plays) <= set(PLAYS)
    assert all(PLAYS[p].action and PLAYS[p].why for p in set(plays))
    # price customers are never offered a discount: their play has no offer cost
    assert PLAYS["no_discount"].offer_cost == 0 and PLAYS["let_go"].success_factor == 0


def test_several_invoices_on_one_day_are_no_repeat_buying() -> None:
    """16041, two invoices on the day of their first purchase, was typed inertia: "a
    repeat buyer out of habit" after one visit."""
    frame = pd.DataFrame(
        {
            "orders_365d": [2, 2, 5, 5],
            "purchase_days_total": [1, 2, 2, 6],
            "tenure_days": [30, 30, 800, 800],
        }
    )
    assert assign_types(frame, BEHAVIOUR_RULES)["loyalty_type"].tolist() == [
        "latent",
        "inertia",
        "inertia",  # five invoices on two days: not the frequent relationship of premium
        "premium",
    ]
