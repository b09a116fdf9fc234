"""The call list and the win-back list: economics, the budget rule, files they open."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.loyalty import PLAYS
from pipeline.score import (
    Economics,
    build_lists,
    column_docs,
    format_for_csv,
    in_cents,
    list_columns,
    list_length,
    score_customers,
    summarise_lists,
)

NA = np.nan
BANDS = (0.3, 0.6)
ECONOMICS = Economics.with_defaults(
    margin=0.5,
    contact_cost=1.0,
    success={"early_warning": 0.4, "lapsing": 0.2, "lapsed": 0.1},
)


# ------------------------------------------------------------------ the budget rule


def test_list_is_the_most_profitable_prefix() -> None:
    profit = [5.0, 3.0, -1.0, 2.0, -4.0, -0.5]
    cost = [1.0] * 6

    # 5 + 3 - 1 + 2 = 9 beats stopping at 8 after two: a loss is worth taking for a gain
    assert list_length(profit, cost, max_contacts=None, max_money=None) == 4


def test_budget_in_contacts_or_money_caps_the_list() -> None:
    profit = [5.0, 3.0, 2.0, 1.0]
    cost = [2.0, 2.0, 1.0, 1.0]

    assert list_length(profit, cost, max_contacts=2, max_money=None) == 2
    assert list_length(profit, cost, max_contacts=None, max_money=3.99) == 1
    assert list_length(profit, cost, max_contacts=None, max_money=4.99) == 2
    assert list_length(profit, cost, max_contacts=None, max_money=5.0) == 3
    assert list_length(profit, cost, max_contacts=3, max_money=4.0) == 2
    assert list_length(profit, cost, max_contacts=0, max_money=None) == 0


def test_no_profit_no_list_and_ties_take_the_shorter() -> None:
    assert list_length([-1.0, -2.0], [1.0, 1.0], max_contacts=None, max_money=None) == 0
    assert list_length([2.0, 0.0, 0.0], [1.0] * 3, max_contacts=None, max_money=None) == 1
    assert list_length([], [], max_contacts=None, max_money=None) == 0
    with pytest.raises(ValueError, match="profit has"):
        list_length([1.0], [1.0, 2.0], max_contacts=None, max_money=None)


# ------------------------------------------------------------------ score_customers


def scoring(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "churn_probability",
            "churn_probability_prev",
            "expected_value",
            "loyalty_type",
        ],
    ).assign(loyalty_type_probability=0.8, loyalty_type_source="classifier")


def features(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "days_since_last_order",
            "order_gap_mean_days",
            "order_gap_std_days",
            "orders_total",
            "complaints_unresolved_now",
            "complaint_open_days_max_now",
        ],
    )


@pytest.fixture
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    s = scoring(
        [
            ("warn", 0.7, 0.7, 100.0, "inertia"),
            ("lapsing", 0.5, 0.4, 200.0, "premium"),
            ("gone", 0.9, 0.9, 300.0, "incentive"),
            ("gone_price", 0.9, 0.9, 10.0, "price"),
            ("steady", 0.1, 0.1, 1000.0, "premium"),
            ("complaint", 0.5, 0.2, 50.0, "convenience"),
        ]
    )
    f = features(
        [
            ("steady", 5.0, 30.0, 5.0, 10, 0, NA),
            ("gone_price", 120.0, 30.0, 5.0, 4, 0, NA),
            ("warn", 10.0, 20.0, 5.0, 6, 0, NA),
            ("lapsing", 50.0, 20.0, 5.0, 8, 0, NA),
            ("gone", 200.0, 30.0, 10.0, 3, 0, NA),
            ("complaint", 10.0, 20.0, 5.0, 5, 1, 12.0),
            ("not_scored", 1.0, 1.0, 1.0, 2, 0, NA),
        ]
    )
    return s, f


def test_every_customer_gets_a_segment_a_play_and_its_economics(shop) -> None:
    out = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    ).set_index("customer_id")

    assert out["segment"].to_dict() == {
        "warn": "early_warning",
        "lapsing": "lapsing",
        "gone": "lapsed",
        "gone_price": "lapsed",
        "steady": "steady",
        "complaint": "early_warning",  # rose from 0.2 to 0.5
    }
    assert out["play"].to_dict() == {
        "warn": "switching_costs",
        "lapsing": "vip_care",
        "gone": "winback",
        "gone_price": "let_go",  # a price customer, not in the top fifth by value
        "steady": "none",
        "complaint": "service_recovery",
    }
    assert out.loc["complaint", "play_because"] == "1 complaint open for 12 days"
    assert out.loc["gone", "play_because"] == "no order for 200 days"
    assert out.loc["warn", "recommended_action"] == PLAYS["switching_costs"].action
    # warn: 0.7 x 100 x 0.4 (early warning) x 1.0 (switching costs) = 28 saveable
    assert out.loc["warn", "value_at_risk"] == pytest.approx(70.0)
    assert out.loc["warn", "contact_success"] == pytest.approx(0.4)
    assert out.loc["warn", "saveable_value"] == pytest.approx(28.0)
    assert out.loc["warn", "contact_cost"] == pytest.approx(1.0 + 5.0)
    assert out.loc["warn", "expected_profit"] == pytest.approx(0.5 * 28.0 - 6.0)
    # service recovery works 1.5x: 0.5 x 50 x 0.4 x 1.5
    assert out.loc["complaint", "saveable_value"] == pytest.approx(15.0)
    assert out.loc["steady", "contact_success"] == 0.0
    # no contact is made: it costs nothing (the Everyone sheet showed -1.00 profit)
    for who in ("steady", "gone_price"):
        assert out.loc[who, "contact_cost"] == 0.0
        assert out.loc[who, "expected_profit"] == 0.0
    assert out.loc["gone_price", "contact_success"] == 0.0
    assert out.loc["lapsing", "risk_band"] == "medium"
    assert out.loc["lapsing", "usual_gap_days"] == 20.0


def test_a_steady_customer_of_a_slow_rhythm_is_not_told_their_risk_is_low() -> None:
    """Reviewed: 256 steady rows in the high band read "within their rhythm, risk not
    high or rising": a customer whose own rhythm is a horizon or longer is no early
    warning, and the row must say why rather than deny the risk its column shows."""
    s = scoring([("slow", 0.9, 0.9, 100.0, "inertia"), ("calm", 0.1, 0.1, 100.0, "inertia")])
    f = features([("slow", 60.0, 120.0, 20.0, 6, 0, NA), ("calm", 5.0, 30.0, 5.0, 9, 0, NA)])
    out = score_customers(
        s, f, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    ).set_index("customer_id")
    assert out["segment"].tolist() == ["steady", "steady"]
    assert out.loc["slow", "risk_band"] == "high"
    assert out.loc["slow", "play_because"] == (
        "within their rhythm: they usually order every 120 days, so no order within the "
        "horizon is their normal, whatever the risk"
    )
    assert out.loc["calm", "play_because"] == "within their rhythm, risk not high or rising"


def test_a_quality_follow_up_names_what_was_seen_and_only_that() -> None:
    """Online Retail records no ratings, yet its list told callers to ask about "the
    recent returns or low ratings": the action names what the customer's record shows."""
    s = scoring(
        [
            ("returned", 0.7, 0.7, 100.0, "inertia"),
            ("rated", 0.7, 0.7, 100.0, "inertia"),
        ]
    )
    f = features(
        [
            ("returned", 10.0, 20.0, 5.0, 6, 0, NA),
            ("rated", 10.0, 20.0, 5.0, 6, 0, NA),
        ]
    ).assign(
        returns_90d=[2, 0],
        returned_amount_share_365d=[0.3, NA],
        low_ratings_365d=[0, 2],
        rating_mean_365d=[NA, 2.0],
    )

    out = score_customers(
        s, f, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    ).set_index("customer_id")

    assert out["play"].tolist() == ["quality_follow_up", "quality_follow_up"]
    assert out.loc["returned", "recommended_action"] == (
        "Quality follow-up: ask what went wrong with the recent returns"
    )
    assert out.loc["rated", "recommended_action"] == (
        "Quality follow-up: ask what went wrong with the low ratings"
    )
    assert out.loc["returned", "play_because"] == "2 returns in the last 90 days"


