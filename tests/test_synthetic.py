"""Tests for ``pipeline.sources.synthetic``: contract, invariants and planted effects."""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pandas as pd
import pytest

from pipeline import schema
from pipeline.sources import synthetic
from pipeline.sources.synthetic import SyntheticShop, generate_shop

START = dt.date(2023, 1, 1)
DAYS = 730
T0 = pd.Timestamp(START)
END = T0 + pd.Timedelta(days=DAYS)
TABLE_NAMES = {"customers", "orders", "returns", "sessions", "complaints", "surveys", "contacts"}
REASON_OF_TYPE = {
    "premium": "brand_value",
    "inertia": "habit",
    "convenience": "convenience",
    "monopoly": "no_alternative",
    "incentive": "promotions",
    "price": "lowest_price",
    "latent": "held_back",
}


@pytest.fixture(scope="module")
def small() -> SyntheticShop:
    return generate_shop(n_customers=2_000, start=START, days=DAYS, seed=11)


@pytest.fixture(scope="module")
def default() -> SyntheticShop:
    """The default size: large enough for the planted effects to stand out of the noise."""
    return generate_shop(n_customers=20_000, start=START, days=DAYS, seed=42)


def _churned(shop: SyntheticShop) -> pd.Series:
    return shop.truth.set_index("customer_id").churned_at.notna()


# --- determinism -------------------------------------------------------------------------


def test_same_arguments_give_identical_frames(small: SyntheticShop) -> None:
    again = generate_shop(n_customers=2_000, start=START, days=DAYS, seed=11)
    assert again.tables.keys() == small.tables.keys()
    for name, frame in small.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], frame, check_exact=True)
    pd.testing.assert_frame_equal(again.truth, small.truth, check_exact=True)


def test_another_seed_gives_another_shop(small: SyntheticShop) -> None:
    other = generate_shop(n_customers=2_000, start=START, days=DAYS, seed=12)
    assert not other.tables["orders"]["amount"].equals(small.tables["orders"]["amount"])
    assert not other.truth["true_type"].equals(small.truth["true_type"])


# --- contract ----------------------------------------------------------------------------


def _assert_dtype(series: pd.Series, dtype: schema.DType, where: str) -> None:
    if dtype == "string":
        assert series.dtype == pd.StringDtype(), where
    elif dtype == "datetime":
        assert series.dtype == np.dtype("datetime64[us]"), where
    elif dtype == "float":
        assert series.dtype == np.float64, where
    elif dtype == "int":
        assert series.dtype == np.int64, where
    else:
        assert series.dtype in (np.dtype(bool), pd.BooleanDtype()), where


def test_tables_have_exactly_the_schema_columns_and_dtypes(small: SyntheticShop) -> None:
    assert set(small.tables) == TABLE_NAMES
    for name, frame in small.tables.items():
        table = schema.TABLES[name]
        assert tuple(frame.columns) == table.names, name
        assert isinstance(frame.index, pd.RangeIndex), name
        for column in table.columns:
            _assert_dtype(frame[column.name], column.dtype, f"{name}.{column.name}")


def test_values_respect_schema_bounds_nullability_and_allowed_values(
    small: SyntheticShop,
) -> None:
    for name, frame in small.tables.items():
        for column in schema.TABLES[name].columns:
            values = frame[column.name]
            where = f"{name}.{column.name}"
            if not column.nullable:
                assert values.notna().all(), where
            if column.min is not None:
                assert (values.dropna() >= column.min).all(), where
            if column.max is not None:
                assert (values.dropna() <= column.max).all(), where
            if column.allowed is not None:
                assert set(values.dropna()) <= set(column.allowed), where
        assert len(frame) > 0, name


def test_keys_are_unique(small: SyntheticShop) -> None:
    for name, frame in small.tables.items():
        key = list(schema.TABLES[name].key)
        assert not frame.duplicated(key).any(), name
    assert small.truth["customer_id"].is_unique


