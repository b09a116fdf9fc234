"""Choose churn hyperparameters on the past of a forward-test date, never on its outcome.

Run after `dvc repro` (it reads data/features and data/canonical of the workspace):

    python benchmarks/tune_churn.py --before 2011-09-10 --origins 4
    python benchmarks/tune_churn.py --before 2011-09-10 --grid num_leaves=7,15
    python benchmarks/tune_churn.py --before 2011-09-10 --grid num_leaves=7 \
        min_child_samples=100 feature_fraction=0.5 lambda_l2=1.0 \
        --candidates rhythm mix --drop monetary seasonality
    python benchmarks/tune_churn.py --before 2011-09-10 --grid num_leaves=7 \
        min_child_samples=100 feature_fraction=0.5 lambda_l2=1.0 \
        --at 2011-03-14 2011-04-13 2011-05-13 2011-06-12

For each candidate it fits the shipped churn model (pipeline.shipping.fit_shipped_churn
and its seasonal shift, exactly what the list gets: early stopping, the BG/NBD blend and
calibration on the validation cutoff, on the cutoffs pipeline.shipping.split_for gives)
at each of the
last ``--origins`` labelled cutoffs whose horizon ends by ``--before``, and prints the
shipped model's mean ROC-AUC and Brier across them. Those origins' outcomes were all
known on ``--before``, so the choice is one a data scientist could have made that day.
The rule, fixed before looking: the highest mean ROC-AUC; a candidate within 0.002 of
it with a lower mean Brier wins.

``--candidates`` judges feature groups the pipeline does not compute, the same way,
each added alone to the shipped features, all with the grid's first point (pass
``--grid`` with the shop's own sizes): ``rhythm`` (the last gap between purchase days,
the median gap, their ratio, the share of the customer's own gaps longer than the
current silence and, of those, longer than the silence plus the horizon, orders in 180
days, the 90-day order trend) and ``mix`` (the share of order lines on products bought
before, lines per order, distinct products ever, the products' popularity, and the
spend-weighted share of the customer's products' sales a year back that fell in the
coming horizon's stretch of the calendar, null where the data do not reach back a
year). ``--drop`` judges the shipped set without one feature family or feature. The
rule, fixed before any was scored: a group is adopted if its mean ROC-AUC beats the
shipped set's by at least 0.002 with a mean Brier no higher. Every candidate is
computed with DuckDB from ``data/canonical``, each from rows before its cutoff only.

``--count-model`` judges, by the same rule, a Poisson count model of the purchase days
in the horizon in the booster's place and averaged with it (:func:`judge_count_model`).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml

from pipeline import evaluate, io
from pipeline.config import Params, load_params
from pipeline.labels import Cutoffs, split_for
from pipeline.shipping import _calibrate as shipping_calibrate
from pipeline.shipping import fit_shipped_churn, seasonal_shift, training_rows
from pipeline.stages._common import CANONICAL, FEATURES
from pipeline.stages.train import load_cutoffs
from pipeline.train import (
    ChurnScore,
    Design,
    bgnbd_reference,
    choose_bgnbd_weight,
    lgb_params,
    monotone_constraints,
)

GRID = {
    "early_stopping_metric": ["binary_logloss", "auc"],
    "num_leaves": [7, 15],
    "min_child_samples": [50, 100],
    "feature_fraction": [0.5, 0.8],
}


# The least mean ROC-AUC gain over the shipped features for a candidate group to be adopted.
ADOPT_GAIN = 0.002

CANDIDATES = {
    "rhythm": [
        "last_gap_days",
        "gap_median_days",
        "gap_trend",
        "gaps_beyond_now_share",
        "survive_horizon_share",
        "orders_180d",
        "order_trend_90d",
    ],
    "habits": [
        "weekend_order_share_365d",
        "morning_order_share_365d",
        "order_hour_mean_365d",
        "order_hour_std_365d",
        "main_weekday_share_365d",
    ],
    "mix": [
        "repeat_line_share_365d",
        "lines_per_order_mean_365d",
        "distinct_products_total",
        "product_popularity_mean_365d",
        "seasonal_product_share_365d",
    ],
}


def candidate_features(
    canonical: Path, rows: pd.DataFrame, groups: list[str], horizon_days: int
) -> pd.DataFrame:
    """The candidate groups' features of ``rows`` (customer_id, cutoff), from events
    strictly before each row's cutoff."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("pop", rows[["customer_id", "cutoff"]])
    con.execute(f"CREATE VIEW orders AS SELECT * FROM '{canonical}/orders.parquet'")
    out = rows[["customer_id", "cutoff"]]
    if "rhythm" in groups:
        gaps = con.execute(
            f"""
            WITH days AS (SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) AS d FROM orders),
            g AS (SELECT customer_id, d, datediff('day', lag(d) OVER (
                    PARTITION BY customer_id ORDER BY d), d) AS gap FROM days),
            j AS (SELECT p.customer_id, p.cutoff, g.d, g.gap
                  FROM pop p JOIN g ON g.customer_id = p.customer_id AND g.d < p.cutoff),
            silence AS (SELECT customer_id, cutoff,
                          datediff('day', max(d), CAST(cutoff AS DATE)) AS now
                        FROM j GROUP BY customer_id, cutoff)
            SELECT j.customer_id, j.cutoff,
              arg_max(gap, d) AS last_gap_days,
              median(gap) AS gap_median_days,
              count(gap) AS n_gaps,
              count(*) FILTER (WHERE gap > s.now) AS beyond_now,
              count(*) FILTER (WHERE gap >= s.now + {horizon_days}) AS beyond_horizon
            FROM j JOIN silence s USING (customer_id, cutoff) GROUP BY ALL
            """
        ).df()
        median = gaps.gap_median_days.where(gaps.gap_median_days > 0)
        gaps["gap_trend"] = gaps.last_gap_days / median
        gaps["gaps_beyond_now_share"] = gaps.beyond_now / gaps.n_gaps.where(gaps.n_gaps > 0)
        gaps["survive_horizon_share"] = gaps.beyond_horizon / gaps.beyond_now.where(
            gaps.beyond_now > 0
        )
        counts = con.execute(
            """
            SELECT p.customer_id, p.cutoff,
              count(*) AS orders_180d,
              count(*) FILTER (WHERE o.ordered_at >= p.cutoff - INTERVAL 90 DAY) AS recent,
              count(*) FILTER (WHERE o.ordered_at < p.cutoff - INTERVAL 90 DAY) AS before
            FROM pop p JOIN orders o ON o.customer_id = p.customer_id
              AND o.ordered_at < p.cutoff AND o.ordered_at >= p.cutoff - INTERVAL 180 DAY
            GROUP BY ALL
            """
        ).df()
        both = counts.recent + counts.before
        counts["order_trend_90d"] = (counts.recent - counts.before) / both.where(both > 0)
        out = out.merge(gaps, how="left", on=["customer_id", "cutoff"])
        out = out.merge(counts, how="left", on=["customer_id", "cutoff"])
        out["orders_180d"] = out["orders_180d"].fillna(0)
    if "habits" in groups:
        # when the customer orders: a business buying in office hours on its usual weekday
        # keeps a rhythm a consumer's evening and weekend orders do not
        habits = con.execute(
            """
            WITH j AS (SELECT p.customer_id, p.cutoff, o.ordered_at,
                         hour(o.ordered_at) + minute(o.ordered_at) / 60.0 AS h,
                         dayofweek(o.ordered_at) AS dow
                       FROM pop p JOIN orders o ON o.customer_id = p.customer_id
                         AND o.ordered_at < p.cutoff
                         AND o.ordered_at >= p.cutoff - INTERVAL 365 DAY),
            wd AS (SELECT customer_id, cutoff, dow, count(*) AS n FROM j GROUP BY ALL),
            top AS (SELECT customer_id, cutoff, max(n) / sum(n) AS main_weekday_share_365d
                    FROM wd GROUP BY ALL)
            SELECT j.customer_id, j.cutoff,
              avg(CASE WHEN dow IN (0, 6) THEN 1.0 ELSE 0.0 END) AS weekend_order_share_365d,
              avg(CASE WHEN h < 12 THEN 1.0 ELSE 0.0 END) AS morning_order_share_365d,
              avg(h) AS order_hour_mean_365d,
              stddev_pop(h) AS order_hour_std_365d,
              any_value(top.main_weekday_share_365d) AS main_weekday_share_365d
            FROM j JOIN top USING (customer_id, cutoff) GROUP BY j.customer_id, j.cutoff
            """
        ).df()
        out = out.merge(habits, how="left", on=["customer_id", "cutoff"])
    if "mix" in groups:
        con.execute(f"CREATE VIEW lines AS SELECT * FROM '{canonical}/order_lines.parquet'")
        mix = con.execute(
            f"""
            WITH l AS (SELECT customer_id, product_id, ordered_at, quantity * unit_price AS value,
                         min(CAST(ordered_at AS DATE)) OVER (
                           PARTITION BY customer_id, product_id) AS first_day FROM lines),
            j AS (SELECT p.customer_id, p.cutoff, l.product_id, l.ordered_at, l.value,
                    l.first_day < CAST(l.ordered_at AS DATE) AS repeat_line,
                    l.ordered_at >= p.cutoff - INTERVAL 365 DAY AS in_year
                  FROM pop p JOIN l ON l.customer_id = p.customer_id AND l.ordered_at < p.cutoff),
            cuts AS (SELECT DISTINCT cutoff,
                       -- the season a year back is known only if the data reach back a year
                       cutoff - INTERVAL 365 DAY
                         >= (SELECT min(ordered_at) FROM lines) AS year_known
                     FROM pop),
            product AS (SELECT c.cutoff, c.year_known, l.product_id,
                          count(DISTINCT l.customer_id) AS buyers,
                          sum(l.quantity * l.unit_price) FILTER (WHERE l.ordered_at
                            < c.cutoff - INTERVAL {365 - horizon_days} DAY) AS season,
                          sum(l.quantity * l.unit_price) AS total
                        FROM cuts c JOIN lines l ON l.ordered_at < c.cutoff
                          AND l.ordered_at >= c.cutoff - INTERVAL 365 DAY GROUP BY ALL)
            SELECT j.customer_id, j.cutoff,
              count(DISTINCT j.product_id) AS distinct_products_total,
              count(*) FILTER (WHERE in_year) AS lines_365d,
              count(*) FILTER (WHERE in_year AND repeat_line) AS repeat_lines_365d,
              avg(ln(product.buyers)) FILTER (WHERE in_year) AS product_popularity_mean_365d,
              sum(j.value * product.season / product.total)
                  FILTER (WHERE in_year AND product.total > 0 AND product.year_known)
                / nullif(sum(j.value) FILTER (
                    WHERE in_year AND product.total > 0 AND product.year_known), 0)
                AS seasonal_product_share_365d,
              count(DISTINCT j.ordered_at) FILTER (WHERE in_year) AS orders_365d_lines
            FROM j LEFT JOIN product
              ON product.cutoff = j.cutoff AND product.product_id = j.product_id
            GROUP BY ALL
            """
        ).df()
        mix["repeat_line_share_365d"] = mix.repeat_lines_365d / mix.lines_365d.where(
            mix.lines_365d > 0
        )
        mix["lines_per_order_mean_365d"] = mix.lines_365d / mix.orders_365d_lines.where(
            mix.orders_365d_lines > 0
        )
        out = out.merge(mix, how="left", on=["customer_id", "cutoff"])
    names = [f for g in groups for f in CANDIDATES[g]]
    return out[["customer_id", "cutoff", *names]]


