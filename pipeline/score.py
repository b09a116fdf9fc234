"""The call list and the win-back list: who to contact, why, what to do, what it is worth.

Every scored customer gets a segment (``pipeline.segments``) and a play
(``pipeline.loyalty.recommend_play``). What a contact can still save is

    saveable value = churn probability x expected value if retained x success,

where success is the chance that a contact keeps a customer who would otherwise leave:
the segment's rate (early warning > lapsing > lapsed) times the play's factor (a
complaint put right works better than a coupon for a price hunter). Its expected
profit is ``margin x saveable value - (contact cost + offer cost)``.

Both lists are ranked by saveable value (the 80/20 logic: a few customers carry most
of the value). A list is as long as the expected profit keeps growing, within its
budget (:func:`list_length`), never a fixed number: early-warning and lapsing
customers form the call list, lapsed ones the win-back list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipeline.loyalty import (
    NO_CONTACT_PLAYS,
    PLAYS,
    SITUATION_PLAY,
    WINBACK_PLAYS,
    recommend_play,
    relationship_stage,
    situations,
)
from pipeline.segments import assign_segments, rhythm, slow_rhythm

CALL = "call"
WINBACK = "winback"

# Columns of every list, in order (reasons and pass-through columns: see list_columns).
LIST_COLUMNS = (
    "as_of",
    "list",
    "rank",
    "customer_id",
    "segment",
    "churn_probability",
    "churn_probability_prev",
    "risk_band",
    "days_since_last_order",
    "usual_gap_days",
    "overdue_after_days",
    "loyalty_type",
    "loyalty_type_probability",
    "loyalty_type_source",
    "relationship_stage",
    "expected_value",
    "value_at_risk",
    "contact_success",
    "saveable_value",
    "contact_cost",
    "expected_profit",
    "uplift",
    "expected_saved_value",
    "play",
    "play_source",
    "recommended_action",
    "play_because",
    "reasons",
    "keeps_them",
)
COLUMN_DOCS: dict[str, str] = {
    "as_of": "the scoring date: only data before it was used",
    "list": "call (early warning and lapsing), winback (lapsed) or empty (not contacted)",
    "rank": "position in its list, 1 = contact first (by the value a contact can save)",
    "customer_id": "the shop's customer id",
    "segment": "early_warning (within their rhythm, risk high or rising), lapsing (overdue "
    "against their own rhythm), lapsed (no order for a whole horizon: win-back), steady",
    "churn_probability": "chance of no order within the horizon (the shipped, calibrated model)",
    "churn_probability_prev": "the same model's probability at the previous snapshot; "
    "empty: not scored then (no order in the lookback before it, e.g. a new customer)",
    "risk_band": "low, medium or high churn probability (the cut-offs: score.band_thresholds, "
    "on the workbook's first sheet)",
    "days_since_last_order": "whole days from the last order to the as-of date",
    "usual_gap_days": "the customer's usual days between orders (the shop's, for a customer "
    "who bought on fewer than three days)",
    "overdue_after_days": "whole days of silence after which the customer is overdue "
    "(lapsing when days_since_last_order exceeds it): the usual gap plus its usual spread; "
    "an early-warning customer past the usual gap but not this far is within their rhythm. "
    "A whole horizon of silence makes anyone lapsed first, so at the horizon or beyond it "
    "never applies",
    "loyalty_type": "premium, inertia, convenience, monopoly, incentive, price or latent (the "
    "workbook's first sheet says what each means)",
    "loyalty_type_probability": "how sure the type classifier is (empty: rule-based type)",
    "loyalty_type_source": "classifier (learnt from surveyed customers) or rules",
    "relationship_stage": "first_purchase, repeat_purchase or advocate",
    "expected_value": "expected spend over the horizon if the customer stays",
    "value_at_risk": "churn_probability x expected_value",
    "contact_success": "chance a contact keeps them if they would otherwise leave: the "
    "segment's rate x the play's factor (rules), or uplift / churn_probability (uplift "
    "model)",
    "saveable_value": "value_at_risk x contact_success: what a contact can still save",
    "contact_cost": "the contact plus the play's offer (credit, points, gift); the uplift "
    "model's plays: what past campaigns recorded for the play; 0 when no one is contacted",
    "expected_profit": "margin x saveable_value - contact_cost",
    "uplift": "how much the play lowers the churn probability, learnt from past campaigns' "
    "control groups (empty: the rules chose the play, see play_source, or steady and not "
    "to be contacted; negative: the contact would push them away)",
    "expected_saved_value": "uplift x margin x expected_value - contact_cost: the profit the "
    "play is expected to save (uplift model), the list's expected_profit when it decided",
    "play": "the retention play's key (the workbook's first sheet lists them, each with its "
    "action); do_not_contact and none: no contact",
    "play_source": "uplift model (learnt from past campaigns with control groups; it decides "
    "where it out-targeted churn risk, value at risk and chance on the latest finished "
    "campaign, unless uplift.require_lead is off, and for customers within the campaigns' "
    "reach) or rules (segment, situation and loyalty type); the first sheet's 'Plays from' "
    "says which decided this run, and why",
    "recommended_action": "what to do",
    "play_because": "why this play: the fact that calls for a fix, or the segment and type "
    "(rules); its effect beside the next best play's (uplift model)",
    "keeps_them": "a real strength that lowers the risk (advocacy, points, rhythm, ...)",
}
MONEY_COLUMNS = (
    "expected_saved_value",
    "expected_value",
    "value_at_risk",
    "saveable_value",
    "contact_cost",
    "expected_profit",
)
PROBABILITY_COLUMNS = (
    "churn_probability",
    "churn_probability_prev",
    "loyalty_type_probability",
    "contact_success",
    "uplift",
)
# Days as the CSVs write them: whole days since the last order, gaps to a tenth.
DAY_FORMATS = {"days_since_last_order": "0", "usual_gap_days": "0.0", "overdue_after_days": "0"}
# Day counts written to a tenth (the CSV, the workbook).
TENTH_DAYS = ("usual_gap_days",)


@dataclass(frozen=True)
class Economics:
    """What a contact costs and how often it works, by segment and play."""

    margin: float
    contact_cost: float
    success: Mapping[str, float]  # segment -> chance a contact keeps the customer
    offer_cost: Mapping[str, float]  # play -> money per contact beyond the contact
    success_factor: Mapping[str, float]  # play -> multiplier of the segment's rate

    @classmethod
    def with_defaults(
        cls,
        *,
        margin: float,
        contact_cost: float,
        success: Mapping[str, float],
        overrides: Mapping[str, Mapping[str, float | None]] | None = None,
    ) -> Economics:
        """Play costs and factors from :data:`pipeline.loyalty.PLAYS`, then ``overrides``."""
        offer = {k: p.offer_cost for k, p in PLAYS.items()}
        factor = {k: p.success_factor for k, p in PLAYS.items()}
        for key, o in (overrides or {}).items():
            if key not in PLAYS:
                raise ValueError(f"unknown play {key!r}; known plays: {sorted(PLAYS)}")
            if o.get("offer_cost") is not None:
                offer[key] = float(o["offer_cost"])
            if o.get("success_factor") is not None:
                factor[key] = float(o["success_factor"])
        return cls(margin, contact_cost, dict(success), offer, factor)

    def with_recorded_costs(self, costs: Mapping[str, float]) -> Economics:
        """The same, with each play's cost what the shop's campaigns recorded for it (the
        contact and its offer): one price per play on the lists, whether the rules or
        the uplift model chose it. Plays the campaigns never ran keep their own."""
        offer = dict(self.offer_cost)
        for play, cost in costs.items():
            if play in offer:
                offer[play] = max(0.0, float(cost) - self.contact_cost)
        return replace(self, offer_cost=offer)


def score_customers(
    scoring: pd.DataFrame,
    features: pd.DataFrame,
    *,
    horizon_days: int,
    band_thresholds: tuple[float, float],
    rising_by: float,
    economics: Economics,
) -> pd.DataFrame:
    """Every customer of the scoring population with segment, play and economics.

    Parameters
    ----------
    scoring
        One row per customer: ``customer_id``, ``churn_probability``,
        ``churn_probability_prev`` (previous snapshot; missing if not in it),
        ``expected_value`` (spend over the next horizon if retained) and the loyalty
        type columns.
    features
        The same customers' features at the scoring cutoff (extra customers ignored).
    horizon_days
        The churn horizon: no order for this long means lapsed.
    band_thresholds
        (low/medium, medium/high) probability thresholds; high counts as an early
        warning, and a rise counts from low/medium on.
    rising_by
        Rise in probability since the previous snapshot that counts as a warning.
    economics
        Margin, costs and success rates.

    Returns
    -------
    DataFrame
        One row per customer of ``scoring`` (same order), with the list columns except
        ``as_of``, ``list``, ``rank`` and the reasons.

    Raises
    ------
    KeyError
        If a customer of ``scoring`` has no features.
    ValueError
        If a probability or value is missing or out of range.
    """
    _check_scoring(scoring)
    ids = scoring["customer_id"]
    # hash lookup: Series.isin on Arrow strings walks the values in Python
    position = pd.Index(features["customer_id"]).get_indexer_for(ids)
    unknown = position < 0
    if unknown.any():
        raise KeyError(
            f"scoring: {int(unknown.sum())} of {len(ids)} customers have no features at the "
            f"scoring cutoff, e.g. {ids[unknown].head(5).tolist()}"
        )
    f = features.iloc[position]
    f.index = scoring.index
    out = scoring.copy()
    out = out.join(rhythm(f))
    # the list's name for it, in whole days: lapsing once days_since_last_order (whole
    # days) exceeds it, as floor(days) > due is floor(days) > floor(due)
    out["overdue_after_days"] = np.floor(out["due_days"])
    out["days_since_last_order"] = f["days_since_last_order"].to_numpy()
    lo, hi = band_thresholds
    p = out["churn_probability"]
    out["risk_band"] = np.select([p >= hi, p >= lo], ["high", "medium"], default="low")
    out["segment"] = assign_segments(
        out,
        horizon_days=horizon_days,
        high_risk=hi,
        rising_by=rising_by,
        rising_floor=lo,
    )
    out["relationship_stage"] = relationship_stage(f).to_numpy()
    facts = situations(f)
    value = out["expected_value"]
    # 80/20: the top fifth by value is worth a win-back whatever the type
    valuable = value.rank(ascending=False, method="first") <= max(1, int(0.2 * len(out)))
    out["play"] = recommend_play(out["segment"], out["loyalty_type"], facts["situation"], valuable)
    out["recommended_action"] = out["play"].map({k: p.action for k, p in PLAYS.items()})
    # the situation's fix names what was seen ("the recent returns", not "or low ratings")
    fixing = out["play"].eq(facts["situation"].map(SITUATION_PLAY))
    out.loc[fixing, "recommended_action"] = facts.loc[fixing, "situation_action"]
    out["play_because"] = _because(out, facts, horizon_days)
    # an open complaint needs its answer whatever play the campaigns' evidence picks
    is_open = np.zeros(len(out), dtype=bool)
    if "complaints_unresolved_now" in f:
        is_open = pd.to_numeric(f["complaints_unresolved_now"], errors="coerce").fillna(0) >= 1
        is_open = is_open.to_numpy()
    out["open_complaint"] = facts["situation_fact"].where(is_open)
    complained = pd.Series(False, index=out.index)
    if "complaints_365d" in f:
        complained = pd.to_numeric(f["complaints_365d"], errors="coerce").fillna(0) >= 1
    out["complained_this_year"] = complained.to_numpy()
    word_service_recovery(out, np.ones(len(out), dtype=bool))
    # steady or not, whatever the rules chose: a complaint still open is answered
    _complaint_first(out, np.ones(len(out), dtype=bool))

    rate = out["segment"].map(economics.success).fillna(0.0)
    out["contact_success"] = rate * out["play"].map(economics.success_factor)
    out["value_at_risk"] = p * value
    out["saveable_value"] = out["value_at_risk"] * out["contact_success"]
    contacted = ~out["play"].isin(NO_CONTACT_PLAYS)
    out["contact_cost"] = np.where(
        contacted, economics.contact_cost + out["play"].map(economics.offer_cost), 0.0
    )
    out["expected_profit"] = economics.margin * out["saveable_value"] - out["contact_cost"]
    return out


UPLIFT_SOURCE, RULES_SOURCE = "uplift model", "rules"
NO_CONTACT = ("do not contact", "no contact")


def plays_from(
    uplift: Mapping[str, Any] | None, sources: Mapping[str, int], steady: int = 0
) -> str:
    """Who chose the plays of this run, and why, in one sentence (``reports/uplift.json``,
    the customers per ``play_source`` and how many are steady): for the summary, the
    workbook and the log."""
    by_model = int(sources.get(UPLIFT_SOURCE, 0))
    by_rules = int(sources.get(RULES_SOURCE, 0))
    if not uplift or not uplift.get("available"):
        why = (uplift or {}).get(
            "reason"
        ) or "the shop has no contacts table (no campaign history)"
        return f"the rules, for all {by_rules:,} customers: {why}"
    if not uplift.get("decides", True):
        return f"the rules, for all {by_rules:,} customers: {uplift.get('verdict', '')}"
    reach = (uplift.get("shipped") or {}).get("reach") or {}
    beyond = (
        f" and {by_rules - steady:,} more beyond the campaigns' reach, silent for less than "
        f"{reach['low']:.0f} or more than {reach['high']:.0f} days"
        if reach.get("outside") and by_rules > steady
        else ""
    )
    return (
        f"the uplift model for {by_model:,} customers, the rules for {by_rules:,} (the "
        f"{steady:,} steady customers{beyond}); {uplift.get('verdict', '')}"
    )


def apply_uplift(
    customers: pd.DataFrame, predictions: pd.DataFrame | None, economics: Economics
) -> pd.DataFrame:
    """Let the campaigns' evidence decide the play where there is any.

    For every customer the uplift stage scored (``data/uplift/uplift.parquet``) and
    whose segment calls for a contact, the play becomes the one with the highest
    expected saved value; "do not contact" (every tested play would push them away, in
    expectation or by their likely loyalty types) and "no contact" (none pays for
    itself) take them off the lists. Saveable value,
    success and profit then follow the uplift, so the lists rank by what a contact is
    expected to save. Everyone else, and every shop without campaign history, keeps
    the rules' play; ``play_source`` says which decided.
    """
    out = customers.copy()
    out["uplift"] = np.nan
    out["expected_saved_value"] = np.nan
    out["play_source"] = RULES_SOURCE
    if predictions is None or predictions.empty:
        return out
    pred = predictions.set_index("customer_id")
    position = pred.index.get_indexer(out["customer_id"])
    known = position >= 0
    rows = pred.iloc[position[known]]
    decides = known & (out["segment"] != "steady").to_numpy()
    # what the chosen play is worth, only where it is chosen: a steady customer gets no
    # play, and a figure beside "No contact" would read as profit left on the table
    out.loc[decides, "uplift"] = rows["uplift"].to_numpy()[decides[known]]
    out.loc[decides, "expected_saved_value"] = rows["expected_saved_value"].to_numpy()[
        decides[known]
    ]
    chosen = pd.Series(pd.NA, index=out.index, dtype="object")
    chosen[known] = rows["uplift_play"].to_numpy(dtype=object)
    cost = pd.Series(np.nan, index=out.index)
    cost[known] = rows["cost"].to_numpy(dtype=float)
    dont = decides & (chosen == "do not contact").to_numpy()
    none = decides & (chosen == "no contact").to_numpy()
    act = decides & ~dont & ~none
    out.loc[dont, "play"] = "do_not_contact"
    out.loc[none, "play"] = "none"
    out.loc[act, "play"] = chosen[act].to_numpy()
    out.loc[decides, "play_source"] = UPLIFT_SOURCE
    out.loc[decides, "recommended_action"] = out.loc[decides, "play"].map(
        {k: p.action for k, p in PLAYS.items()}
    )
    # not "keep serving them well": they are lapsing or gone, and no offer pays
    out.loc[none, "recommended_action"] = NO_PLAY_PAYS
    # marked although some play's expected effect is positive: by the type model's guess.
    # Their best play may lower churn, by too little for its cost: say so, and how much
    # of the campaigns' type model goes to types every play pushed away
    names = [c for c in rows.columns if c.startswith("effect_")]
    effects = rows[names].to_numpy(dtype=float)
    marked = np.zeros(len(out), dtype=bool)
    marked[known] = ~(effects < 0).all(axis=1)
    marked &= dont
    out.loc[dont, "play_because"] = (
        "in past campaigns, customers like them left more often when contacted, whatever the play"
    )
    if marked.any():
        sub = marked[known]
        best = effects[sub].max(axis=1)
        best_play = np.array([c.removeprefix("effect_") for c in names])[
            effects[sub].argmax(axis=1)
        ]
        on = out.index[marked]
        harm = (
            "; past campaigns' type model gives "
            + (100 * rows["harm_probability"][sub]).round().astype(int).astype(str).to_numpy()
            + "% of its probability to loyalty types every play pushed away (its estimate, "
            "not the loyalty type shown)"
            if "harm_probability" in rows
            else ""
        )
        # the uplift column is the play the reason names (it held the play with the
        # best net value, another play's effect: reviewed, -0.0103 beside "1.6 points")
        out.loc[marked, "uplift"] = best
        out.loc[marked, "recommended_action"] = TYPED_DO_NOT_CONTACT
        out.loc[marked, "play_because"] = (
            "the best play tested, "
            + pd.Series(best_play, index=on).map(lambda k: PLAY_NOUNS.get(k, k))
            + ", would lower their churn probability by "
            + _points(pd.Series(best, index=on))
            + " but costs more than it saves"
            + harm
        )
    word_service_recovery(out, decides)
    _complaint_first(out, decides)
    uplift = out["uplift"].clip(lower=0.0)
    p = out["churn_probability"].clip(lower=1e-6)
    out.loc[act, "contact_success"] = (uplift / p).clip(upper=1.0)[act]
    out.loc[act, "saveable_value"] = (uplift * out["expected_value"])[act]
    out.loc[act, "contact_cost"] = cost[act]
    out.loc[dont | none, "contact_success"] = 0.0
    out.loc[dont | none, "saveable_value"] = 0.0
    out.loc[dont | none, "contact_cost"] = 0.0
    out["expected_profit"] = economics.margin * out["saveable_value"] - out["contact_cost"]
    out.loc[none, "play_because"] = "no play tested in past campaigns pays for itself here"
    out.loc[act, "play_because"] = _uplift_because(
        out.loc[act, "play"], out.loc[act, "uplift"], rows.set_index(out.index[known]), act[known]
    )
    return out


# Service recovery where no complaint is open: after one made this year (answered, maybe
# slowly), and for a customer who never complained (a campaigns' personal service call).
RECOVERY_AFTER = (
    "Service recovery: a personal call about the complaint they made: apologise for how "
    "it went, check it stayed put right, follow up"
)
SERVICE_CALL = "Personal service call: ask how things are going and put right what comes up"


def word_service_recovery(out: pd.DataFrame, rows: np.ndarray) -> None:
    """A service-recovery play says what it answers. Its catalogue words ("fix the open
    complaint") fit only a customer with a complaint open; reviewed, 45 of a shop's 107
    service-recovery customers had none (the rules chose it for a complaint resolved
    slowly, the campaigns' model for anyone a service call keeps)."""
    if "open_complaint" not in out:
        return
    todo = rows & (out["play"] == "service_recovery").to_numpy() & out["open_complaint"].isna()
    past = out.get("complained_this_year", pd.Series(False, index=out.index)).to_numpy(bool)
    out.loc[todo & past, "recommended_action"] = RECOVERY_AFTER
    out.loc[todo & ~past, "recommended_action"] = SERVICE_CALL


def _complaint_first(out: pd.DataFrame, rows: np.ndarray) -> None:
    """An open complaint is answered first, whatever play the campaigns chose: the rules
    put service recovery first (LOYALTY.md), an offer on top of an unanswered complaint
    does harm. ``rows``: the customers to look at (everyone for the rules, those whose
    play the uplift model decided after it)."""
    if "open_complaint" not in out:
        return
    fact = out["open_complaint"]
    todo = rows & fact.notna().to_numpy() & ~out["play"].isin(COMPLAINT_PLAYS).to_numpy()
    if not todo.any():
        return
    idle = todo & out["play"].isin(NO_CONTACT_PLAYS).to_numpy()
    act = todo & ~idle
    before, after = _ANSWER_FIRST.split("{fact}")
    out.loc[act, "recommended_action"] = (
        before + fact[act] + after + out.loc[act, "recommended_action"]
    )
    before, after = _ANSWER_STILL.split("{fact}")
    out.loc[idle, "recommended_action"] = (
        out.loc[idle, "recommended_action"] + before + fact[idle] + after
    )


# What an open complaint adds to an action (_complaint_first), and the way back to the
# action itself (the report counts customers by it).
_ANSWER_FIRST = "First answer the open complaint ({fact}): apologise, fix, follow up. Then: "
_ANSWER_STILL = ". Still answer the open complaint ({fact}): apologise, fix, follow up; no offer"
_ANSWERS = "|".join(
    (
        "^" + re.escape(_ANSWER_FIRST).replace(r"\{fact\}", r"[^)]*"),
        re.escape(_ANSWER_STILL).replace(r"\{fact\}", r"[^)]*") + "$",
    )
)


def action_without_complaint(actions: pd.Series) -> pd.Series:
    """``recommended_action`` without what an open complaint added to it."""
    return actions.astype("object").str.replace(_ANSWERS, "", regex=True)


# The action of a customer the uplift model decided no play pays for (play "none"), and
# of one marked "do not contact" by their likely loyalty types although a play would
# help a little.
NO_PLAY_PAYS = "No contact: no play tested in past campaigns pays for itself for them"
TYPED_DO_NOT_CONTACT = (
    "Do not contact: no play pays for itself, and they may be of a type contacts push away"
)

# Plays that answer an open complaint themselves.
COMPLAINT_PLAYS = ("service_recovery", "winback_recovery")

# The campaigns' plays as a sentence names them.
PLAY_NOUNS = {
    "discount": "a discount coupon",
    "points": "a points bonus",
    "fulfilment_fix": "free express delivery",
    "service_recovery": "a service call",
    "winback": "a win-back offer",
}


def _uplift_because(
    play: pd.Series, uplift: pd.Series, rows: pd.DataFrame, act: np.ndarray
) -> pd.Series:
    """Why the uplift model chose each play: its effect and the runner-up's.

    ``rows``: the uplift predictions of the scored customers (``effect_<play>`` per
    play), ``act`` which of them the model gave a play to (the order of ``play``)."""
    effects = rows.loc[act, [c for c in rows.columns if c.startswith("effect_")]]
    text = "past campaigns: lowers their churn probability by " + _points(uplift)
    if effects.shape[1] < 2:
        return text
    names = np.array([c.removeprefix("effect_") for c in effects.columns], dtype=object)
    values = effects.to_numpy(dtype=float, copy=True)
    values[names[None, :] == play.to_numpy(dtype=object)[:, None]] = -np.inf
    second = values.argmax(axis=1)
    second_effect = pd.Series(values[np.arange(len(values)), second], index=play.index)
    noun = pd.Series(names[second], index=play.index).map(lambda k: PLAY_NOUNS.get(k, k))
    # chosen by saved value net of cost: a dearer play may remove more churn
    dearer = second_effect > uplift
    return text + np.select(
        [dearer, second_effect > 0],
        [
            "; " + noun + " would remove " + _points(second_effect) + " but costs more",
            "; the next best, " + noun + ", by " + _points(second_effect),
        ],
        "; every other play would push them away",
    )


def _points(share: pd.Series) -> pd.Series:
    return (100 * share).round(1).astype(str) + " points"


def _check_scoring(scoring: pd.DataFrame) -> None:
    needed = ["customer_id", "churn_probability", "churn_probability_prev", "expected_value"]
    missing = [c for c in needed if c not in scoring]
    if missing:
        raise ValueError(
            f"scoring: columns {missing} missing ({len(scoring)} rows; present: "
            f"{list(scoring.columns)})"
        )
    p = scoring["churn_probability"]
    bad = p.isna() | (p < 0) | (p > 1)
    if bad.any():
        raise ValueError(
            f"scoring: churn_probability missing or outside [0, 1] in {int(bad.sum())} of "
            f"{len(p)} rows, e.g. {scoring.loc[bad, ['customer_id', 'churn_probability']].head(5).to_dict('records')}"  # noqa: E501
        )
    v = scoring["expected_value"]
    bad = v.isna() | (v < 0)
    if bad.any():
        raise ValueError(
            f"scoring: expected_value missing or negative in {int(bad.sum())} of {len(v)} rows, "
            f"e.g. {scoring.loc[bad, ['customer_id', 'expected_value']].head(5).to_dict('records')}"  # noqa: E501
        )
    dup = scoring["customer_id"].duplicated()
    if dup.any():
        raise ValueError(
            f"scoring: {int(dup.sum())} duplicate customer_id values, e.g. "
            f"{scoring.loc[dup, 'customer_id'].head(5).tolist()}"
        )


def _because(out: pd.DataFrame, facts: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Why this play: the fact that called for a fix, or the segment and type."""
    days = whole_days(out["days_since_last_order"]).astype("int64").astype(str)
    seg = out["segment"]
    by_type = out["loyalty_type"].fillna("unknown").astype(str) + " loyalty"
    gone = "no order for " + days + " days"
    text = by_type.where(facts["situation"].isna(), facts["situation_fact"])
    text = text.where(seg != "lapsed", gone)
    play = out["play"].to_numpy(dtype=object)
    text = text.where(play != "winback_recovery", gone + "; " + facts["situation_fact"].fillna(""))
    text = text.where(play != "let_go", gone + "; price loyalty, low value")
    steady = text.where(seg != "steady", "within their rhythm, risk not high or rising")
    # a steady customer whose own rhythm is a horizon or longer may carry a high risk:
    # no order within the horizon is their normal (reviewed: 256 steady rows in the high
    # band read "risk not high")
    slow = (
        (seg == "steady")
        & slow_rhythm(out["own_rhythm"], out["usual_gap_days"], horizon_days)
        & (out["risk_band"] != "low")
    )
    if slow.any():
        gap = out.loc[slow, "usual_gap_days"].round().astype("int64").map("{:,}".format)
        steady[slow] = (
            "within their rhythm: they usually order every "
            + gap
            + " days, so no order within the horizon is their normal, whatever the risk"
        )
    return steady


def list_columns(k: int, pass_through: tuple[str, ...] = ()) -> list[str]:
    """The list columns in order: ``reason_1..k`` in place of ``reasons``, pass-through
    columns after ``customer_id``."""
    out: list[str] = []
    for c in LIST_COLUMNS:
        if c == "reasons":
            out += [f"reason_{i}" for i in range(1, k + 1)]
        else:
            out.append(c)
        if c == "customer_id":
            out += list(pass_through)
    return out


def column_docs(k: int, pass_through: tuple[str, ...] = ()) -> dict[str, str]:
    """Meaning of every list column, in list order."""
    docs = dict(COLUMN_DOCS)
    for i in range(1, k + 1):
        docs[f"reason_{i}"] = (
            f"reason {i} for the risk, strongest first; one per concept, with the customer's "
            "own value against their own norm"
        )
    for c in pass_through:
        docs[c] = "copied from the customers file (score.pass_through)"
    return {c: docs[c] for c in list_columns(k, pass_through)}


def format_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Text for a CSV: money with cents, probabilities with four decimals, whole days.

    Never ``%.6g``: 280000.55 stays 280000.55.
    """
    out = frame.copy()
    for c in out.columns:
        if c in MONEY_COLUMNS:
            out[c] = _fixed(out[c], 2)
        elif c in PROBABILITY_COLUMNS:
            out[c] = _fixed(out[c], 4)
        elif c in ("days_since_last_order", "overdue_after_days"):
            out[c] = _fixed(whole_days(out[c]), 0)
        elif c in TENTH_DAYS:
            out[c] = _fixed(out[c], 1)
    return out


def whole_days(days: pd.Series) -> pd.Series:
    """Whole days elapsed: 89 days and 15 hours is 89, as a calendar counts them.

    Rounding would write 90 for a customer the segments (exact days) call lapsing, and
    a team filtering "90 days or more" would find them among the lapsed.
    """
    return np.floor(pd.to_numeric(days, errors="coerce").astype(float))


def in_cents(frame: pd.DataFrame) -> pd.DataFrame:
    """Money columns to the cent, and days since the last order to whole days, as the
    CSVs and the workbook write them.

    Applied once the lists are drawn (ranks and budgets use the exact values), before
    any total is taken: every total in the report, ``reports/score.json`` and
    ``dvc metrics`` is then the sum of the column a retention team adds up in a
    spreadsheet, to the penny, and a filter on the days gives the same customers in the
    workbook as in the CSV.
    """
    out = frame.copy()
    for c in MONEY_COLUMNS:
        if c in out:
            out[c] = _rounded(out[c], 2)
    if "days_since_last_order" in out:
        out["days_since_last_order"] = whole_days(out["days_since_last_order"])
    return out


def as_in_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The numbers the CSVs write, as numbers: probabilities to four decimals and the
    usual gap to one, for the workbook. A team that copies a cell from the sheet into
    the CSV's filter then finds the same customer (0.4321, not 0.43207815...)."""
    out = in_cents(frame)
    for c in PROBABILITY_COLUMNS:
        if c in out:
            out[c] = _rounded(out[c], 4)
    for c in TENTH_DAYS:
        if c in out:
            out[c] = _rounded(out[c], 1)
    return out


def _rounded(values: pd.Series, decimals: int) -> np.ndarray:
    """The values rounded as :func:`_fixed` writes them (NaN where missing)."""
    x, missing, units = _units(values, decimals)
    return np.where(missing, np.nan, np.sign(x) * units / 10**decimals)


def _units(values: pd.Series, decimals: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values, which are missing, and their magnitudes in units of 10**-decimals
    (whole numbers, 0 where missing): the one rounding the files and totals share."""
    x = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    missing = ~np.isfinite(x)
    scaled = np.rint(np.abs(np.where(missing, 0.0, x)) * 10**decimals).astype(np.int64)
    return x, missing, scaled


def _fixed(values: pd.Series, decimals: int) -> pd.Series:
    """Numbers as text with exactly ``decimals`` decimals, vectorised ("" if missing).

    Integer arithmetic on the scaled value, so a million rows take a moment and no
    float is ever printed with ``%g``.
    """
    x, missing, scaled = _units(values, decimals)
    scale = 10**decimals
    whole = pd.Series(scaled // scale, index=values.index).astype(str)
    if decimals:
        frac = pd.Series(scaled % scale, index=values.index).astype(str).str.zfill(decimals)
        whole = whole + "." + frac
    sign = np.where((x < 0) & (scaled > 0), "-", "")
    text = pd.Series(sign, index=values.index) + whole
    return text.where(~missing, "").astype(object)


def list_length(
    profit: np.ndarray,
    cost: np.ndarray,
    *,
    max_contacts: int | None,
    max_money: float | None,
) -> int:
    """How many of the ranked customers to contact: the budget rule.

    The list is the prefix of the ranking with the largest total expected profit among
    those within the budget (at most ``max_contacts`` contacts and at most
    ``max_money`` spent); the shortest such prefix on ties, and 0 if no prefix makes a
    profit.

    Parameters
    ----------
    profit
        Expected profit of contacting each customer, in ranking order.
    cost
        Cost of each contact (contact plus offer), same order.
    max_contacts, max_money
        The budget; ``None`` means no limit.

    Returns
    -------
    int
        The list length.
    """
    profit = np.asarray(profit, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if profit.shape != cost.shape:
        raise ValueError(f"profit has {profit.shape} values but cost {cost.shape}")
    total = np.concatenate([[0.0], np.cumsum(profit)])
    spent = np.concatenate([[0.0], np.cumsum(cost)])
    feasible = np.ones(len(total), dtype=bool)
    if max_contacts is not None:
        feasible &= np.arange(len(total)) <= max_contacts
    if max_money is not None:
        # a hair of tolerance: sums of cents in floating point
        feasible &= spent <= max_money + 1e-9
    return int(np.argmax(np.where(feasible, total, -np.inf)))


def build_lists(
    customers: pd.DataFrame,
    *,
    call_budget: tuple[int | None, float | None],
    winback_budget: tuple[int | None, float | None],
) -> pd.DataFrame:
    """Rank the call list and the win-back list and cut each to its budget.

    Parameters
    ----------
    customers
        From :func:`score_customers`.
    call_budget, winback_budget
        (max contacts, max money) of each list; ``None`` for no limit.

    Returns
    -------
    DataFrame
        ``customers`` with ``list`` (``call``, ``winback`` or missing) and ``rank``
        (1.. within the list; missing off the lists), ordered: the call list, the
        win-back list, then everyone else by saveable value.
    """
    out = customers.copy()
    out["list"] = None
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    ranked = out.sort_values(
        ["saveable_value", "churn_probability", "customer_id"],
        ascending=[False, False, True],
        kind="stable",
    )
    # a contact expected to cost more than it saves is no candidate: inside the prefix it
    # would lose money while a profitable customer further down is left off (reviewed)
    contactable = (ranked["contact_success"].to_numpy() > 0) & (
        ranked["expected_profit"].to_numpy() > 0
    )
    segment = ranked["segment"].to_numpy(dtype=object)
    play = ranked["play"].to_numpy(dtype=object)
    pools = {
        CALL: contactable & ((segment == "early_warning") | (segment == "lapsing")),
        WINBACK: contactable & ((segment == "lapsed") | np.isin(play, WINBACK_PLAYS)),
    }
    budgets = {CALL: call_budget, WINBACK: winback_budget}
    for name, pool in pools.items():
        candidates = ranked[pool]
        n = list_length(
            candidates["expected_profit"].to_numpy(),
            candidates["contact_cost"].to_numpy(),
            max_contacts=budgets[name][0],
            max_money=budgets[name][1],
        )
        chosen = candidates.index[:n]
        out.loc[chosen, "list"] = name
        out.loc[chosen, "rank"] = np.arange(1, n + 1)
    order = out["list"].map({CALL: 0, WINBACK: 1}).fillna(2)
    out = out.assign(_order=order).loc[ranked.index]
    return out.sort_values(["_order", "rank"], kind="stable", na_position="last").drop(
        columns="_order"
    )


def summarise_lists(scored: pd.DataFrame) -> dict[str, object]:
    """Headline numbers for ``dvc metrics``, MLflow and the report (no ids)."""
    value = scored["expected_value"].sort_values(ascending=False)
    top20 = value.head(max(1, int(round(0.2 * len(value))))).sum()
    out: dict[str, object] = {
        "customers_scored": len(scored),
        "expected_churners": round(float(scored["churn_probability"].sum()), 1),
        "expected_value_total": round(float(value.sum()), 2),
        "value_at_risk_total": round(float(scored["value_at_risk"].sum()), 2),
        "value_share_of_top_20pct_customers": round(float(top20 / max(value.sum(), 1e-9)), 4),
        "segments": _counts(scored["segment"]),
        "risk_bands": _counts(scored["risk_band"]),
        "loyalty_types": _counts(scored["loyalty_type"]),
        "relationship_stages": _counts(scored["relationship_stage"]),
    }
    for name in (CALL, WINBACK):
        rows = scored[scored["list"] == name]
        out[f"{name}_list"] = {
            "customers": len(rows),
            "cost": round(float(rows["contact_cost"].sum()), 2),
            "saveable_value": round(float(rows["saveable_value"].sum()), 2),
            "expected_profit": round(float(rows["expected_profit"].sum()), 2),
            "value_at_risk": round(float(rows["value_at_risk"].sum()), 2),
            "plays": _counts(rows["play"]),
        }
    return out


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}