def test_play_economics_can_be_overridden() -> None:
    e = Economics.with_defaults(
        margin=0.3,
        contact_cost=2.0,
        success={"lapsed": 0.1},
        overrides={"winback": {"offer_cost": 0.0, "success_factor": None}},
    )
    assert e.offer_cost["winback"] == 0.0
    assert e.success_factor["winback"] == PLAYS["winback"].success_factor
    with pytest.raises(ValueError, match="unknown play 'coupons'"):
        Economics.with_defaults(
            margin=0.3, contact_cost=1.0, success={}, overrides={"coupons": {"offer_cost": 1.0}}
        )


def test_bad_scoring_input_is_named(shop) -> None:
    s, f = shop
    kwargs = dict(horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS)
    with pytest.raises(KeyError, match=r"1 of 7 customers have no features.*ghost"):
        score_customers(pd.concat([s, scoring([("ghost", 0.1, 0.1, 1.0, "price")])]), f, **kwargs)
    bad = s.assign(churn_probability=[0.1, 1.2, 0.1, 0.1, NA, 0.1])
    with pytest.raises(
        ValueError, match=r"churn_probability missing or outside \[0, 1\] in 2 of 6"
    ):
        score_customers(bad, f, **kwargs)
    with pytest.raises(ValueError, match="expected_value missing or negative in 1 of 6"):
        score_customers(s.assign(expected_value=[1.0, -1.0, 1, 1, 1, 1]), f, **kwargs)
    with pytest.raises(ValueError, match="1 duplicate customer_id values"):
        score_customers(pd.concat([s, s.head(1)]), f, **kwargs)


