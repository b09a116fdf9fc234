"""The retention report: one self-contained HTML file a retention manager opens.

Everything is inside the file: CSS in a ``<style>`` element and the charts as inline
SVG (``pipeline.charts``). There is no script, and no address outside the file, so it
renders the same offline, attached to an e-mail or on a shared drive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from pipeline import charts
from pipeline.loyalty import PLAYS
from pipeline.score import action_without_complaint
from pipeline.segments import SEGMENT_LABELS

SEGMENT_COLORS = {
    "early warning": "#ff7f0e",
    "lapsing": "#d62728",
    "lapsed": "#7f7f7f",
    "steady": "#2ca02c",
}
SEGMENT_TEXT = {
    "early_warning": "still within their own rhythm, but the risk is high or has risen: "
    "the cheapest to keep",
    "lapsing": "overdue against their own rhythm, still inside the horizon",
    "lapsed": "no order for a whole horizon or more: win-back, not retention",
    "steady": "within their rhythm, risk neither high nor rising, or a rhythm of their "
    "own a horizon or longer (no order within it is their normal): no contact",
}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.4; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 36px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; font-size: 14px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.tile .value { font-size: 22px; font-weight: 600; } .tile .what { font-size: 13px; color: #555; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.card { border: 1px solid #ddd; border-left: 5px solid #ff7f0e; border-radius: 6px;
        padding: 10px 14px; font-size: 14px; }
.card.lapsing { border-left-color: #d62728; } .card h3 { margin: 0 0 4px 0; font-size: 16px; }
.card ul { margin: 4px 0; padding-left: 18px; } .muted { color: #666; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
.drivers li { margin-bottom: 6px; }
"""


EMPTY_CALL_LIST = "<p>The call list is empty: no contact pays within the budget.</p>"


def money(value: float) -> str:
    """With its cents and thousands separators ("12,345.67"), as in the lists; negative
    with a minus sign."""
    if value != value:
        return "-"
    return f"{value:,.2f}"


def _tile(value: str, what: str) -> str:
    return (
        f'<div class="tile"><div class="value">{escape(value)}</div>'
        f'<div class="what">{escape(what)}</div></div>'
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i in numeric else "text"}">{escape(str(c))}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _direction_in_words(label: str, direction: str) -> str:
    """Which way a feature moves the risk, in the words its unit calls for: a time since
    something is "longer ago" or "more recent", a duration "longer" or "shorter"."""
    if direction not in ("higher", "lower"):
        return "raises the risk of some customers, lowers it for others"
    up = direction == "higher"
    if label.startswith("days since"):
        word = "the longer ago" if up else "the more recent"
    elif label.startswith(("months with", "days with")):  # a count of months or days
        word = "the more" if up else "the fewer"
    elif label.startswith(("days ", "minutes ", "length ")):
        word = "the longer" if up else "the shorter"
    else:
        word = "the higher" if up else "the lower"
    return f"{word}, the riskier"


def _drivers_in_words(drivers: pd.DataFrame, top: int = 6) -> str:
    items = []
    for row in drivers.head(top).itertuples():
        covers = row.covers
        how = _direction_in_words(str(row.top_label), str(row.direction))
        if row.direction in ("higher", "lower") and getattr(row, "known_share", 1.0) < 0.95:
            # a share of customers of its own, not the concept's share above
            how = (
                f"which only {row.known_share:.0%} of customers have a value for; among "
                f"them, {how}"
            )
        items.append(
            f"<li><b>{escape(row.label)}</b> ({row.share:.0%} of what moves the risk; it raises "
            f"the risk of {row.raises_risk_share:.0%} of customers): {escape(covers)}. "
            f"Strongest signal: {escape(row.top_label)}, {escape(how)}.</li>"
        )
    return f'<ol class="drivers">{"".join(items)}</ol>'