@dataclass(frozen=True)
class _Shipped:
    """The churn score and calibrator shipped at one origin, and the rows they judge."""

    train: pd.DataFrame
    valid: pd.DataFrame
    rows: pd.DataFrame  # the origin's labelled customers
    score: ChurnScore
    calibrator: object  # the shipped calibrator, its seasonal shift included

    def metrics(self, p: np.ndarray) -> dict[str, float]:
        return evaluate.binary_metrics(self.rows["churned"].to_numpy(int), p)


def _ship_at(
    labelled: pd.DataFrame,
    design: Design,
    params: Params,
    cuts: Cutoffs,
    orders: pd.DataFrame,
    o: pd.Timestamp,
) -> _Shipped:
    """What the list gets at origin ``o``: fitted on the cutoffs before it, the
    calibrator's seasonal shift from the orders before it."""
    split = split_for(cuts, o, validation_cutoffs=params.snapshots.validation_cutoffs)
    train, valid = training_rows(labelled, split, params)
    score, calibrated = fit_shipped_churn(train, valid, design, params)
    shift = seasonal_shift(
        orders[orders["ordered_at"] < o],
        at=o,
        valid=split.valid,
        lookback_days=params.churn.lookback_days,
        horizon_days=cuts.horizon_days,
        min_history_days=params.snapshots.min_history_days,
    )["shift"]
    rows = labelled[labelled["cutoff"] == o]
    return _Shipped(train, valid, rows, score, replace(calibrated.calibrator, shift=shift))