# ---------------------------------------------------------------------- build_lists


def test_call_list_and_winback_list_ranked_and_cut_by_profit(shop) -> None:
    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )

    out = build_lists(customers, call_budget=(None, None), winback_budget=(None, None))

    listed = out[out["list"].notna()]
    assert listed[["list", "rank", "customer_id"]].values.tolist() == [
        # by saveable value: warn 28 (profit 8), lapsing 24 (profit 0.5 x 24 - 6 = 6),
        # complaint 15 (profit 7.5 - 11 < 0): the list stops before it
        ["call", 1, "warn"],
        ["call", 2, "lapsing"],
        # gone: 0.9 x 300 x 0.1 = 27 saveable, profit 13.5 - 6
        ["winback", 1, "gone"],
    ]
    assert out["customer_id"].tolist()[:3] == ["warn", "lapsing", "gone"]
    assert len(out) == len(customers)
    # nobody steady, let go or past the budget is on a list
    assert out.set_index("customer_id").loc[["steady", "gone_price"], "list"].isna().all()


def test_call_budget_caps_the_call_list() -> None:
    n = 10
    s = scoring([(f"c{i}", 0.8, 0.8, 100.0 + i, "inertia") for i in range(n)])
    f = features([(f"c{i}", 40.0, 20.0, 5.0, 5, 0, NA) for i in range(n)])
    customers = score_customers(
        s, f, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )

    out = build_lists(customers, call_budget=(3, None), winback_budget=(None, None))

    call = out[out["list"] == "call"]
    # ranked by saveable value: the most valuable first
    assert call["customer_id"].tolist() == ["c9", "c8", "c7"]
    assert call["rank"].tolist() == [1, 2, 3]
    money = build_lists(customers, call_budget=(None, 12.0), winback_budget=(None, None))
    assert (money["list"] == "call").sum() == 2  # 6 a contact (1 + 5 offer)


# -------------------------------------------------------------------- files, summary