def _card(row: Mapping[str, object], pass_through: Sequence[str]) -> str:
    seg = str(row["segment"])
    who = " · ".join(escape(str(row[c])) for c in pass_through if c in row and pd.notna(row[c]))
    prev = row.get("churn_probability_prev")
    change = ""
    if prev is not None and prev == prev:
        change = f" (was {float(prev):.0%} at the previous snapshot)"
    reasons = [row.get(f"reason_{i}") for i in (1, 2, 3)]
    reasons_html = "".join(f"<li>{escape(str(r))}</li>" for r in reasons if r and r == r)
    keeps = row.get("keeps_them")
    keeps_html = (
        f'<div><span class="muted">Keeps them:</span> {escape(str(keeps))}</div>'
        if keeps and keeps == keeps
        else ""
    )
    return (
        f'<div class="card {escape(seg)}"><h3>#{row["rank"]} · customer '
        f"{escape(str(row['customer_id']))}</h3>"
        + (f'<div class="muted">{who}</div>' if who else "")
        + f"<div>{escape(SEGMENT_LABELS.get(seg, seg))} · {escape(str(row['loyalty_type']))} "
        f"loyalty · churn risk {float(row['churn_probability']):.0%}{escape(change)}</div>"
        f"<div>worth {money(float(row['expected_value']))} over the horizon; a contact can save "
        f"{money(float(row['saveable_value']))}, expected profit "
        f"{money(float(row['expected_profit']))}</div>"
        f'<div><span class="muted">Why at risk:</span><ul>{reasons_html or "<li>-</li>"}</ul>'
        "</div>"
        f"{keeps_html}"
        f"<div><b>{escape(str(row['recommended_action']))}</b> "
        f'<span class="muted">({escape(str(row["play_because"]))})</span></div></div>'
    )