def judge(
    labelled: pd.DataFrame,
    design: Design,
    params: Params,
    cuts: Cutoffs,
    orders: pd.DataFrame,
    origins: list[pd.Timestamp],
) -> tuple[list[float], list[float]]:
    """The shipped model's ROC-AUC and Brier at each origin, fitted as of it."""
    aucs, briers = [], []
    for o in origins:
        at = _ship_at(labelled, design, params, cuts, orders, o)
        m = at.metrics(at.calibrator.predict(at.score.predict(at.rows)))
        aucs.append(m["roc_auc"])
        briers.append(m["brier"])
    return aucs, briers


def purchase_days_ahead(canonical: Path, rows: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Per row (customer_id, cutoff), the days with an order in ``[cutoff, cutoff +
    horizon)``: zero exactly when the row churned."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("pop", rows[["customer_id", "cutoff"]])
    counts = con.execute(
        f"""SELECT p.customer_id, p.cutoff, count(DISTINCT CAST(o.ordered_at AS DATE)) AS n
            FROM pop p JOIN '{canonical}/orders.parquet' o
              ON o.customer_id = p.customer_id AND o.ordered_at >= p.cutoff
             AND o.ordered_at < p.cutoff + INTERVAL {int(horizon_days)} DAY
            GROUP BY ALL"""
    ).df()
    n = rows[["customer_id", "cutoff"]].merge(counts, how="left", on=["customer_id", "cutoff"])
    return n["n"].fillna(0).to_numpy(dtype=float)


def judge_count_model(
    labelled: pd.DataFrame,
    design: Design,
    params: Params,
    cuts: Cutoffs,
    orders: pd.DataFrame,
    origins: list[pd.Timestamp],
) -> None:
    """Print the shipped model's figures beside two trials of a count model: LightGBM's
    Poisson regression of the purchase days in the horizon (early-stopped on the same
    validation cutoff, the monotone constraints turned around), its chance of none,
    exp(-mean), in the booster's place (``count``) or its log-odds averaged with the
    booster's (``average``), each then blended with BG/NBD and calibrated as shipped."""
    labelled = labelled.assign(_days=purchase_days_ahead(CANONICAL, labelled, cuts.horizon_days))
    p = params.train
    mono = monotone_constraints(design, p)
    if mono:
        mono["monotone_constraints"] = [-c for c in mono["monotone_constraints"]]
    lgb_p = lgb_params(p, objective="poisson", metric="poisson", **mono)
    found: dict[str, list[dict[str, float]]] = {"shipped": [], "count": [], "average": []}
    for o in origins:
        at = _ship_at(labelled, design, params, cuts, orders, o)
        train, valid, rows_o, score = at.train, at.valid, at.rows, at.score
        found["shipped"].append(at.metrics(at.calibrator.predict(score.predict(rows_o))))
        dtrain = lgb.Dataset(design.matrix(train), label=train["_days"], free_raw_data=False)
        dvalid = lgb.Dataset(design.matrix(valid), label=valid["_days"], reference=dtrain)
        count = lgb.train(
            lgb_p,
            dtrain,
            num_boost_round=p.max_rounds,
            valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)],
        )

        def none_log_odds(frame: pd.DataFrame, count: lgb.Booster = count) -> np.ndarray:
            mean = np.exp(
                count.predict(
                    design.matrix(frame), num_iteration=count.best_iteration, raw_score=True
                )
            )
            return -mean - np.log(-np.expm1(-np.maximum(mean, 1e-9)))

        for name in ("count", "average"):
            trees_v, trees_o = none_log_odds(valid), none_log_odds(rows_o)
            if name == "average":
                trees_v = 0.5 * (trees_v + score.booster_log_odds(valid))
                trees_o = 0.5 * (trees_o + score.booster_log_odds(rows_o))
            weight = (
                choose_bgnbd_weight(score.booster, design, valid, trees_v)
                if p.bgnbd_blend
                else 0.0
            )
            trial = ChurnScore(
                score.booster, design, weight, bgnbd_reference(valid) if weight else 0.0
            )
            fitted = shipping_calibrate(
                valid["churned"].to_numpy(int),
                trial.predict(valid, trees_v),
                p.calibration,
                p.seed,
            )
            calibrator = replace(fitted.calibrator, shift=at.calibrator.shift)
            found[name].append(at.metrics(calibrator.predict(trial.predict(rows_o, trees_o))))
    print(f"\n{'score':<10} {'mean AUC':>9} {'Brier':>7}   per origin AUC")
    ref = None
    for name, metrics in found.items():
        auc = float(np.mean([m["roc_auc"] for m in metrics]))
        brier = float(np.mean([m["brier"] for m in metrics]))
        verdict = ""
        if ref is None:
            ref = (auc, brier)
        else:
            adopted = auc >= ref[0] + ADOPT_GAIN and brier <= ref[1]
            verdict = f"AUC {auc - ref[0]:+.4f}: {'ADOPT' if adopted else 'not adopted'}"
        per = " ".join(f"{m['roc_auc']:.4f}" for m in metrics)
        print(f"{name:<10} {auc:9.4f} {brier:7.4f}   {per}   {verdict}", flush=True)