def test_ids_look_like_the_house_format(small: SyntheticShop) -> None:
    t = small.tables
    assert t["customers"]["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert t["orders"]["order_id"].str.fullmatch(r"O\d{7}").all()
    assert t["orders"]["order_id"].iloc[0] == "O0000001"


def test_truth_has_one_row_per_customer_with_its_columns(small: SyntheticShop) -> None:
    truth = small.truth
    assert list(truth.columns) == [
        "customer_id",
        "true_type",
        "attachment",
        "signup_at",
        "churned_at",
        "churn_cause",
        "n_bad_experiences",
        "n_complaints",
    ]
    assert truth["customer_id"].equals(small.tables["customers"]["customer_id"])
    assert set(truth["true_type"]) == set(schema.LOYALTY_TYPES)
    assert truth["attachment"].between(1, 7).all()
    assert truth["churned_at"].dtype == np.dtype("datetime64[us]")
    # A cause is recorded only for customers who left.
    assert truth.loc[truth["churn_cause"].notna(), "churned_at"].notna().all()
    assert set(truth["churn_cause"].dropna()) == {
        "unresolved_complaint",
        "late_deliveries",
        "promotion_end",
        "competitor",
        "low_attachment",
    }
    assert truth["n_bad_experiences"].dtype == np.int64
    n_complaints = small.tables["complaints"].groupby("customer_id").size()
    expected = truth.set_index("customer_id")["n_complaints"]
    assert (expected.loc[n_complaints.index] == n_complaints).all()
    assert expected.sum() == len(small.tables["complaints"])


def _check_invariants(shop: SyntheticShop) -> None:
    t = shop.tables
    customers, orders, sessions = t["customers"], t["orders"], t["sessions"]
    returns, complaints = t["returns"], t["complaints"]
    known = set(customers["customer_id"])
    for name, frame in t.items():
        assert set(frame["customer_id"]) <= known, name

    assert (orders["amount"] >= 0).all()
    assert (orders["discount_amount"] >= 0).all()
    assert (
        orders["delivered_at"].dropna() >= orders.loc[orders.delivered_at.notna(), "ordered_at"]
    ).all()
    assert (orders["rated_at"] > orders["delivered_at"]).where(orders.rated_at.notna(), True).all()
    assert orders["ordered_at"].is_monotonic_increasing
    signup = customers.set_index("customer_id")["signup_at"]
    assert (orders["ordered_at"].to_numpy() > signup.loc[orders["customer_id"]].to_numpy()).all()
    # Nothing is observed after the window closes.
    for name, column in [
        ("orders", "delivered_at"),
        ("orders", "rated_at"),
        ("returns", "returned_at"),
        ("complaints", "opened_at"),
        ("complaints", "resolved_at"),
        ("sessions", "started_at"),
        ("surveys", "surveyed_at"),
    ]:
        assert (t[name][column].dropna() < END).all(), f"{name}.{column}"
    assert (orders["ordered_at"] >= T0).all()

    # Each order comes from a session of the same customer that started before it.
    by_session = sessions.set_index("session_id")
    linked = by_session.loc[orders["session_id"]]
    assert orders["session_id"].is_unique
    assert (linked["customer_id"].to_numpy() == orders["customer_id"].to_numpy()).all()
    assert (linked["started_at"].to_numpy() < orders["ordered_at"].to_numpy()).all()
    assert (linked["added_to_cart"]).all()
    assert (sessions["ended_at"] >= sessions["started_at"]).all()

    by_order = orders.set_index("order_id")
    returned = by_order.loc[returns["order_id"]]
    assert (returned["customer_id"].to_numpy() == returns["customer_id"].to_numpy()).all()
    assert (returns["amount"].to_numpy() <= returned["amount"].to_numpy() + 1e-9).all()
    assert (returns["quantity"].to_numpy() <= returned["quantity"].to_numpy()).all()
    assert (returns["returned_at"].to_numpy() > returned["delivered_at"].to_numpy()).all()

    resolved = complaints.dropna(subset=["resolved_at"])
    assert (resolved["resolved_at"] >= resolved["opened_at"]).all()
    assert complaints.loc[complaints.resolved_at.isna(), "satisfaction_after"].isna().all()
    assert complaints.loc[complaints.resolved_at.notna(), "satisfaction_after"].notna().all()
    with_order = complaints.dropna(subset=["order_id"])
    about = by_order.loc[with_order["order_id"]]
    assert (about["customer_id"].to_numpy() == with_order["customer_id"].to_numpy()).all()
    assert (with_order["opened_at"].to_numpy() > about["ordered_at"].to_numpy()).all()

    referred = customers.dropna(subset=["referred_by"])
    assert set(referred["referred_by"]) <= known
    assert (referred["acquisition_channel"] == "referral").all()
    assert (
        signup.loc[referred["referred_by"]].to_numpy() < referred["signup_at"].to_numpy()
    ).all()

    churn = shop.truth.set_index("customer_id")["churned_at"]
    left = churn.loc[orders["customer_id"]].to_numpy()
    assert not (orders["ordered_at"].to_numpy() >= left).any()  # NaT compares False


def test_invariants_hold(small: SyntheticShop) -> None:
    _check_invariants(small)


def test_invariants_hold_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several simulation blocks: order, session and referrer references cross them.
    monkeypatch.setattr(synthetic, "_CHUNK_SIZE", 500)
    shop = generate_shop(n_customers=1_600, start=START, days=DAYS, seed=5)
    _check_invariants(shop)
    referrer = shop.tables["customers"]["referred_by"].dropna().str[1:].astype(int)
    referee = shop.tables["customers"].dropna(subset=["referred_by"])["customer_id"]
    assert ((referee.str[1:].astype(int) - 1) // 500 != (referrer - 1) // 500).any()


def test_no_order_after_churn(small: SyntheticShop) -> None:
    churn = small.truth.set_index("customer_id")["churned_at"]
    orders = small.tables["orders"]
    after = orders["ordered_at"].to_numpy() >= churn.loc[orders["customer_id"]].to_numpy()
    assert not after.any()
    assert churn.notna().mean() > 0.2


def test_all_relationship_stages_exist(small: SyntheticShop) -> None:
    customers = small.tables["customers"]
    orders = small.tables["orders"]
    sessions = small.tables["sessions"]
    assert (customers["signup_at"] < T0).mean() == pytest.approx(0.45, abs=0.05)
    assert (customers["signup_at"] > T0 + pd.Timedelta(days=600)).any()
    n_orders = orders.groupby("customer_id").size()
    browsers = set(sessions["customer_id"]) - set(orders["customer_id"])
    assert 0.04 < len(browsers) / len(customers) < 0.16  # suspicion / expectation
    assert (n_orders == 1).any() and (n_orders >= 10).any()  # first and repeat purchase
    assert customers["referred_by"].notna().any()  # advocates


def test_rejects_bad_arguments() -> None:
    ok = {"n_customers": 10, "start": START, "days": 60, "seed": 1}
    for name, value in [
        ("n_customers", 0),
        ("days", 5),
        ("seed", -1),
        ("survey_share", 1.5),
    ]:
        with pytest.raises(ValueError, match=name):
            generate_shop(**{**ok, name: value})
    with pytest.raises(TypeError, match="start"):
        generate_shop(**{**ok, "start": dt.datetime(2023, 1, 1)})
    with pytest.raises(TypeError, match="n_customers"):
        generate_shop(**{**ok, "n_customers": 10.0})


def test_tiny_shop_still_has_every_table() -> None:
    shop = generate_shop(n_customers=3, start=START, days=30, seed=0, survey_share=0.0)
    assert set(shop.tables) == TABLE_NAMES
    for name, frame in shop.tables.items():
        assert tuple(frame.columns) == schema.TABLES[name].names
    assert shop.tables["surveys"].empty


# --- the loyalty theory, visible in the raw data ------------------------------------------


def test_only_a_minority_of_bad_experiences_are_voiced(small: SyntheticShop) -> None:
    truth = small.truth
    voiced = truth["n_complaints"].sum() / truth["n_bad_experiences"].sum()
    assert 0.08 < voiced < 0.25
    # Silent dissatisfaction shows as returns and low ratings.
    orders = small.tables["orders"]
    late = orders["delivered_at"] > orders["promised_delivery_at"]
    assert orders.loc[late, "rating"].mean() < orders.loc[~late, "rating"].mean() - 0.8
    assert orders["rating"].notna().mean() == pytest.approx(0.40, abs=0.05)


def test_surveys_sample_ordering_customers_and_reflect_type(small: SyntheticShop) -> None:
    surveys = small.tables["surveys"]
    ordering = small.tables["orders"]["customer_id"].nunique()
    assert len(surveys) / ordering == pytest.approx(0.10, abs=0.025)
    assert set(surveys["customer_id"]) <= set(small.tables["orders"]["customer_id"])
    truth = small.truth.set_index("customer_id").loc[surveys["customer_id"]]
    matches = surveys["main_reason"].to_numpy() == truth["true_type"].map(REASON_OF_TYPE)
    assert 0.8 < matches.mean() < 0.95
    assert np.corrcoef(surveys["attachment"], truth["attachment"])[0, 1] > 0.7


def test_survey_share_is_a_parameter() -> None:
    shop = generate_shop(n_customers=2_000, start=START, days=DAYS, seed=11, survey_share=0.3)
    ordering = shop.tables["orders"]["customer_id"].nunique()
    assert len(shop.tables["surveys"]) / ordering == pytest.approx(0.3, abs=0.04)


def test_default_volumes(default: SyntheticShop) -> None:
    t = default.tables
    assert 150_000 < len(t["orders"]) < 400_000
    assert 2.5 < len(t["sessions"]) / len(t["orders"]) < 4.0
    assert 1_000 < len(t["complaints"]) < 10_000


def test_unresolved_complaints_drive_customers_away(default: SyntheticShop) -> None:
    complaints = default.tables["complaints"]
    churned = _churned(default)
    opened_early = complaints["opened_at"] < END - pd.Timedelta(days=90)
    unresolved = set(
        complaints.loc[opened_early & complaints["resolved_at"].isna(), "customer_id"]
    )
    without = churned.index.difference(pd.Index(complaints["customer_id"].unique()))
    assert churned.loc[list(unresolved)].mean() > churned.loc[without].mean() + 0.25


def test_region_is_a_control_with_no_effect(default: SyntheticShop) -> None:
    customers = default.tables["customers"].set_index("customer_id")
    churned = _churned(default)
    by_region = churned.groupby(customers["region"]).mean()
    assert len(by_region) == 5
    assert by_region.max() - by_region.min() < 0.04
    premium = (default.truth.set_index("customer_id")["true_type"] == "premium").groupby(
        customers["region"]
    )
    assert premium.mean().max() - premium.mean().min() < 0.03
    orders_per_customer = (
        default.tables["orders"]
        .groupby("customer_id")
        .size()
        .reindex(customers.index, fill_value=0)
    )
    per_region = orders_per_customer.groupby(customers["region"]).mean()
    assert per_region.max() / per_region.min() < 1.1


def test_premium_customers_churn_less_than_price_customers(default: SyntheticShop) -> None:
    churned = _churned(default)
    kind = default.truth.set_index("customer_id")["true_type"]
    rate = churned.groupby(kind).mean()
    assert rate["premium"] < rate["price"] - 0.2
    assert rate["premium"] == rate.min()


def test_incentive_customers_buy_on_promotion_days(default: SyntheticShop) -> None:
    orders = default.tables["orders"]
    kind = default.truth.set_index("customer_id").loc[orders["customer_id"], "true_type"]
    promo_share = orders["promotion_day"].groupby(kind.to_numpy()).mean()
    assert promo_share["incentive"] > 0.5
    assert promo_share["incentive"] > promo_share["premium"] + 0.3
    discounted = (orders["discount_amount"] > 0).groupby(kind.to_numpy()).mean()
    assert discounted["price"] > discounted["premium"] + 0.2


def test_loyal_customers_choose_faster_and_use_more_channels(default: SyntheticShop) -> None:
    orders = default.tables["orders"]
    sessions = default.tables["sessions"].set_index("session_id")
    choice = orders["ordered_at"] - sessions.loc[orders["session_id"], "started_at"].to_numpy()
    kind = default.truth.set_index("customer_id").loc[orders["customer_id"], "true_type"]
    median_choice = choice.groupby(kind.to_numpy()).median()
    assert median_choice["premium"] * 3 < median_choice["price"]
    channels = orders.groupby("customer_id")["channel"].nunique()
    kinds = default.truth.set_index("customer_id").loc[channels.index, "true_type"]
    per_type = channels.groupby(kinds).mean()
    assert per_type["premium"] > per_type["price"] + 0.5


def _weekly_hazard(default: SyntheticShop, kind: str) -> pd.Series:
    """Share of the customers of one type still present at a week's start who leave in it."""
    truth = default.truth[default.truth["true_type"] == kind]
    weeks = pd.RangeIndex(DAYS // 7)
    joined = ((truth["signup_at"] - T0).dt.days // 7).clip(lower=0)
    left = (truth["churned_at"].dropna() - T0).dt.days // 7
    joined_by = joined.value_counts().reindex(weeks, fill_value=0).cumsum()
    leaving = left.value_counts().reindex(weeks, fill_value=0)
    at_risk = joined_by - leaving.cumsum().shift(1, fill_value=0)
    return leaving / at_risk


def test_price_customers_leave_once_the_competitor_opens(default: SyntheticShop) -> None:
    launch = int(0.4 * DAYS) // 7
    price = _weekly_hazard(default, "price")
    after, before = price.iloc[launch + 2 : launch + 30], price.iloc[launch - 28 : launch]
    assert after.mean() > 1.8 * before.mean()
    premium = _weekly_hazard(default, "premium")
    ratio = (
        premium.iloc[launch + 2 : launch + 30].mean() / premium.iloc[launch - 28 : launch].mean()
    )
    assert ratio < 1.4


def test_incentive_customers_leave_when_promotions_end(default: SyntheticShop) -> None:
    # Four weeks after the 618 festival (ends 18 June) against the four before it began.
    hazard = _weekly_hazard(default, "incentive")
    week_of = lambda d: (pd.Timestamp(d) - T0).days // 7  # noqa: E731
    after = hazard.iloc[week_of("2023-06-19") : week_of("2023-07-17")].mean()
    before = hazard.iloc[week_of("2023-04-17") : week_of("2023-05-15")].mean()
    assert after > 2 * before


def test_repeated_late_deliveries_drive_customers_away(default: SyntheticShop) -> None:
    orders = default.tables["orders"]
    late = (orders["delivered_at"] > orders["promised_delivery_at"]).groupby(orders["customer_id"])
    share, count, n_orders = late.mean(), late.sum(), late.size()
    churned = _churned(default)
    # Among regular buyers only: rare buyers are rarely late and often gone.
    regular = n_orders >= 5
    plagued = share.index[regular & (share > 0.3) & (count >= 3)]
    spared = share.index[regular & (share == 0)]
    assert len(plagued) > 100
    assert churned.loc[plagued].mean() > churned.loc[spared].mean() + 0.15
    causes = default.truth["churn_cause"].value_counts()
    assert causes["late_deliveries"] > 200


def test_planted_causes_precede_the_churn_they_cause(default: SyntheticShop) -> None:
    truth = default.truth.dropna(subset=["churn_cause"]).set_index("customer_id")
    orders = default.tables["orders"]
    complaints = default.tables["complaints"]

    def churners(cause: str) -> pd.Series:
        return truth.loc[truth["churn_cause"] == cause, "churned_at"]

    left = churners("unresolved_complaint")
    first_complaint = complaints.groupby("customer_id")["opened_at"].min()
    assert (first_complaint.reindex(left.index) < left).all()

    left = churners("late_deliveries")
    late = orders[orders["delivered_at"] > orders["promised_delivery_at"]]
    late = late[late["customer_id"].isin(left.index)]
    before = late["delivered_at"].to_numpy() < left.loc[late["customer_id"]].to_numpy()
    n_before = pd.Series(before).groupby(late["customer_id"].to_numpy()).sum()
    assert (n_before.reindex(left.index, fill_value=0) >= 2).all()

    left = churners("competitor")
    assert (left >= T0 + pd.Timedelta(days=round(0.4 * DAYS))).all()

    promo_days = np.sort(orders.loc[orders["promotion_day"], "ordered_at"].dt.floor("D").unique())
    left = churners("promotion_end")
    last_promo = promo_days[np.searchsorted(promo_days, left.to_numpy()) - 1]
    assert (left.to_numpy() - last_promo <= np.timedelta64(36, "D")).all()


def test_referrals_bring_premium_customers(default: SyntheticShop) -> None:
    customers = default.tables["customers"]
    premium = default.truth["true_type"] == "premium"
    share = premium.groupby(customers["acquisition_channel"]).mean()
    assert share["referral"] > 2 * share["discount_ad"]
    referrers = default.truth.set_index("customer_id").loc[
        customers["referred_by"].dropna(), "true_type"
    ]
    assert (referrers == "premium").mean() > 0.6


def test_switching_costs_keep_customers(default: SyntheticShop) -> None:
    customers = default.tables["customers"].set_index("customer_id")
    churned = _churned(default)
    kind = default.truth.set_index("customer_id")["true_type"]
    # Within one type, so the tier's own effect shows and not the type mix.
    inertia = kind == "inertia"
    rate = churned[inertia].groupby(customers.loc[inertia, "membership_tier"]).mean()
    assert rate["gold"] < rate["none"] - 0.05


def test_a_mid_period_cutoff_sees_a_realistic_churn_label(default: SyntheticShop) -> None:
    orders = default.tables["orders"]
    cutoff = T0 + pd.Timedelta(days=DAYS // 2)
    before = orders[orders["ordered_at"].between(cutoff - pd.Timedelta(days=365), cutoff, "left")]
    after = orders[orders["ordered_at"].between(cutoff, cutoff + pd.Timedelta(days=90), "left")]
    active = before["customer_id"].unique()
    quiet = ~pd.Index(active).isin(after["customer_id"].unique())
    assert 0.25 <= quiet.mean() <= 0.40


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="set RUN_SLOW=1")
def test_hundred_thousand_customers_complete() -> None:
    began = time.perf_counter()
    shop = generate_shop(n_customers=100_000, start=START, days=DAYS, seed=42)
    seconds = time.perf_counter() - began
    assert len(shop.truth) == 100_000
    assert 750_000 < len(shop.tables["orders"]) < 2_000_000
    assert seconds < 120, f"100k customers took {seconds:.1f} s"


def test_write_shop_streams_blocks_to_files_in_time_order(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four simulation blocks, each appended as it is simulated, then sorted by time.
    monkeypatch.setattr(synthetic, "_CHUNK_SIZE", 400)
    counts = synthetic.write_shop(
        n_customers=1_600,
        start=START,
        days=DAYS,
        seed=5,
        directory=tmp_path / "raw",
        truth_path=tmp_path / "truth.parquet",
    )
    files = sorted(p.name for p in (tmp_path / "raw").iterdir())
    assert files == sorted(f"{name}.parquet" for name in TABLE_NAMES)  # no scratch left
    tables = {name: pd.read_parquet(tmp_path / "raw" / f"{name}.parquet") for name in TABLE_NAMES}
    assert counts == {name: len(frame) for name, frame in tables.items()}
    assert len(pd.read_parquet(tmp_path / "truth.parquet")) == 1_600
    orders, sessions = tables["orders"], tables["sessions"]
    # ids are handed out in time order across blocks, and references follow them
    assert orders["ordered_at"].is_monotonic_increasing
    assert orders["order_id"].is_monotonic_increasing and orders["order_id"].is_unique
    assert sessions["started_at"].is_monotonic_increasing
    assert sessions["session_id"].is_monotonic_increasing
    _check_invariants(
        SyntheticShop(tables=tables, truth=pd.read_parquet(tmp_path / "truth.parquet"))
    )


def test_blocks_simulated_in_worker_processes_write_the_same_bytes(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each block has its own seed: two workers simulating them out of step must write
    # exactly what one process writes block by block.
    monkeypatch.setattr(synthetic, "_CHUNK_SIZE", 300)
    out = {}
    for workers in (1, 2):
        monkeypatch.setattr(synthetic, "_WORKERS", workers)
        root = tmp_path / f"w{workers}"
        synthetic.write_shop(
            n_customers=1_000,
            start=START,
            days=DAYS,
            seed=11,
            directory=root / "raw",
            truth_path=root / "truth" / "truth.parquet",
        )
        out[workers] = {
            p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.parquet"))
        }
    assert len(out[1]) >= len(TABLE_NAMES) + 2  # the tables, the truth, the campaign effects
    assert out[2] == out[1]


# ------------------------------------------------------------ retention campaigns


@pytest.fixture(scope="module")
def campaign_shop() -> SyntheticShop:
    return generate_shop(n_customers=12_000, start=START, days=DAYS, seed=11)


def _outcomes(shop: SyntheticShop) -> pd.DataFrame:
    """Each contact with its customer's true type and whether they ordered in 90 days."""
    contacts = shop.tables["contacts"].copy()
    contacts["day"] = pd.to_datetime(contacts["campaign"])
    orders = shop.tables["orders"][["customer_id", "ordered_at"]]
    both = contacts[["customer_id", "day"]].merge(orders, on="customer_id")
    within = both[
        (both["ordered_at"] >= both["day"])
        & (both["ordered_at"] < both["day"] + pd.Timedelta(days=90))
    ]
    bought = within.groupby(["customer_id", "day"]).size().rename("n").reset_index()
    out = contacts.merge(bought, on=["customer_id", "day"], how="left")
    out["churned"] = out["n"].isna()
    out = out[out["day"] + pd.Timedelta(days=90) <= pd.Timestamp(START) + pd.Timedelta(days=DAYS)]
    types = shop.truth.set_index("customer_id")["true_type"]
    out["type"] = types.loc[out["customer_id"]].to_numpy()
    out["arm_play"] = out["play"].astype(object).where(out["arm"] == "treatment", "control")
    return out.merge(shop.campaign_effects, on=["customer_id", "campaign", "arm", "play"])


def test_campaigns_are_randomised_contact_histories(campaign_shop):
    contacts = campaign_shop.tables["contacts"]
    assert list(contacts.columns) == list(schema.CONTACTS.names)
    assert set(contacts["arm"]) == {"treatment", "control"}
    control = contacts["arm"] == "control"
    assert (
        contacts.loc[control, "play"].isna().all() and (contacts.loc[control, "cost"] == 0).all()
    )
    assert set(contacts.loc[~control, "play"]) == set(synthetic.CAMPAIGN_PLAYS)
    assert 0.2 < control.mean() < 0.3  # the held-out share
    assert not contacts.duplicated(["customer_id", "campaign"]).any()
    # chosen by the naive rule on the past: last order 3+ calendar weeks back (none in 14 days)
    orders = campaign_shop.tables["orders"][["customer_id", "ordered_at"]]
    day = pd.to_datetime(contacts["campaign"])
    m = contacts.assign(day=day).merge(orders, on="customer_id")
    recent = (m["ordered_at"] < m["day"]) & (m["ordered_at"] >= m["day"] - pd.Timedelta(days=14))
    assert not recent.any()
    # the truth has every contact, and the pipeline's tables hold no effect
    assert len(campaign_shop.campaign_effects) == len(contacts)
    assert not any(c.startswith("effect_") for c in contacts.columns)


def test_planted_effects_show_in_the_randomised_arms(campaign_shop):
    """What the arms show is what was planted: a discount keeps price customers, any
    contact pushes latent ones away (sleeping dogs), a service call wakes inertia ones."""
    out = _outcomes(campaign_shop)
    rate = out.groupby(["type", "arm_play"])["churned"].mean()
    planted = out.groupby(["type", "arm_play"])[
        [f"effect_{p}" for p in synthetic.CAMPAIGN_PLAYS]
    ].mean()

    def observed(kind: str, play: str) -> float:  # drop in churn the play caused
        return rate[(kind, "control")] - rate[(kind, play)]

    assert observed("price", "discount") > 0.06
    assert planted.loc[("price", "control"), "effect_discount"] > 0.06
    for play in synthetic.CAMPAIGN_PLAYS:
        assert observed("latent", play) < -0.03, play
        assert planted.loc[("latent", "control"), f"effect_{play}"] < -0.05, play
    assert observed("inertia", "service_recovery") < -0.03
    # the planted effect of the play each contact got agrees with what happened, overall
    treated = out[out["arm"] == "treatment"]
    got = np.array(
        [row[f"effect_{row['play']}"] for _, row in treated[["play", *planted.columns]].iterrows()]
    )
    control_rate = out.loc[out["arm"] == "control", "churned"].mean()
    assert abs((control_rate - treated["churned"].mean()) - got.mean()) < 0.02