def test_csv_money_keeps_its_cents_and_probabilities_four_decimals() -> None:
    frame = pd.DataFrame(
        {
            "expected_value": [280000.55, 1234567.0, NA],
            "expected_profit": [-3.456, -0.001, 0.107],
            "churn_probability": [0.123456, 1.0, 0.0],
            "days_since_last_order": [3.4, 101.6, 0.2],
            "customer_id": ["a", "b", "c"],
        }
    )

    out = format_for_csv(frame)

    assert out["expected_value"].tolist() == ["280000.55", "1234567.00", ""]
    assert out["expected_profit"].tolist() == ["-3.46", "0.00", "0.11"]
    assert out["churn_probability"].tolist() == ["0.1235", "1.0000", "0.0000"]
    assert out["days_since_last_order"].tolist() == ["3", "101", "0"]  # whole days elapsed
    assert out["customer_id"].tolist() == ["a", "b", "c"]


def test_lists_write_whole_days_elapsed_so_no_lapsing_customer_reads_90() -> None:
    # 89 days and 15 hours: lapsing by the segments' exact days, and 89 in every file
    frame = pd.DataFrame({"days_since_last_order": [89.65, 90.0, 120.99, NA]})
    out = in_cents(frame)
    assert out["days_since_last_order"].tolist()[:3] == [89.0, 90.0, 120.0]
    assert np.isnan(out["days_since_last_order"].iloc[3])
    assert format_for_csv(out)["days_since_last_order"].tolist() == ["89", "90", "120", ""]


def test_list_columns_and_their_docs() -> None:
    cols = list_columns(2, ("name", "email"))

    assert cols[:6] == ["as_of", "list", "rank", "customer_id", "name", "email"]
    assert [c for c in cols if c.startswith("reason_")] == ["reason_1", "reason_2"]
    docs = column_docs(2, ("name", "email"))
    assert list(docs) == cols
    assert all(docs.values())


def test_summary_by_hand(shop) -> None:
    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    out = build_lists(customers, call_budget=(None, None), winback_budget=(None, None))

    summary = summarise_lists(out)

    assert summary["customers_scored"] == 6
    assert summary["segments"] == {"early_warning": 2, "lapsed": 2, "lapsing": 1, "steady": 1}
    assert summary["call_list"]["customers"] == 2
    assert summary["call_list"]["expected_profit"] == pytest.approx(14.0)
    assert summary["call_list"]["cost"] == pytest.approx(12.0)
    assert summary["winback_list"]["plays"] == {"winback": 1}
    # value at risk: 70 + 100 + 270 + 9 + 100 + 25
    assert summary["value_at_risk_total"] == pytest.approx(574.0)
    assert summary["value_share_of_top_20pct_customers"] == pytest.approx(1000 / 1660, abs=1e-4)


# ------------------------------------------------------------------ campaigns decide


