"""Stage ``score``: the call list, the win-back list, everyone; CSV, XLSX and the report.

Outputs: ``data/scored/`` (``at_risk.csv``, the call list; ``winback.csv``;
``customers.csv``, everyone; ``at_risk.xlsx``, all three with a "how to read this"
sheet), ``reports/retention_report.html`` and ``reports/score.json`` (headline numbers
only: no customer ids, no pass-through columns).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

import pipeline
from pipeline import explain, io
from pipeline.config import Params
from pipeline.funnel import relationship_funnel
from pipeline.loyalty import PLAYS, TYPE_MEANING
from pipeline.progress import Progress, timed
from pipeline.report import render_report
from pipeline.schema import TABLES
from pipeline.score import (
    CALL,
    DAY_FORMATS,
    MONEY_COLUMNS,
    PROBABILITY_COLUMNS,
    RULES_SOURCE,
    UPLIFT_SOURCE,
    WINBACK,
    Economics,
    action_without_complaint,
    apply_uplift,
    as_in_csv,
    build_lists,
    column_docs,
    format_for_csv,
    in_cents,
    list_columns,
    plays_from,
    score_customers,
    summarise_lists,
    whole_days,
)
from pipeline.sources.files import parse_ids, read_choices, read_table_file
from pipeline.stages._common import (
    CANONICAL,
    EXPLAIN,
    FEATURES,
    MODELS,
    REPORTS,
    SCORED,
    SHAP_SAMPLE,
    stage_main,
)
from pipeline.train import load_churn_score
from pipeline.workbook import workbook_bytes

log = logging.getLogger(__name__)
TEST_CALIBRATION = REPORTS / "plots" / "calibration.csv"
SHAP_BATCH = 5_000
CARDS = 12


def calibration_bins() -> tuple[dict[str, list[tuple[float, float | None, int | None]]], str]:
    """Reliability bins per model for the report, and where they come from.

    The test cutoff's reliability table (``reports/plots/calibration.csv``): every model
    shipped as of the test cutoff, with only data before it, against what then
    happened - a forward test of the procedure that made this list. (The forward stage
    judges the list itself, but only after it is written, for a past ``score.as_of``.)
    The ONE place that reads them.
    """
    table = pd.read_csv(TEST_CALIBRATION)
    train = io.read_json(REPORTS / "train.json")
    # the baseline's line is BG/NBD as shipped, with its own calibrator: say which
    method = train.get("shipped", {}).get("baseline_calibration", {}).get("bgnbd")
    names = {
        "shipped": "shipped (calibrated)",
        "shipped_before_calibration": "shipped, before calibration",
        "bgnbd": f"BG/NBD, calibrated ({method})" if method else "BG/NBD",
    }
    series = {}
    for column, label in names.items():
        if column not in table:
            continue
        series[label] = [
            (float(x), None if pd.isna(y) else float(y), None)  # rates only: no counts
            for x, y in zip(table["predicted"], table[column], strict=True)
        ]
    return series, (
        f"Test cutoff {train['churn']['test_cutoff']}: each model shipped with only data "
        "before it, against what its customers did next"
    )


BACKTEST = REPORTS / "backtest.csv"


def count_check(expected: float) -> str:
    """How far the shipped procedure's expected count of churners was from the count
    that then left, at each backtest cutoff: the margin to read the headline with
    ("6,263 expected to leave" is a sum of probabilities, as good as their calibration).
    Empty when the backtest does not say (an older train stage)."""
    if not BACKTEST.exists():
        return ""
    table = pd.read_csv(BACKTEST)
    model = io.read_json(REPORTS / "train.json")["churn"]["selected_model"]
    rows = table[table["model"] == model]
    if rows.empty or "mean_predicted" not in rows:
        return ""
    ratio = rows["mean_predicted"] / rows["base_rate"]
    return (
        f" At the {len(rows)} backtest cutoffs ({rows['cutoff'].min()} .. "
        f"{rows['cutoff'].max()}) the same procedure expected {ratio.min():.0%} to "
        f"{ratio.max():.0%} of the churners who then left (reports/backtest.csv): read the "
        f"{expected:,.0f} expected to leave with that margin."
    )


def pass_through_columns(params: Params, ids: pd.Series) -> pd.DataFrame:
    """The chosen customer columns (name, e-mail, ...) for ``ids``, from the customers file.

    Read here, as ``source.read`` says the files were written (the encoding above all:
    names are where a wrong guess shows), and written only into the lists: never
    logged, never sent to MLflow.
    """
    columns = list(params.score.pass_through)
    if not columns:
        return pd.DataFrame(index=ids.index)
    path = params.source.files.customers
    raw = read_table_file(
        path, read_choices(params.source.read, params.source.timezone, "customers")
    )
    id_column = params.source.columns.get("customers", {}).get("customer_id", "customer_id")
    missing = [c for c in [id_column, *columns] if c not in raw.columns]
    if missing:
        raise ValueError(
            f"score.pass_through: customers file {path!r} ({len(raw)} rows) has no column(s) "
            f"{missing}; its columns are {list(raw.columns)}"
        )
    table = raw[columns].astype("string").set_axis(parse_ids(raw[id_column]).to_numpy())
    table = table[~table.index.duplicated(keep="first")]
    return table.reindex(ids.to_numpy()).set_axis(ids.index)


def connect_canonical() -> dict[str, ibis.Table]:
    con = ibis.duckdb.connect(threads=1)
    return {
        p.stem: con.read_parquet(p, table_name=p.stem)
        for p in sorted(CANONICAL.glob("*.parquet"))
        if p.stem in TABLES
    }


def currency(params: Params) -> str:
    if params.score.currency:
        return params.score.currency
    return (
        "GBP"
        if params.source.kind == "online_retail"
        else "the shop's currency, as in its files (set score.currency to name it)"
    )


def economics(params: Params) -> Economics:
    r = params.retention
    return Economics.with_defaults(
        margin=r.margin,
        contact_cost=params.evaluate.contact_cost,
        success=r.success.model_dump(),
        overrides={k: v.model_dump() for k, v in r.plays.items()},
    )


def explain_rows(scored: pd.DataFrame, features: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Reasons for the rows someone reads: everyone if affordable, else the two lists."""
    everyone = len(scored) <= params.explain.reasons_for_all_up_to
    chosen = scored if everyone else scored[scored["list"].notna()]
    position = pd.Index(features["customer_id"]).get_indexer_for(chosen["customer_id"])
    rows = features.iloc[position].set_axis(chosen.index)
    score = load_churn_score(MODELS / "churn")
    # the explain stage's sample is explained already (same model, same rows: TreeSHAP
    # of a row does not depend on the others), the rest here
    known = io.read_parquet(SHAP_SAMPLE)
    done = chosen["customer_id"].isin(known["customer_id"]).to_numpy()
    todo = rows[~done]
    batches = -(-len(todo) // SHAP_BATCH)
    with Progress("SHAP for the reasons", batches, unit="batches", logger=log) as progress:
        fresh = explain.shap_values(score, todo, batch_size=SHAP_BATCH, progress=progress)
    reused = known.set_index("customer_id").loc[chosen.loc[done, "customer_id"]]
    values = pd.concat([fresh, reused.set_axis(rows.index[done])])
    values = values.loc[rows.index, list(fresh.columns)]
    log.info("SHAP values of %d customers reused from the explain stage", int(done.sum()))
    with timed(f"reasons for {len(rows):,} customers", log):
        return explain.reasons(
            values,
            rows,
            k=params.explain.top_reasons,
            shop=explain.shop_norms(features),
            horizon_days=params.churn.horizon_days,
        )


def fill_missing_reason(scored: pd.DataFrame) -> pd.Series:
    """A listed customer, or one of a segment at risk (early warning, lapsing, lapsed),
    with no concept raising their risk still gets a first reason: the fact that put
    them in their segment.

    Campaign evidence can put a customer of ordinary risk on a list (the play keeps
    customers like them); the row then says so instead of leaving the reason blank.
    """
    reason = scored["reason_1"].copy()
    segment = scored.get("segment", pd.Series(None, index=scored.index, dtype=object))
    # a lapsing customer is overdue against a rhythm: that fact is a reason, when no
    # concept of theirs says more (their strengths, above the shop's, are never one)
    lapsing = (segment == "lapsing") & reason.isna()
    if lapsing.any():
        days = whole_days(scored.loc[lapsing, "days_since_last_order"]).astype("int64")
        gap = scored.loc[lapsing, "usual_gap_days"].round().astype("int64")
        own = scored.get("own_rhythm", pd.Series(True, index=scored.index))[lapsing]
        said_days = "last order " + days.map("{:,}".format) + " days ago"
        reason[lapsing] = said_days + np.where(
            own.to_numpy(dtype=bool),
            ", overdue: usually every " + gap.map("{:,}".format) + " days",
            ", overdue for the shop's usual rhythm (every " + gap.map("{:,}".format) + " days)",
        )
    # an early warning's own fact: its risk, and how it moved since the last snapshot
    warned = (segment == "early_warning") & reason.isna()
    if warned.any():
        p = scored.loc[warned, "churn_probability"].astype(float)
        prev = scored.loc[warned, "churn_probability_prev"].astype(float)
        now = (100 * p).round().astype("int64").map("{}%".format)
        then = (100 * prev.fillna(0)).round().astype("int64").map("{}%".format)
        reason[warned] = np.where(
            prev.notna().to_numpy(),
            "risk up from " + then + " to " + now + " since the last snapshot",
            "risk " + now + " within their usual rhythm",
        )
    # a lapsed customer has met the churn definition: the silence says so
    lapsed = (segment == "lapsed") & reason.isna()
    if lapsed.any():
        days = whole_days(scored.loc[lapsed, "days_since_last_order"]).astype("int64")
        reason[lapsed] = "no order for " + days.map("{:,}".format) + " days: lapsed"
    blank = scored["list"].notna() & reason.isna()
    by_uplift = scored.get("play_source", pd.Series("", index=scored.index)) == "uplift model"
    reason[blank & by_uplift] = (
        "risk no higher than the shop's usual; past campaigns say this play keeps "
        "customers like them"
    )
    # the SHAP base is the shop's average, not the segment's: say what the risk is made of
    reason[blank & ~by_uplift] = (
        "no fact of their own raises the risk above the shop's average: the probability is "
        "mostly the shop's base rate"
    )
    return reason


def reason_coverage(scored: pd.DataFrame, k: int) -> dict[str, float]:
    """Share of explained customers whose reasons come from two or more concepts.

    A reason counts where the list shows it: a concept the catalogue could not say of
    the customer leaves its column empty (reviewed: 0.931 of the call list said, 459 of
    500 rows with two reasons shown)."""
    concepts = pd.Series(0, index=scored.index)
    for i in range(1, k + 1):  # the reasons the lists show
        concept, reason = f"reason_concept_{i}", f"reason_{i}"
        if concept in scored and reason in scored:
            concepts += (scored[concept].notna() & scored[reason].notna()).astype(int)
    out = {}
    for key, rows in (
        ("all", concepts > 0),
        ("call_list", (concepts > 0) & (scored["list"] == CALL)),
    ):
        out[key] = round(float((concepts[rows] >= 2).mean()) if rows.any() else 0.0, 4)
    return out


def describe_run(params: Params, scoring: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    """As-of date, horizon, currency, model version: what every file says about itself."""
    previous = scoring["previous_cutoff"].dropna()
    return {
        "as_of": str(as_of.date()),
        "horizon_days": params.churn.horizon_days,
        "currency": currency(params),
        "model_version": hashlib.sha256((MODELS / "churn" / "model.txt").read_bytes()).hexdigest()[
            :12
        ],
        "value_source": str(scoring["value_source"].iloc[0]) if len(scoring) else "-",
        "previous_cutoff": str(pd.Timestamp(previous.iloc[0]).date()) if len(previous) else None,
        "shop": params.source.kind,
    }


def _limit(value: object, cents: bool = False) -> str:
    if value is None:
        return "no limit"
    return f"{value:,.2f}" if cents else f"{value:,}"


def own_plays(rows: pd.DataFrame) -> list[str]:
    """Plays on the lists that are not in the plays table: the shop's own, learnt from
    its contacts (the workbook names them beside the others)."""
    known = set(PLAYS) | {"none", "do_not_contact"}
    return sorted({str(p) for p in rows["play"].dropna().unique()} - known)


def workbook(
    lists: dict[str, pd.DataFrame], about: dict, params: Params, pass_through: tuple[str, ...]
) -> bytes:
    r = params.retention
    return workbook_bytes(
        [
            (
                "Call list",
                "early-warning and lapsing customers to contact, best first",
                as_in_csv(lists[CALL]),
            ),
            (
                "Win-back",
                "lapsed customers worth a win-back, best first",
                as_in_csv(lists[WINBACK]),
            ),
            ("Everyone", "every scored customer, the lists first", as_in_csv(lists["everyone"])),
        ],
        about=[
            ("As of", about["as_of"] + " (only data before this date was used)"),
            ("Horizon", f"{about['horizon_days']} days: churned = no order within it"),
            ("Currency", about["currency"]),
            ("Model version", f"{about['model_version']} (sha-256 of models/churn/model.txt)"),
            (
                "Expected value",
                f"what the customer is expected to spend over the next "
                f"{about['horizon_days']} days if they stay ({about['value_source']}: LightGBM "
                "on past customers' spend, net of returns)",
            ),
            ("Plays from", about["plays_from"]),
            ("Previous snapshot", str(about["previous_cutoff"])),
            (
                "Call list budget",
                f"contacts {_limit(r.budget.contacts)}, money "
                f"{_limit(r.budget.money, cents=True)}",
            ),
            (
                "Win-back budget",
                f"contacts {_limit(r.winback_budget.contacts)}, money "
                f"{_limit(r.winback_budget.money, cents=True)}",
            ),
            ("Pipeline version", pipeline.__version__),
            (
                "Margin",
                f"{r.margin:.0%} of spend is profit (retention.margin): expected_profit = "
                "margin x saveable_value - contact_cost",
            ),
            ("Risk bands", _bands(*params.score.band_thresholds)),
            *((f"Loyalty type: {t}", TYPE_MEANING[t]) for t in TYPE_MEANING),
            *((f"Play: {k}", said) for k, said in play_wordings(lists["everyone"]).items()),
            *(
                (f"Play: {k}", "a play of the shop's own, named in its contacts table")
                for k in own_plays(lists["everyone"])
            ),
        ],
        columns=column_docs(params.explain.top_reasons, pass_through),
        money=MONEY_COLUMNS,
        percent=PROBABILITY_COLUMNS,
        dates=("as_of",),
        number_formats=DAY_FORMATS,
        as_of=dt.datetime.fromisoformat(about["as_of"]),
        max_rows=params.score.workbook_rows,
    )


def play_wordings(everyone: pd.DataFrame) -> dict[str, str]:
    """What each play's action says, for the workbook's first sheet: the catalogue's
    words, then every other way the lists word it (the uplift model's "no play pays"
    beside the steady customers' "keep serving them well"; the follow-up of low ratings
    or of returns), without what an open complaint added."""
    said = (
        pd.DataFrame(
            {
                "play": everyone["play"],
                "action": action_without_complaint(everyone["recommended_action"]),
            }
        )
        .drop_duplicates()
        .sort_values(["play", "action"])
    )
    out = {}
    for key, play in PLAYS.items():
        others = [a for a in said.loc[said["play"] == key, "action"] if a != play.action]
        out[key] = "; or: ".join([play.action, *others])
    return out


def _bands(low: float, high: float) -> str:
    return (
        f"low below {low:.0%}, medium from {low:.0%}, high from {high:.0%} (score.band_thresholds)"
    )


UPLIFT = Path("data/uplift/uplift.parquet")
UPLIFT_REPORT = REPORTS / "uplift.json"


def read_uplift() -> pd.DataFrame | None:
    """The uplift stage's plays for the scoring population (None: no campaign history)."""
    if not UPLIFT.exists():
        return None
    frame = io.read_parquet(UPLIFT)
    return frame if len(frame) else None


def run(params: Params) -> None:
    meta = io.read_json(FEATURES / "meta.json")
    as_of = pd.Timestamp(meta["cutoffs"]["score"])
    scoring = io.read_parquet(EXPLAIN / "scoring.parquet")
    features = io.read_at(FEATURES / "snapshots.parquet", as_of).reset_index(drop=True)
    r = params.retention
    held_out = io.read_json(UPLIFT_REPORT) if UPLIFT_REPORT.exists() else None
    econ = economics(params)
    recorded = ((held_out or {}).get("shipped") or {}).get("costs") or {}
    if recorded:  # the shop's campaigns priced these plays: one price on the lists
        econ = econ.with_recorded_costs(recorded)
        log.info("plays priced as the campaigns recorded them: %s", recorded)
    with timed("segments, plays and lists", log):
        customers = score_customers(
            scoring,
            features,
            horizon_days=params.churn.horizon_days,
            band_thresholds=params.score.band_thresholds,
            rising_by=r.rising_by,
            economics=econ,
        )
        customers = apply_uplift(customers, read_uplift(), econ)
        scored = build_lists(
            customers,
            call_budget=(r.budget.contacts, r.budget.money),
            winback_budget=(r.winback_budget.contacts, r.winback_budget.money),
        )
    scored = scored.join(explain_rows(scored, features, params))
    # the model's reasons, before a blank first one is given its segment's fact
    coverage = reason_coverage(scored, params.explain.top_reasons)
    scored["reason_1"] = fill_missing_reason(scored)
    scored["as_of"] = as_of.date()
    extra = pass_through_columns(params, scored["customer_id"])
    scored = in_cents(pd.concat([scored, extra], axis=1))
    columns = list_columns(params.explain.top_reasons, tuple(extra.columns))

    about = describe_run(params, scoring, as_of)
    summary = summarise_lists(scored) | {k: about[k] for k in ("as_of", "horizon_days")}
    summary["model_version"] = about["model_version"]
    summary["reasons_explained"] = (
        "everyone" if len(scored) <= params.explain.reasons_for_all_up_to else "lists"
    )
    summary["reasons_two_or_more_concepts_share"] = coverage["all"]
    sources = scored["play_source"].value_counts()
    # both keys in every run, as identifiers: a rules-only run logs 0 for the model, not
    # a missing metric, and no MLflow key holds a space
    summary["play_source"] = {
        "rules": int(sources.get(RULES_SOURCE, 0)),
        "uplift_model": int(sources.get(UPLIFT_SOURCE, 0)),
    }
    summary["do_not_contact"] = int((scored["play"] == "do_not_contact").sum())
    summary["plays_from"] = plays_from(
        held_out, sources.to_dict(), int((scored["segment"] == "steady").sum())
    )
    log.info("plays from %s", summary["plays_from"])
    summary[f"{CALL}_list"]["reasons_two_or_more_concepts_share"] = coverage["call_list"]
    log.info(
        "scored %d customers: %s; call list %d, win-back list %d",
        len(scored),
        summary["segments"],
        summary[f"{CALL}_list"]["customers"],
        summary[f"{WINBACK}_list"]["customers"],
    )

    with timed("funnel", log):
        tables = connect_canonical()
        funnel = relationship_funnel(
            tables,
            as_of=as_of,
            lookback_days=params.churn.lookback_days,
            scored_stages=scored["relationship_stage"],
            # an advocate refers or rates highly: a shop without either cannot show one
            advocacy_known=bool({"referrals_made", "rating_mean_365d"} & set(features.columns)),
        )
        funnel_source = (
            "the customers and sessions tables"
            if "sessions" in tables
            else "the customers table; this shop records no visits, so nobody is seen "
            "visiting or filling a cart"
        )
    bins, source = calibration_bins()
    html = render_report(
        scored,
        summary,
        pd.read_csv(REPORTS / "explain" / "drivers_by_concept.csv"),
        bins,
        funnel,
        about
        | {
            "calibration_source": source,
            "count_check": count_check(float(scored["churn_probability"].sum())),
            "funnel_source": funnel_source,
        },
        pass_through=tuple(extra.columns),
        cards=CARDS,
        uplift=held_out,
    )
    lists = {
        CALL: scored[scored["list"] == CALL][columns],
        WINBACK: scored[scored["list"] == WINBACK][columns],
        "everyone": scored[columns],
    }
    with timed("workbook", log):
        xlsx = workbook(
            lists, about | {"plays_from": summary["plays_from"]}, params, tuple(extra.columns)
        )

    with io.staged_dir(SCORED) as out:
        io.write_csv(format_for_csv(lists[CALL]), out / "at_risk.csv")
        io.write_csv(format_for_csv(lists[WINBACK]), out / "winback.csv")
        io.write_csv(format_for_csv(lists["everyone"]), out / "customers.csv")
        io.write_bytes(xlsx, out / "at_risk.xlsx")
    io.write_text(html, REPORTS / "retention_report.html")
    io.write_json(summary, REPORTS / "score.json")


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