def _grid(overrides: list[str]) -> dict[str, list[object]]:
    """GRID, or only the knobs given as ``name=v1,v2`` (values parsed as YAML; lists,
    such as ``risk_rises_with=[];[days_since_last_order,overdue_ratio]``, are separated
    by ``;``)."""
    if not overrides:
        return GRID
    out: dict[str, list[object]] = {}
    for item in overrides:
        name, _, values = item.partition("=")
        lists = values.startswith("[") or ";" in values
        out[name] = [yaml.safe_load(v) for v in values.split(";" if lists else ",")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="forward-test date D (YYYY-MM-DD)")
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument(
        "--at",
        nargs="*",
        default=[],
        metavar="YYYY-MM-DD",
        help="judge at these labelled cutoffs instead of the last --origins (e.g. the same "
        "dates on a denser snapshot grid); each horizon must end by --before",
    )
    ap.add_argument(
        "--grid",
        nargs="*",
        default=[],
        metavar="NAME=V1,V2",
        help="search only these train params (e.g. num_leaves=7,15); default: GRID",
    )
    ap.add_argument(
        "--candidates",
        nargs="*",
        default=[],
        choices=sorted(CANDIDATES),
        help="feature groups to judge, each added alone (with the grid's first point)",
    )
    ap.add_argument(
        "--drop",
        nargs="*",
        default=[],
        metavar="FAMILY",
        help="judge the shipped features without this family (or feature)",
    )
    ap.add_argument(
        "--count-model",
        action="store_true",
        help="judge a Poisson count model of the purchase days ahead in the booster's "
        "place, and averaged with it (with the grid's first point)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    before = pd.Timestamp(args.before)
    snapshots = io.read_parquet(FEATURES / "snapshots.parquet")
    meta = io.read_json(FEATURES / "meta.json")
    params = load_params()
    # the population the features were built for, whatever params.yaml says now
    churn = params.churn.model_copy(update={"lookback_days": meta["lookback_days"]})
    params = params.model_copy(update={"churn": churn})
    cuts = load_cutoffs(meta)
    horizon = pd.Timedelta(days=cuts.horizon_days)
    labelled = snapshots[snapshots["labelled"]].reset_index(drop=True)
    design = Design.fit(labelled, meta["features"], meta["categorical"])
    orders = pd.read_parquet(CANONICAL / "orders.parquet", columns=["customer_id", "ordered_at"])
    known = [c for c in cuts.labelled if c + horizon <= before]
    origins = known[-args.origins :]
    if args.at:
        origins = [pd.Timestamp(a) for a in args.at]
        wrong = [f"{o:%Y-%m-%d}" for o in origins if o not in known]
        if wrong:
            raise SystemExit(
                f"--at {' '.join(wrong)}: not a labelled cutoff whose horizon ends by "
                f"{before:%Y-%m-%d}; those are {', '.join(f'{c:%Y-%m-%d}' for c in known)}"
            )
    names = [str(o.date()) for o in origins]
    print("tuning origins:", names, f"(outcomes known by {before:%Y-%m-%d})")
    rows = []
    grid = _grid(args.grid)
    for values in itertools.product(*grid.values()):
        cand = dict(zip(grid, values, strict=True))
        p = params.model_copy(update={"train": params.train.model_copy(update=cand)})
        start = time.perf_counter()
        aucs, briers = judge(labelled, design, p, cuts, orders, origins)
        rows.append(
            cand
            | {
                "roc_auc": sum(aucs) / len(aucs),
                "brier": sum(briers) / len(briers),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True)
    best = table["roc_auc"].iloc[0]
    close = table[table["roc_auc"] >= best - 0.002].sort_values("brier")
    print(table.to_string(index=False))
    print("\nchosen:", close.iloc[0].to_dict())
    if args.count_model:
        first = dict(zip(grid, next(itertools.product(*grid.values())), strict=True))
        p = params.model_copy(update={"train": params.train.model_copy(update=first)})
        judge_count_model(labelled, design, p, cuts, orders, origins)
    if args.candidates or args.drop:
        first = dict(zip(grid, next(itertools.product(*grid.values())), strict=True))
        p = params.model_copy(update={"train": params.train.model_copy(update=first)})
        judge_features(labelled, meta, p, cuts, orders, origins, args.candidates, args.drop)


def judge_features(
    labelled: pd.DataFrame,
    meta: dict,
    params: Params,
    cuts: Cutoffs,
    orders: pd.DataFrame,
    origins: list[pd.Timestamp],
    groups: list[str],
    drop: list[str],
) -> None:
    """Print each feature set's per-origin and mean ROC-AUC and Brier, and the verdict."""
    shipped = list(meta["features"])
    sets: dict[str, list[str]] = {"shipped": shipped}
    if groups:
        extra = candidate_features(CANONICAL, labelled, groups, cuts.horizon_days)
        labelled = labelled.merge(extra, how="left", on=["customer_id", "cutoff"])
        sets |= {f"+ {g}": shipped + CANDIDATES[g] for g in groups}
    for name in drop:
        kept = [f for f in shipped if f != name and meta["families"].get(f) != name]
        if len(kept) == len(shipped):
            known = sorted(set(meta["families"].values()))
            raise SystemExit(f"--drop {name}: no shipped feature or family of that name ({known})")
        sets[f"- {name}"] = kept
    sizes = params.train.model_dump(include={"num_leaves", "min_child_samples"})
    print(f"\nfeature sets, {sizes}:")
    print(f"{'set':<22} {'mean AUC':>9} {'Brier':>7}   per origin AUC")
    ref = None
    for name, features in sets.items():
        categorical = [c for c in meta["categorical"] if c in features]
        design = Design.fit(labelled, features, categorical)
        aucs, briers = judge(labelled, design, params, cuts, orders, origins)
        auc, brier = sum(aucs) / len(aucs), sum(briers) / len(briers)
        if ref is None:
            ref, verdict = (auc, brier), ""
        elif name.startswith("+"):
            adopted = auc >= ref[0] + ADOPT_GAIN and brier <= ref[1]
            verdict = f"AUC {auc - ref[0]:+.4f}: {'ADOPT' if adopted else 'not adopted'}"
        else:
            verdict = f"AUC {auc - ref[0]:+.4f}"
        per = " ".join(f"{a:.4f}" for a in aucs)
        print(f"{name:<22} {auc:9.4f} {brier:7.4f}   {per}   {verdict}", flush=True)


if __name__ == "__main__":
    main()