def test_campaign_evidence_decides_the_play_and_takes_sleeping_dogs_off_the_list(shop) -> None:
    from pipeline.score import apply_uplift

    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    uplift = pd.DataFrame(
        {
            "customer_id": ["warn", "lapsing", "gone", "steady"],
            "uplift_play": ["discount", "do not contact", "winback", "points"],
            "uplift": [0.2, -0.05, 0.1, 0.3],
            "expected_saved_value": [0.2 * 0.5 * 100 - 3.0, -1.0, 0.1 * 0.5 * 300 - 2.5, 100.0],
            "cost": [3.0, 0.0, 2.5, 2.0],
            "effect_discount": [0.2, -0.05, 0.05, 0.1],
            "effect_points": [0.1, -0.1, 0.12, 0.3],
            "effect_winback": [-0.01, -0.02, 0.1, 0.1],
        }
    )
    out = apply_uplift(customers, uplift, ECONOMICS).set_index("customer_id")
    # why this play and not another: its effect and the runner-up's
    assert out.loc["warn", "play_because"] == (
        "past campaigns: lowers their churn probability by 20.0 points; "
        "the next best, a points bonus, by 10.0 points"
    )
    assert out.loc["gone", "play_because"] == (
        "past campaigns: lowers their churn probability by 10.0 points; "
        "a points bonus would remove 12.0 points but costs more"
    )
    assert out.loc["warn", "play"] == "discount"
    assert out.loc["warn", "play_source"] == "uplift model"
    assert out.loc["warn", "recommended_action"] == PLAYS["discount"].action
    # saveable value follows the uplift: 0.2 x 100; the profit is what the stage expected
    assert out.loc["warn", "saveable_value"] == pytest.approx(20.0)
    assert out.loc["warn", "expected_profit"] == pytest.approx(0.5 * 20.0 - 3.0)
    assert out.loc["warn", "expected_profit"] == pytest.approx(
        out.loc["warn", "expected_saved_value"]
    )
    assert out.loc["warn", "contact_success"] == pytest.approx(0.2 / 0.7)
    assert out.loc["lapsing", "play"] == "do_not_contact"
    assert out.loc["lapsing", "contact_success"] == 0.0
    assert out.loc["lapsing", "play_because"] == (
        "in past campaigns, customers like them left more often when contacted, whatever the play"
    )
    assert out.loc["gone", "play"] == "winback"
    # steady customers are not contacted whatever a play could do; no evidence: the rules
    assert out.loc["steady", "play"] == "none" and out.loc["steady", "play_source"] == "rules"
    assert out.loc["complaint", "play"] == "service_recovery"
    assert out.loc["complaint", "play_source"] == "rules"
    assert np.isnan(out.loc["complaint", "uplift"])

    lists = build_lists(out.reset_index(), call_budget=(None, None), winback_budget=(None, None))
    listed = lists.set_index("customer_id")["list"]
    assert pd.isna(listed["lapsing"])  # a sleeping dog is on no list
    assert listed["warn"] == "call" and listed["gone"] == "winback"


def test_a_service_recovery_says_what_it_answers() -> None:
    """Reviewed on a shop's own data: "apologise, fix the open complaint" went to 45 of
    107 service-recovery customers with no complaint open (the rules' play for a
    complaint resolved slowly; the campaigns' model's service call for anyone)."""
    from pipeline.score import RECOVERY_AFTER, SERVICE_CALL, apply_uplift

    s = scoring(
        [
            ("open", 0.5, 0.2, 50.0, "convenience"),
            ("slow", 0.5, 0.2, 50.0, "convenience"),
            ("never", 0.5, 0.2, 50.0, "convenience"),
        ]
    )
    f = features(
        [
            ("open", 10.0, 20.0, 5.0, 5, 1, 12.0),
            ("slow", 10.0, 20.0, 5.0, 5, 0, NA),
            ("never", 10.0, 20.0, 5.0, 5, 0, NA),
        ]
    ).assign(
        complaints_90d=[1, 1, 0],
        complaints_365d=[1, 1, 0],
        complaint_resolve_days_mean_365d=[NA, 21.0, NA],
    )
    rules = score_customers(
        s, f, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    ).set_index("customer_id")
    assert rules.loc["open", "play"] == rules.loc["slow", "play"] == "service_recovery"
    assert rules.loc["open", "recommended_action"] == PLAYS["service_recovery"].action
    assert rules.loc["slow", "recommended_action"] == RECOVERY_AFTER
    assert "took 21 days to resolve" in rules.loc["slow", "play_because"]
    # the campaigns' model chose a service call for all three
    uplift = pd.DataFrame(
        {
            "customer_id": ["open", "slow", "never"],
            "uplift_play": ["service_recovery"] * 3,
            "uplift": [0.2] * 3,
            "expected_saved_value": [5.0] * 3,
            "cost": [4.0] * 3,
            "effect_service_recovery": [0.2] * 3,
        }
    )
    model = apply_uplift(rules.reset_index(), uplift, ECONOMICS).set_index("customer_id")
    assert (model["play_source"] == "uplift model").all()
    assert model.loc["open", "recommended_action"] == PLAYS["service_recovery"].action
    assert model.loc["slow", "recommended_action"] == RECOVERY_AFTER
    assert model.loc["never", "recommended_action"] == SERVICE_CALL
    assert "open complaint" not in RECOVERY_AFTER + SERVICE_CALL