def render_report(
    scored: pd.DataFrame,
    summary: Mapping[str, object],
    drivers: pd.DataFrame,
    calibration: Mapping[str, Sequence[tuple[float, float | None, int | None]]],
    funnel: pd.DataFrame,
    meta: Mapping[str, object],
    *,
    pass_through: Sequence[str] = (),
    cards: int = 12,
    uplift: Mapping[str, object] | None = None,
) -> str:
    """The whole report as one HTML string.

    Parameters
    ----------
    scored
        Every scored customer with list, rank, segment, play, economics and reasons
        (from ``pipeline.score``), call list first.
    summary
        From :func:`pipeline.score.summarise_lists`.
    drivers
        From :func:`pipeline.explain.concept_drivers`.
    calibration
        Model -> reliability bins ``(predicted, observed, n)``; observed None for an
        empty bin.
    funnel
        From :func:`pipeline.funnel.relationship_funnel`.
    meta
        ``as_of``, ``horizon_days``, ``currency``, ``model_version``, ``value_source``,
        ``previous_cutoff``, ``calibration_source``, ``shop``.
    pass_through
        Customer columns (name, e-mail, phone) shown on the cards.
    cards
        How many of the call list get a card.
    uplift
        ``reports/uplift.json``: what the held-out campaign says about targeting (None:
        no campaign history).
    """
    call = scored[scored["list"] == "call"]
    winback = scored[scored["list"] == "winback"]
    cur = str(meta["currency"])
    # headers name a currency code; an unnamed one is said once, in the page's header
    # (reviewed: "(the shop's currency, as in its files (set score.currency ...))" in
    # every table header)
    unit = f" ({cur})" if len(cur) <= 12 else ""

    tiles = "".join(
        [
            _tile(f"{len(scored):,}", "customers scored"),
            _tile(f"{summary['expected_churners']:,.0f}", "expected to leave within the horizon"),
            _tile(money(float(summary["value_at_risk_total"])), f"value at risk{unit}"),
            _tile(f"{len(call):,}", "on the call list"),
            _tile(
                money(float(call["expected_profit"].sum())),
                f"expected profit of the call list{unit}, after "
                f"{money(float(call['contact_cost'].sum()))} of costs",
            ),
            _tile(f"{len(winback):,}", "on the win-back list"),
            _tile(
                money(float(winback["expected_profit"].sum())),
                f"expected profit of the win-back list{unit}, after "
                f"{money(float(winback['contact_cost'].sum()))} of costs",
            ),
        ]
    )

    seg_rows = []
    for key, label in SEGMENT_LABELS.items():
        rows = scored[scored["segment"] == key]
        seg_rows.append(
            [
                label,
                f"{len(rows):,}",
                money(float(rows["value_at_risk"].sum())),
                f"{int((rows['list'] == 'call').sum()):,}",
                f"{int((rows['list'] == 'winback').sum()):,}",
                SEGMENT_TEXT[key],
            ]
        )
    segments_table = _table(
        ["segment", "customers", f"value at risk{unit}", "call list", "win-back", "meaning"],
        seg_rows,
        {1, 2, 3, 4},
    )

    by_type = scored.groupby("loyalty_type")["value_at_risk"].sum().sort_values(ascending=False)
    by_stage = scored.groupby("relationship_stage")["value_at_risk"].sum()
    stage_order = [s for s in ("first_purchase", "repeat_purchase", "advocate") if s in by_stage]
    stage_order += [s for s in by_stage.index if s not in stage_order]
    by_stage = by_stage.reindex(stage_order)
    value_charts = (
        '<div class="charts"><div><h3>By loyalty type</h3>'
        + charts.bar_chart(
            [str(t) for t in by_type.index],
            by_type.to_list(),
            name="value at risk by loyalty type",
            fmt=money,
        )
        + "</div><div><h3>By relationship stage</h3>"
        + charts.bar_chart(
            [s.replace("_", " ") for s in by_stage.index],
            by_stage.to_list(),
            name="value at risk by relationship stage",
            fmt=money,
            color=charts.PALETTE[2],
        )
        + "</div></div>"
    )

    edges = np.linspace(0.0, 1.0, 21)
    hist = {}
    for key, label in SEGMENT_LABELS.items():
        p = scored.loc[scored["segment"] == key, "churn_probability"].to_numpy(dtype=float)
        hist[label] = np.histogram(np.clip(p, 0, 1), bins=edges)[0].tolist()
    risk_chart = charts.histogram(
        edges.tolist(),
        hist,
        name="risk distribution by segment",
        x_label="churn probability within the horizon",
        colors=SEGMENT_COLORS,
    )

    plays_rows = []
    for label, rows in _by_action(scored):
        listed = rows[rows["list"].notna()]
        plays_rows.append(
            [
                label,
                f"{len(rows):,}",
                f"{int((rows['list'] == 'call').sum()):,}",
                f"{int((rows['list'] == 'winback').sum()):,}",
                money(float(listed["expected_profit"].sum())),
            ]
        )
    plays_table = _table(
        ["play", "customers", "call list", "win-back", f"expected profit on the lists{unit}"],
        plays_rows,
        {1, 2, 3, 4},
    )

    calibration_chart = charts.reliability_chart(
        calibration, name="calibration: observed against predicted churn"
    )
    calibration_gap = _calibration_gap(calibration)
    funnel_chart = charts.funnel_chart(
        funnel["label"].tolist(),
        [None if v != v else float(v) for v in funnel["customers"]],
        name="relationship-stage funnel",
        highlight=funnel["scored"].tolist(),
    )

    card_html = "".join(_card(row, pass_through) for row in call.head(cards).to_dict("records"))
    prev = meta.get("previous_cutoff") or "none"
    two_plus = summary.get("reasons_two_or_more_concepts_share")
    reasons_note = (
        f" {two_plus:.0%} of the explained customers have reasons from two or more concepts."
        if isinstance(two_plus, float)
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retention report, {escape(str(meta["as_of"]))}</title>
<style>{CSS}</style></head>
<body>
<h1>Who is about to leave, why, and what to do</h1>
<div class="meta">As of {escape(str(meta["as_of"]))} · horizon {meta["horizon_days"]} days ·
money in {escape(cur)} · model {escape(str(meta["model_version"]))} · value:
{escape(str(meta["value_source"]))} · shop: {escape(str(meta["shop"]))}</div>
<div class="tiles">{tiles}</div>

<h2>Segments</h2>
<p>Each customer is judged against their own rhythm of ordering. The call list holds
early-warning and lapsing customers, as many as make the most expected profit within
the budget; lapsed customers go to the win-back list. Risk rising is measured against
the previous snapshot ({escape(str(prev))}).</p>
{segments_table}

<h2>Value at risk</h2>
<p>Churn probability times the customer's expected spend over the horizon if they stay,
in {escape(cur)}.</p>
{value_charts}

<h2>Risk distribution</h2>
{risk_chart}

<h2>What drives the risk</h2>
<p>From the model's SHAP values on a sample of the scored customers, grouped into
concepts a person reasons in.{escape(reasons_note)}</p>
{_drivers_in_words(drivers)}

<h2>Plays</h2>
{plays_table}

<h2>What past campaigns teach</h2>
{_uplift_section(uplift, scored)}

<h2>Can the probabilities be trusted?</h2>
<p>{escape(str(meta["calibration_source"]))}. A point on the diagonal means that of the
customers given that probability, that share did leave; bins with nobody in them are
left out (a gap, not a zero).{calibration_gap}{escape(str(meta.get("count_check", "")))}</p>
{calibration_chart}

<h2>The top of the call list</h2>
<div class="cards">{card_html or EMPTY_CALL_LIST}</div>

<h2>Relationship stages</h2>
<p>Suspicion, expectation, first purchase, repeat purchase, advocate. The first two are
registered customers who never bought before the scoring date (counted from
{escape(str(meta.get("funnel_source", "the customers and sessions tables")))}); a stage the
data cannot show is a gap, not a zero. The scored population starts at the first
purchase.</p>
{funnel_chart}
</body></html>
"""


POLICY_LABELS = {
    "model": "expected saved value (uplift model)",
    "risk": "churn risk",
    "value_at_risk": "value at risk",
    "random": "at random",
}


SITUATION_LABELS = {
    "late_delivery_90d": "a late parcel in 90 days",
    "open_complaint": "an open complaint",
    "recent_order_90d": "an order in 90 days",
}


def _by_action(scored: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The customers of each action, in the order of :data:`PLAYS`: a play's action,
    or the action the list gives instead where it says more (a "none" play decided by
    the campaigns reads "no play tested ... pays", not "keep serving them well"). The
    open-complaint note some actions carry is left out: it is counted in the situations.
    """
    plain = scored["play"].map({k: p.action for k, p in PLAYS.items()})
    # the list's own words (score.NO_PLAY_PAYS, ...), without the complaint's
    own = action_without_complaint(scored["recommended_action"])
    label = own.where(own.notna() & (own != ""), plain)
    out = []
    for key in PLAYS:
        mine = scored["play"] == key
        for text in pd.unique(label[mine]):
            out.append((str(text), scored[mine & (label == text)]))
    return out


def _plays_table(hazard: Mapping[str, Any]) -> str:
    """What each play did to the hazard of leaving, by loyalty type and situation."""
    types = list(hazard.get("types") or []) or ["everyone"]
    plays: Mapping[str, Mapping[str, float]] = hazard["multipliers"]
    situations = [s for s in SITUATION_LABELS if any(s in m for m in plays.values())]
    rows = []
    for play, m in plays.items():
        base = float(m["intercept"])
        label = PLAYS[play].action.split(":")[0] if play in PLAYS else play.replace("_", " ")
        cells: list[object] = [label]
        for t in types:
            factor = base * float(m.get(f"type_{t}", 1.0))
            change = round((factor - 1.0) * 100)
            cells.append(f"{change:+d}%".replace("-", "−") if change else "0%")
        cells.extend(f"×{float(m[s]):.2f}" for s in situations)
        rows.append(cells)
    header = ["play", *types, *(f"with {SITUATION_LABELS[s]}" for s in situations)]
    scale = (
        "the factor by which it divided the rate of ordering (+50%: a third fewer orders)"
        if hazard.get("link") == "loglog"
        else "the change in the hazard"
    )
    return (
        "<p>What each play did to the chance of leaving, learnt from the campaigns' random "
        f"arms: {scale} for a customer of each loyalty type in none of the "
        "situations (below zero keeps them, above zero pushes them away), and the factor each "
        "situation multiplies it by. The plays on the lists come from these.</p>"
        + _table(header, rows, set(range(1, len(header))))
    )


def _calibration_gap(calibration: Mapping[str, Sequence[tuple]]) -> str:
    """The shipped probabilities' largest miss, in words ("" without the shipped series)."""
    bins = [
        (x, y)
        for x, y, _ in calibration.get("shipped (calibrated)", [])
        if y is not None and y == y
    ]
    if not bins:
        return ""
    x, y = max(bins, key=lambda b: abs(b[1] - b[0]))
    if abs(y - x) < 0.05:
        return " The shipped probabilities stay within 5 points of what happened in every bin."
    way = "too high" if x > y else "too low"
    return (
        f" Where the shipped probabilities miss most, they are {way}: of the customers "
        f"given about {x:.0%}, {y:.0%} left."
    )


def _uplift_section(uplift: Mapping[str, object] | None, scored: pd.DataFrame) -> str:
    """The held-out campaign's verdict on whom to contact, in a table and two sentences."""
    if not uplift or not uplift.get("available"):
        reason = (uplift or {}).get("reason", "no campaign history was given")
        advice = (
            " Record each campaign with a random control group (the <code>contacts</code> "
            "table) and the lists will learn whom a contact keeps."
            if not uplift or "no contacts table" in str(reason)
            else ""
        )
        reason = str(reason).removesuffix("; plays from the rules")
        said = (
            reason[0].upper() + reason[1:]
            if reason.startswith("no uplift model")
            else (f"No uplift model: {reason}")
        )
        return (
            f"<p>{escape(said)}. The plays on the lists come from the "
            f"rules (segment, situation, loyalty type).{advice}</p>"
        )
    share = float(uplift["top_share"])
    rows = []
    for name, m in uplift["policies"].items():
        rows.append(
            [
                POLICY_LABELS.get(name, name),
                f"{m['auuc']:.3f}",
                f"{m['saved_value_top_share']:.2f}",
            ]
        )
    table = _table(
        ["target by", "area under the Qini curve", f"saved profit per customer, top {share:.0%}"],
        rows,
        {1, 2},
    )
    truth = uplift.get("truth") or {}
    told = ""
    if truth:
        told = (
            f"<p>Against the simulator's true effects, contacting the top {share:.0%} by the "
            f"model saves {truth['oracle_share']:.0%} of what a perfect policy would; "
            f"{truth['harmed_marked_do_not_contact']:,} of the {truth['harmed_by_every_play']:,} "
            "customers every play would push away are marked do not contact (marked: "
            "every play's expected effect is negative, or no play pays for itself and the "
            "customer may well be of loyalty types every play pushes away).</p>"
        )
    hazard = (uplift.get("shipped") or {}).get("hazard")
    sources = scored["play_source"].value_counts() if "play_source" in scored else pd.Series()
    decided = int(sources.get("uplift model", 0))
    dont = int((scored["play"] == "do_not_contact").sum())
    intro = (
        f"<p>The latest campaign whose horizon has ended "
        f"({escape(str(uplift['held_out_campaign_day']))}, "
        f"{int(uplift['held_out_contacts']):,} customers chosen, a random control group "
        f"held out) was predicted from the {int(uplift['training_contacts']):,} contacts "
        "before it. Each row ranks that campaign's customers one way and asks the control "
        "group how many more stayed among those it would have contacted.</p>"
    )
    verdict = escape(str(uplift.get("verdict", "")))
    if not uplift.get("decides", True):
        return (
            f"{intro}{table}{told}<p><strong>The lists do not use this model</strong>: "
            f"{verdict}. The plays come from the rules (segment, situation, loyalty type); "
            "more campaigns with random control groups, or larger ones, can show the "
            "model's worth.</p>"
        )
    reach = (uplift.get("shipped") or {}).get("reach") or {}
    # The summary's count: customers whose segment calls for a contact and whom the rules
    # serve (steady customers are outside the campaigns' reach too, and need no play).
    outside = (
        int(((scored["play_source"] == "rules") & (scored["segment"] != "steady")).sum())
        if {"play_source", "segment"} <= set(scored)
        else 0
    )
    beyond = (
        f" The campaigns contacted customers silent for {reach['low']:.0f} to "
        f"{reach['high']:.0f} days; the {outside:,} others whose segment calls for a "
        "contact, silent for less or longer, whom no campaign reached, get the rules' play."
        if reach.get("outside") and outside
        else ""
    )
    return (
        f"{intro}{table}{told}<p>The lists use it: {verdict}. Of the {len(scored):,} "
        f"customers scored, the uplift model chose "
        f"the play for {decided:,} (everyone it scored whose segment calls for a contact: "
        f"those the lists hold, and those left off them); {dont:,} are marked do not "
        f"contact.{beyond}</p>"
        f"{_plays_table(hazard) if hazard else ''}"
    )