def test_a_sleeping_dog_marked_by_its_likely_type_is_told_why(shop) -> None:
    """Marked "do not contact" although one play's expected effect is positive (the
    uplift stage's harm rule: no play pays, the likely types are pushed away by every
    play): the reason says that, not that every play drove customers like them off."""
    from pipeline.score import apply_uplift

    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    uplift = pd.DataFrame(
        {
            "customer_id": ["lapsing"],
            "uplift_play": ["do not contact"],
            "uplift": [-0.05],  # the play with the best net value: the cheaper discount
            "expected_saved_value": [-1.5],
            "cost": [0.0],
            "harm_probability": [0.6],
            "effect_discount": [-0.05],
            "effect_points": [0.01],
        }
    )
    out = apply_uplift(customers, uplift, ECONOMICS).set_index("customer_id")
    assert out.loc["lapsing", "play"] == "do_not_contact"
    # a reader saw a positive uplift beside "a contact could push them away": the reason
    # names the play that would help and why it is not worth it
    assert out.loc["lapsing", "play_because"] == (
        "the best play tested, a points bonus, would lower their churn probability by 1.0 "
        "points but costs more than it saves; past campaigns' type model gives 60% of its "
        "probability to loyalty types every play pushed away (its estimate, not the loyalty "
        "type shown)"
    )
    # and the uplift column is that play's (reviewed: -0.0103 beside "1.6 points")
    assert out.loc["lapsing", "uplift"] == pytest.approx(0.01)
    # the action beside it says no more than the reason
    assert out.loc["lapsing", "recommended_action"] == (
        "Do not contact: no play pays for itself, and they may be of a type contacts push away"
    )


def test_a_steady_customer_with_an_open_complaint_is_told_to_answer_it(shop) -> None:
    """A reviewer found 82 steady customers whose reasons said "1 complaint open for 416
    days" and whose action said only "No contact: keep serving them well"; every other
    segment was told to answer it first."""
    from pipeline.score import apply_uplift

    s, f = shop
    f = f.copy()
    f.loc[f["customer_id"] == "steady", ["complaints_unresolved_now"]] = 1
    f.loc[f["customer_id"] == "steady", ["complaint_open_days_max_now"]] = 416.0
    rules = score_customers(
        s, f, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    uplift = pd.DataFrame(
        {
            "customer_id": ["steady"],
            "uplift_play": ["points"],
            "uplift": [0.2],
            "expected_saved_value": [50.0],
            "cost": [2.0],
            "effect_points": [0.2],
        }
    )
    for out in (rules, apply_uplift(rules, uplift, ECONOMICS)):
        row = out.set_index("customer_id").loc["steady"]
        assert row["play"] == "none"
        assert row["recommended_action"] == (
            PLAYS["none"].action + ". Still answer the open complaint (1 complaint open "
            "for 416 days): apologise, fix, follow up; no offer"
        )
        # no play is chosen for them: no figure of what one would save
        assert np.isnan(row.get("uplift", np.nan))
        assert np.isnan(row.get("expected_saved_value", np.nan))


def test_no_play_paying_is_not_called_serving_them_well(shop) -> None:
    """A lapsing customer whom no tested play pays for was told "keep serving them
    well", the steady customers' action."""
    from pipeline.score import apply_uplift

    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    uplift = pd.DataFrame(
        {
            "customer_id": ["lapsing"],
            "uplift_play": ["no contact"],
            "uplift": [0.01],
            "expected_saved_value": [-0.5],
            "cost": [0.0],
            "effect_points": [0.01],
        }
    )
    row = apply_uplift(customers, uplift, ECONOMICS).set_index("customer_id").loc["lapsing"]
    assert row["play"] == "none"
    assert (
        row["recommended_action"]
        == "No contact: no play tested in past campaigns pays for itself for them"
    )
    assert row["play_because"] == "no play tested in past campaigns pays for itself here"


@pytest.mark.parametrize(
    ("uplift_play", "action"),
    [
        (
            "points",
            "First answer the open complaint (1 complaint open for 12 days): apologise, fix, "
            "follow up. Then: " + PLAYS["points"].action,
        ),
        ("service_recovery", PLAYS["service_recovery"].action),
        (
            # its points effect is positive: marked by its likely types (below)
            "do not contact",
            "Do not contact: no play pays for itself, and they may be of a type contacts push away"
            + ". Still answer the open complaint (1 complaint "
            "open for 12 days): apologise, fix, follow up; no offer",
        ),
    ],
)
def test_an_open_complaint_is_answered_first_whatever_play_the_campaigns_chose(
    shop, uplift_play, action
) -> None:
    """The review's finding: the uplift model offered points or express delivery to
    customers whose complaint had been open for a year, with no word of it. The rules
    put service recovery first; the campaigns' play now comes after the apology, and a
    customer not to be contacted with an offer still gets their complaint answered."""
    from pipeline.score import apply_uplift

    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    uplift = pd.DataFrame(
        {
            "customer_id": ["complaint", "warn"],
            "uplift_play": [uplift_play, "points"],
            "uplift": [0.1, 0.1],
            "expected_saved_value": [5.0, 5.0],
            "cost": [2.0, 2.0],
            "effect_points": [0.1, 0.1],
            "effect_service_recovery": [0.05, 0.0],
        }
    )
    out = apply_uplift(customers, uplift, ECONOMICS).set_index("customer_id")
    assert out.loc["complaint", "recommended_action"] == action
    # no open complaint, no preamble
    assert out.loc["warn", "recommended_action"] == PLAYS["points"].action


def test_no_campaign_history_keeps_the_rules(shop) -> None:
    from pipeline.score import apply_uplift

    customers = score_customers(
        *shop, horizon_days=90, band_thresholds=BANDS, rising_by=0.15, economics=ECONOMICS
    )
    out = apply_uplift(customers, None, ECONOMICS)
    assert (out["play_source"] == "rules").all()
    pd.testing.assert_series_equal(out["play"], customers["play"])
    assert out["uplift"].isna().all()


def test_a_listed_customer_with_no_reason_of_their_own_is_told_why_they_are_listed():
    """Online Retail's #1 (12753, risk 0.54) read "risk no higher than the shop's usual for
    their segment": the SHAP base is the shop's average, not the segment's."""
    from pipeline.stages.score import fill_missing_reason

    scored = pd.DataFrame(
        {
            "reason_1": [None, None, "1 complaint open for 34 days", None],
            "list": ["call", "call", "call", None],
            "play_source": ["rules", "uplift model", "rules", "rules"],
        }
    )
    said = fill_missing_reason(scored).tolist()
    assert said[0] == (
        "no fact of their own raises the risk above the shop's average: the probability is "
        "mostly the shop's base rate"
    )
    assert said[1].startswith("risk no higher than the shop's usual; past campaigns say")
    assert said[2] == "1 complaint open for 34 days" and pd.isna(said[3])
    # a lapsing or early-warning customer whose only movers are strengths (never a
    # reason) is told the fact of their segment, listed or not; a steady one nothing
    scored = pd.DataFrame(
        {
            "reason_1": [None] * 6,
            "list": [None, "call", None, None, None, None],
            "segment": ["lapsing", "lapsing"] + ["early_warning"] * 2 + ["steady", "lapsed"],
            "days_since_last_order": [48.7, 40.0, 16.0, 16.0, 3.0, 125.2],
            "usual_gap_days": [14.8, 26.1, 44.6, 44.6, 10.0, 20.0],
            "own_rhythm": [True, False, True, True, True, True],
            "churn_probability": [0.35, 0.4, 0.3368, 0.61, 0.1, 0.9],
            "churn_probability_prev": [0.3, 0.3, 0.1511, None, 0.1, 0.8],
            "play_source": ["rules"] * 6,
        }
    )
    assert fill_missing_reason(scored).tolist() == [
        "last order 48 days ago, overdue: usually every 15 days",
        "last order 40 days ago, overdue for the shop's usual rhythm (every 26 days)",
        "risk up from 15% to 34% since the last snapshot",
        "risk 61% within their usual rhythm",
        None,
        "no order for 125 days: lapsed",
    ]


def test_the_run_says_who_chose_the_plays_and_why() -> None:
    """Reviewed: the summary, the workbook and the log read the same whether the model or
    the rules chose the plays, and never said why the model was not used."""
    from pipeline.score import plays_from

    assert plays_from(None, {"rules": 12}) == (
        "the rules, for all 12 customers: the shop has no contacts table (no campaign history)"
    )
    verdict = "on the held-out campaign of 2011-08-15, ... so the plays come from the rules"
    refused = {"available": True, "decides": False, "verdict": verdict}
    assert plays_from(refused, {"rules": 4265}) == f"the rules, for all 4,265 customers: {verdict}"
    used = {
        "available": True,
        "decides": True,
        "verdict": "on the held-out campaign of 2024-09-22, ...",
        "shipped": {"reach": {"low": 14.0, "high": 209.0, "outside": 5696}},
    }
    assert plays_from(used, {"uplift model": 4870, "rules": 9359}, steady=7423) == (
        "the uplift model for 4,870 customers, the rules for 9,359 (the 7,423 steady "
        "customers and 1,936 more beyond the campaigns' reach, silent for less than 14 or "
        "more than 209 days); on the held-out campaign of 2024-09-22, ..."
    )


def test_a_play_of_the_shops_own_is_named_in_the_workbook() -> None:
    from pipeline.stages.score import own_plays

    rows = pd.DataFrame({"play": ["discount", "free_gift", "none", "do_not_contact", None]})
    assert own_plays(rows) == ["free_gift"]


def test_a_contact_expected_to_lose_money_never_makes_a_list() -> None:
    """Reviewed: 26 win-back contacts expected to lose 91.03 sat inside the list (its
    ranking is by saveable value, and a dear play ranked high), while 307 lapsed
    customers expected to make money were left off."""
    from pipeline.score import build_lists

    customers = pd.DataFrame(
        {
            "customer_id": ["dear", "cheap1", "cheap2"],
            "segment": ["lapsed"] * 3,
            "play": ["winback_recovery", "winback", "winback"],
            "saveable_value": [40.0, 20.0, 10.0],
            "churn_probability": [0.9, 0.9, 0.9],
            "contact_success": [0.2, 0.1, 0.1],
            "contact_cost": [16.0, 2.0, 2.0],
            "expected_profit": [0.3 * 40.0 - 16.0, 0.3 * 20.0 - 2.0, 0.3 * 10.0 - 2.0],
        }
    )
    out = build_lists(customers, call_budget=(None, None), winback_budget=(2, None))
    on = out[out["list"] == "winback"]
    assert on["customer_id"].tolist() == ["cheap1", "cheap2"]
    assert on["rank"].tolist() == [1, 2]


def test_a_play_has_the_price_the_campaigns_recorded_whoever_chose_it() -> None:
    """Reviewed: a fulfilment fix cost 11.00 on a row the rules chose and 2.00 on one
    the uplift model chose (what the campaigns recorded), in the same list."""
    recorded = ECONOMICS.with_recorded_costs({"fulfilment_fix": 2.0, "free_gift": 3.0})
    assert ECONOMICS.contact_cost + recorded.offer_cost["fulfilment_fix"] == 2.0
    assert recorded.offer_cost["winback"] == ECONOMICS.offer_cost["winback"]  # never run
    assert "free_gift" not in recorded.offer_cost  # the shop's own: the model prices it
    cheap = ECONOMICS.with_recorded_costs({"points": 0.5})
    assert cheap.offer_cost["points"] == 0.0  # never below nothing
