"""Stage ``uplift``: whom a contact keeps, and with which play, learnt from past campaigns.

Reads the campaign contacts with their features as of the day of contact
(``data/features/campaigns.parquet``, written by the features stage when the shop has a
``contacts`` table). The latest labelled campaign day is held out; an uplift learner per
play (``pipeline.uplift``: the play's hazard multiplier by loyalty type and situation, the
types from survey answers given before that day) learns from the contacts whose horizon
ended before it, with a
churn-risk and a value model fitted on the same past for the comparison. On the held-out
campaign it writes the Qini curves (``reports/qini.csv``) and AUUC
(``reports/uplift.json``) of targeting by the model's expected saved value, by churn
risk, by value at risk and at random, and, for the embedded shop, the saved value
against the true planted effects (``data/truth``): the oracle's share and the sleeping
dogs caught.

Then the same procedure is refitted on every labelled contact and scores the scoring
population: ``data/uplift/uplift.parquet`` (per customer the best play, its uplift,
the expected saved value, and "do not contact" for those every play would push away,
in expectation or by their likely loyalty types),
which the score stage puts on the list. Models go to ``models/uplift/`` in LightGBM's
text format.

A shop with no contact history (or too little) gets ``reports/uplift.json`` saying so
and an empty prediction table: the list's plays then come from the rules.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline import io, uplift
from pipeline.config import Params
from pipeline.features import PER_CUTOFF
from pipeline.loyalty import PLAYS
from pipeline.release import survey_labels
from pipeline.stages._common import (
    CANONICAL,
    FEATURES,
    MODELS,
    REPORTS,
    TRUTH,
    stage_main,
)
from pipeline.train import Design, fit_value, predict

log = logging.getLogger(__name__)

CAMPAIGNS = FEATURES / "campaigns.parquet"
SNAPSHOTS = FEATURES / "snapshots.parquet"
SURVEYS = CANONICAL / "surveys.parquet"
SCORE = Path("data/predictions/score.parquet")  # the list's churn probability and value
OUT = Path("data/uplift")
QINI = REPORTS / "qini.csv"
POLICIES = ("model", "risk", "value_at_risk", "random")
POLICY_NAMES = {"value_at_risk": "by value at risk", "random": "at random"}
# harm_probability: the type model's probability of the types every play pushes away
# (NaN without a type model; pipeline.uplift.harm_probability)
PREDICTION_COLUMNS = [
    "customer_id",
    "uplift_play",
    "uplift",
    "expected_saved_value",
    "cost",
    "harm_probability",
]


def _design(rows: pd.DataFrame, meta: dict) -> Design:
    names = [n for n in meta["features"] if n not in PER_CUTOFF and n in rows]
    return Design.fit(rows, names, meta["categorical"])


# A recorded cost this many times its play's median (or a fraction as small) is named.
COST_SPREAD = 10.0


def play_costs(rows: pd.DataFrame, contact_cost: float, *, warn: bool = True) -> dict[str, float]:
    """Each play's cost per contact: its median recorded cost, else the contact cost.

    The median, so that one mistyped cost does not price a play for the whole list
    (reviewed: a discount written "1,000" read as 1000 moved its mean from 3.00 to 5.47).
    Costs far from their play's median are named in a warning (``warn``: the list's
    model, which reads every contact, names them; the held-out one does not repeat it).
    """
    treated = rows[rows["arm"] == uplift.TREATMENT]
    costs = treated.groupby("play", observed=True)["contact_cost"].median()
    out = {str(p): float(c) if np.isfinite(c) else contact_cost for p, c in costs.items()}
    for play, group in treated.groupby("play", observed=True) if warn else ():
        median = out[str(play)]
        cost = group["contact_cost"]
        odd = (cost > COST_SPREAD * median) | (cost < median / COST_SPREAD)
        if median > 0 and odd.any():
            shown = group.loc[odd].head(3)
            examples = ", ".join(
                f"{c:,.2f} (customer {k}, {t:%Y-%m-%d})"
                for c, k, t in zip(
                    shown["contact_cost"], shown["customer_id"], shown["cutoff"], strict=True
                )
            )
            log.warning(
                "contacts: %d of %d %r contacts recorded a cost over %gx or under 1/%gx "
                "the play's median (%.2f), e.g. %s: the lists price the play at its median; "
                "check those costs in the contacts file",
                int(odd.sum()),
                len(group),
                str(play),
                COST_SPREAD,
                COST_SPREAD,
                median,
                examples,
            )
    return out


def _play_counts(rows: pd.DataFrame) -> dict[str, int]:
    treated = rows[rows["arm"] == uplift.TREATMENT]
    return {str(p): int(n) for p, n in treated["play"].value_counts().sort_index().items()}


def _plays(
    counts: Mapping[str, int], min_arm: int, *, what: str = "treated contacts"
) -> list[str]:
    """The plays with at least ``min_arm`` treated contacts (``counts``: per play, from
    :func:`_play_counts`); the others and any play outside the plays table are named in
    a warning."""
    unknown = {p: n for p, n in counts.items() if p not in PLAYS}
    if unknown:
        # learnt all the same (a shop may run plays of its own), but a typo is a play too
        close = {p: difflib.get_close_matches(p, list(PLAYS), n=1, cutoff=0.75) for p in unknown}
        hint = "; ".join(f"{p!r} may be {c[0]!r}" for p, c in close.items() if c)
        log.warning(
            "contacts: play(s) not in the plays table %s (%s): learnt as plays of their "
            "own once they have %d, the action text falling back to the key%s",
            unknown,
            what,
            min_arm,
            f"; {hint}: correct it in the contacts file" if hint else "",
        )
    few = {p: n for p, n in counts.items() if n < min_arm}
    if few:
        log.warning(
            "contacts: play(s) with fewer than uplift.min_arm (%d) %s, not learnt (this "
            "model never chooses them): %s",
            min_arm,
            what,
            few,
        )
    return sorted(p for p, n in counts.items() if n >= min_arm)


def history_problem(rows: pd.DataFrame, min_arm: int) -> str | None:
    """Why the labelled contacts cannot teach any play's effect (None: they may): no
    treated contact, none naming a play, no control, or no play with ``min_arm``
    treated contacts (with each play's count)."""
    labelled = rows[rows["labelled"].astype(bool)]
    treated = labelled["arm"] == uplift.TREATMENT
    n = len(labelled)
    if not treated.any():
        return (
            f"all {n:,} contacts whose horizon has ended are in the control arm: no play was "
            "tried on anyone, so there is nothing to learn a play's effect from"
        )
    if (labelled["arm"] != uplift.TREATMENT).sum() == 0:
        return (
            f"none of the {n:,} contacts whose horizon has ended is in the control arm: "
            "without customers chosen and then left alone at random, no play's effect can "
            "be told from who was chosen"
        )
    named = labelled.loc[treated, "play"].notna()
    if not named.any():
        return (
            f"none of the {int(treated.sum()):,} treated contacts whose horizon has ended "
            "names its play (the "
            "contacts' play column is empty): record which play each treated customer "
            "got, or map contacts.play in source.columns to the column that holds it"
        )
    counts = _play_counts(labelled)
    if max(counts.values()) < min_arm:
        listed = ", ".join(f"{p} {c:,}" for p, c in counts.items())
        return (
            f"no play has uplift.min_arm ({min_arm}) treated contacts whose horizon has "
            f"ended (treated contacts per play: {listed})"
        )
    return None


def surveyed_before(day: pd.Timestamp, design: Design) -> pd.DataFrame:
    """Surveyed customers' features (latest snapshot up to ``day``) and their type.

    Only answers given before ``day`` and snapshots of cutoffs up to it: the type model
    of a campaign's past never reads a later answer.
    """
    if not SURVEYS.exists() or not SNAPSHOTS.exists():
        return pd.DataFrame()
    surveys = pd.read_parquet(SURVEYS)
    surveys = surveys[surveys["surveyed_at"] < day]
    if surveys.empty:
        return pd.DataFrame()
    snaps = io.read_latest(
        SNAPSHOTS,
        surveys["customer_id"].astype(str).unique(),
        until=day,
        columns=["customer_id", "cutoff", *design.features],
    )
    return survey_labels(snaps, surveys)


class Fitted:
    """Everything fitted on one past: uplift learners per play, a risk and a value model."""

    def __init__(
        self,
        rows: pd.DataFrame,
        meta: dict,
        params: Params,
        *,
        as_of: pd.Timestamp,
        comparison: bool = True,
        contacts: pd.DataFrame | None = None,
        what: str = "treated contacts",
        name_odd_costs: bool = True,
    ) -> None:
        """``as_of``: the day this past ends; the type model reads answers before it.

        ``contacts``: campaign contacts (features as of the day of contact, outcome not
        needed); those made before ``as_of`` by surveyed customers are examples of the type
        model too (``uplift.fit_type_model``). Default: ``rows``. ``what``: how the
        warnings name the treated contacts of ``rows``.

        ``comparison``: also fit the churn-risk and value models the held-out evaluation
        compares with. The shipped refit scores with the list's own value and ships no
        risk, so it skips them (at a million customers they are a third of the stage).
        """
        u = params.uplift
        self.design = _design(rows, meta)
        self.play_counts = _play_counts(rows)
        self.plays = _plays(self.play_counts, u.min_arm, what=what)
        self.learner = u.learner
        self.harm_threshold = u.harm_probability
        self.harm_margin = u.harm_margin
        self.types: uplift.TypeModel | None = None
        if u.learner == "hazard":
            surveyed = surveyed_before(as_of, self.design)
            seen = rows if contacts is None else contacts
            self.types = uplift.fit_type_model(
                surveyed,
                self.design,
                seed=params.train.seed,
                contacts=seen[seen["cutoff"] < as_of],
            )
            covariates = uplift.HazardCovariates.for_rows(
                rows,
                self.types.classes if self.types is not None else (),
                self.types,
            )
            self.learners = uplift.fit_hazard_plays(
                rows,
                self.design,
                covariates,
                plays=self.plays,
                ridge=u.ridge,
                seed=params.train.seed,
                link=u.link,
                baseline_ridge=u.baseline_ridge,
                situation_ridge=u.situation_ridge,
            )
        else:
            self.learners = uplift.fit_shrunk_plays(
                rows, self.design, plays=self.plays, weight=u.shrink, seed=params.train.seed
            )
        if not self.learners:
            treated = rows["arm"] == uplift.TREATMENT
            unnamed = int((treated & rows["play"].isna()).sum())
            raise ValueError(
                f"no play has {u.min_arm} treated contacts with both outcomes and a control "
                "arm to compare with"
                + (
                    f" ({unnamed:,} of {int(treated.sum()):,} treated contacts name no play: "
                    "map contacts.play in source.columns)"
                    if unnamed
                    else ""
                )
            )
        self.costs = play_costs(rows, params.evaluate.contact_cost, warn=name_odd_costs)
        self.margin = params.retention.margin
        self.risk: lgb.Booster | None = None
        self.value: lgb.Booster | None = None
        if not comparison:
            return
        # churn risk as the shop would rank it (both arms: contact was random)
        x = self.design.matrix(rows)
        self.risk = uplift.fit_with_holdout(
            x,
            rows["churned"].to_numpy(float),
            objective="binary",
            seed=params.train.seed + 100,
            max_rounds=500,
        )
        # value if retained, early-stopped on the latest campaign day of this past
        last = rows["cutoff"] == rows["cutoff"].max()
        if last.all():
            last = pd.Series(np.arange(len(rows)) % 5 == 0, index=rows.index)
        self.value = fit_value(rows[~last], rows[last], self.design, params.train)

    @property
    def not_learnt(self) -> dict[str, int]:
        """Treated contacts per play of the plays under ``uplift.min_arm``."""
        return {p: n for p, n in self.play_counts.items() if p not in self.plays}

    def score(
        self,
        frame: pd.DataFrame,
        value: np.ndarray | None = None,
        churn: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Per row: each play's effect, risk, value, and the chosen play and its worth.

        ``value`` (spend over the horizon if retained) defaults to this past's value
        model; the shipped scoring passes the list's own expected value. ``churn`` (the
        chance of churning if left alone) defaults to the learners' baseline, fitted on
        this past's controls; the shipped scoring passes the list's own churn
        probability: the multipliers learnt from the arms act on the forward-tested
        model's risk, so a play never claims to remove more risk than the list shows.
        """
        harm = None
        if self.learner == "hazard":  # one baseline and one covariate matrix for every play
            first = next(iter(self.learners.values()))
            z = first.covariates.matrix(frame)
            p0 = first.baseline_churn(frame, z) if churn is None else np.asarray(churn, float)
            effects = {p: m.effect(frame, p0, z) for p, m in self.learners.items()}
            harm = uplift.harm_probability(self.learners, z, self.harm_margin)
        else:
            effects = {p: m.effect(frame) for p, m in self.learners.items()}
            if churn is not None:  # a drop in the chance of leaving is at most that chance
                effects = {p: np.minimum(e, churn) for p, e in effects.items()}
        if value is None:
            if self.value is None:
                raise ValueError("fitted without a value model: pass the customers' value")
            value = np.maximum(predict(self.value, self.design, frame), 0.0)
        profit_at_stake = self.margin * value
        chosen = uplift.choose_plays(
            effects, profit_at_stake, self.costs, harm, threshold=self.harm_threshold
        )
        risk = (
            self.risk.predict(self.design.matrix(frame))
            if self.risk is not None
            else np.full(len(frame), np.nan)
        )
        cost = chosen["play"].map(self.costs).fillna(0.0).to_numpy(dtype=float)
        out = pd.DataFrame(
            {
                "uplift_play": chosen["play"].to_numpy(),
                "cost": cost,
                "uplift": chosen["uplift"].to_numpy(),
                "expected_saved_value": chosen["expected_saved_value"].to_numpy(),
                "risk": risk,
                "value": value,
                "value_at_risk": risk * value,
                "harm_probability": np.full(len(frame), np.nan) if harm is None else harm,
            },
            index=frame.index,
        )
        for p, e in effects.items():
            out[f"effect_{p}"] = e
        return out


def evaluate(
    test: pd.DataFrame,
    scored: pd.DataFrame,
    fitted: Fitted,
    params: Params,
    truth: pd.DataFrame | None,
) -> tuple[dict, pd.DataFrame]:
    """The held-out campaign: Qini/AUUC by policy, and against the truth when known."""
    u = params.uplift
    plays = fitted.plays
    effect = scored[[f"effect_{p}" for p in plays]].to_numpy()
    cost = np.array([fitted.costs[p] for p in plays])
    stake = fitted.margin * scored["value"].to_numpy()
    best_any = np.argmax(effect * stake[:, None] - cost, axis=1)
    play_any = np.asarray(plays, dtype=object)[best_any]
    rng = np.random.default_rng(params.train.seed)
    scores = {
        "model": scored["expected_saved_value"].to_numpy(),
        "risk": scored["risk"].to_numpy(),
        "value_at_risk": scored["value_at_risk"].to_numpy(),
        "random": rng.random(len(test)),
    }
    # Qini on the randomised arms: controls and the treated who got the recommended play
    keep = uplift.matched_rows(test, play_any)
    churned = test["churned"].to_numpy(float)[keep]
    treated = (test["arm"] == uplift.TREATMENT).to_numpy()[keep]
    curves, out = {}, {"policies": {}}
    for name, s in scores.items():
        curve = uplift.qini_curve(churned, treated, s[keep])
        curves[name] = curve["saved"].to_numpy()
        out["policies"][name] = {
            "auuc": uplift.auuc(curve),
            "saved_churners_top_share": uplift.saved_at(
                churned, treated, s[keep], share=u.top_share
            ),
            "saved_value_top_share": uplift.saved_at(
                churned, treated, s[keep], share=u.top_share, value=stake[keep]
            ),
        }
    qini = pd.DataFrame({"share": curve["share"].to_numpy(), **curves})
    out["matched_rows"] = int(keep.sum())
    for other in ("risk", "value_at_risk", "random"):
        out[f"difference_vs_{other}"] = uplift.bootstrap_saved_difference(
            churned,
            treated,
            scores["model"][keep],
            scores[other][keep],
            share=u.top_share,
            value=stake[keep],
            n_boot=u.n_boot,
            seed=params.train.seed,
        )
    if truth is not None:
        out["truth"] = against_truth(test, scored, fitted, truth, scores, play_any, params)
    return out, qini


def against_truth(
    test: pd.DataFrame,
    scored: pd.DataFrame,
    fitted: Fitted,
    truth: pd.DataFrame,
    scores: dict[str, np.ndarray],
    play_any: np.ndarray,
    params: Params,
) -> dict:
    """Saved value of each policy with the planted effects; the oracle; sleeping dogs."""
    u = params.uplift
    plays = fitted.plays
    key = ["customer_id", "campaign"]
    t = test[key].merge(truth, on=key, how="left", validate="one_to_one")
    missing = [p for p in plays if f"effect_{p}" not in t]
    if missing or t[[f"effect_{p}" for p in plays]].isna().any().any():
        raise ValueError(f"the truth lacks the planted effects of plays {missing or plays}")
    true_effect = t[[f"effect_{p}" for p in plays]].to_numpy()
    stake = fitted.margin * scored["value"].to_numpy()
    cost = np.array([fitted.costs[p] for p in plays])
    true_net = true_effect * stake[:, None] - cost
    index = {p: j for j, p in enumerate(plays)}
    decided = scored["uplift_play"].map(index).fillna(-1).astype(int).to_numpy()
    forced = np.array([index[p] for p in play_any])
    k = max(1, int(round(u.top_share * len(test))))
    order = {name: np.argsort(-s, kind="stable") for name, s in scores.items()}
    saved = {
        "model": uplift.true_policy_value(order["model"], true_net, decided, k=k),
        **{
            name: uplift.true_policy_value(order[name], true_net, forced, k=k)
            for name in ("risk", "value_at_risk", "random")
        },
    }
    oracle = uplift.oracle_value(true_net, k=k)
    harmed = (true_effect < 0).all(axis=1)
    marked = (scored["uplift_play"] == "do not contact").to_numpy()
    diff = {
        name: uplift.bootstrap_true_difference(
            true_net,
            decided,
            forced,
            scores["model"],
            scores[name],
            share=u.top_share,
            n_boot=u.n_boot,
            seed=params.train.seed,
        )
        for name in ("risk", "value_at_risk")
    }
    return {
        "contacts": int(len(test)),
        "top_k": int(k),
        "saved_value": saved,
        "saved_value_per_1000": {n: v * 1000.0 / len(test) for n, v in saved.items()},
        "oracle_saved_value": oracle,
        "oracle_share": saved["model"] / oracle if oracle > 0 else float("nan"),
        "difference_per_1000": diff,
        "harmed_by_every_play": int(harmed.sum()),
        "harmed_marked_do_not_contact": int((harmed & marked).sum()),
        "harmed_share_marked": float((harmed & marked).sum() / harmed.sum())
        if harmed.any()
        else float("nan"),
        "marked_do_not_contact": int(marked.sum()),
    }


def _save_models(fitted: Fitted, directory: Path) -> None:
    """The learner's models in LightGBM's format, and what they were fitted with as JSON."""
    if fitted.value is not None:
        fitted.value.save_model(directory / "value.txt")
    first = next(iter(fitted.learners.values()))
    if fitted.learner == "hazard":
        first.baseline.save_model(directory / "baseline.txt")
        if fitted.types is not None:
            fitted.types.booster.save_model(directory / "types.txt")
        learnt = {
            "learner": "hazard",
            "link": first.link,
            "covariates": first.covariates.names,
            "baseline_correction": first.baseline_multipliers(),
            "types": list(fitted.types.classes) if fitted.types is not None else [],
            "plays": {
                p: {
                    "hazard_multipliers": m.multipliers(),
                    "coefficients": [float(b) for b in m.beta],
                    "n_treated": m.n_treated,
                    "n_control": m.n_control,
                    "cost": fitted.costs.get(p),
                }
                for p, m in fitted.learners.items()
            },
        }
    else:
        for play, learner in fitted.learners.items():
            learner.own.tau_treated.save_model(directory / f"{play}.tau_treated.txt")
            learner.own.tau_control.save_model(directory / f"{play}.tau_control.txt")
        first.pooled.tau_treated.save_model(directory / "any_contact.tau_treated.txt")
        first.pooled.tau_control.save_model(directory / "any_contact.tau_control.txt")
        learnt = {
            "learner": fitted.learner,
            "plays": {
                p: {
                    "share_treated": m.own.share_treated,
                    "n_treated": m.own.n_treated,
                    "n_control": m.own.n_control,
                    "weight": m.weight,
                    "cost": fitted.costs.get(p),
                }
                for p, m in fitted.learners.items()
            },
        }
    design = {"features": list(fitted.design.features), "categories": fitted.design.categories}
    io.write_json(learnt | {"design": design, "margin": fitted.margin}, directory / "meta.json")


def _write(
    report: dict, predictions: pd.DataFrame, qini: pd.DataFrame | None, fitted: Fitted | None
) -> None:
    with io.staged_dir(MODELS / "uplift") as models, io.staged_dir(OUT) as out:
        if fitted is not None:
            _save_models(fitted, models)
        else:
            io.write_text("no uplift model: " + report["reason"] + "\n", models / "NONE")
        io.write_parquet(predictions, out / "uplift.parquet")
        io.write_json(report, REPORTS / "uplift.json")
        if qini is None:  # no campaign to judge: the curve table is empty, not missing
            qini = pd.DataFrame(columns=["share", *POLICIES])
        io.write_csv(qini, QINI)


def _unlearnt(reason: str, rows: pd.DataFrame, params: Params) -> dict:
    """The report of a history no model can learn from. The plays' recorded costs still
    price the lists (reviewed: with the control arm missing, the win-back was priced at
    the default 6.00 instead of the recorded 2.50, and the list shrank from 129 to 19)."""
    report: dict = {"available": False, "reason": reason}
    costs = play_costs(rows, params.evaluate.contact_cost) if len(rows) else {}
    if costs:
        report["shipped"] = {"costs": costs}
    return report


def run(params: Params) -> None:
    meta = io.read_json(FEATURES / "meta.json")
    horizon = int(meta["horizon_days"])
    u = params.uplift
    score_day = pd.Timestamp(meta["cutoffs"]["score"])
    empty = pd.DataFrame(
        {
            c: pd.Series(dtype="object" if "play" in c or c == "customer_id" else "float64")
            for c in PREDICTION_COLUMNS
        }
    )
    if not CAMPAIGNS.exists():
        reason = "the shop has no contacts table (no campaign history): plays from the rules"
        log.info(reason)
        _write({"available": False, "reason": reason}, empty, None, None)
        return
    rows = pd.read_parquet(CAMPAIGNS)
    problem = history_problem(rows, u.min_arm)
    if problem is not None:
        reason = f"no uplift model from {len(rows):,} contacts: {problem}; plays from the rules"
        log.warning(reason)
        _write(_unlearnt(reason, rows, params), empty, None, None)
        return
    try:
        train, test, test_day = uplift.split_campaigns(rows, horizon_days=horizon)
        train = uplift.sample_contacts(train, max_rows=u.max_rows, seed=params.train.seed)
        fitted = Fitted(
            train,
            meta,
            params,
            as_of=test_day,
            contacts=rows,
            what=f"treated contacts before the held-out campaign of {test_day:%Y-%m-%d}",
            name_odd_costs=False,  # the list's model names them, from every contact
        )
    except ValueError as err:
        reason = f"no uplift model from {len(rows)} contacts: {err}; plays from the rules"
        log.warning(reason)
        _write(_unlearnt(reason, rows, params), empty, None, None)
        return
    scored = fitted.score(test)
    truth_path = TRUTH / "campaign_effects.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.exists() else None
    report, qini = evaluate(test, scored, fitted, params, truth)
    report.update(
        {
            "available": True,
            "held_out_campaign_day": str(test_day.date()),
            "held_out_contacts": int(len(test)),
            "training_contacts": int(len(train)),
            "training_days": int(train["cutoff"].nunique()),
            "top_share": params.uplift.top_share,
            "plays": fitted.plays,
            "plays_not_learnt": fitted.not_learnt,
            "costs": fitted.costs,
            "learner": fitted.learner,
            "type_model_surveys": fitted.types.n_labelled if fitted.types is not None else 0,
        }
    )
    # ship: the same procedure on every labelled contact, scoring the scoring population
    labelled = rows[rows["labelled"].astype(bool)].reset_index(drop=True)
    labelled = uplift.sample_contacts(labelled, max_rows=u.max_rows, seed=params.train.seed)
    final = Fitted(
        labelled,
        meta,
        params,
        as_of=score_day,
        comparison=False,
        contacts=rows,
        what="treated contacts whose horizon has ended, for the list",
    )
    snap = pd.read_parquet(FEATURES / "snapshots.parquet", filters=[("cutoff", "==", score_day)])
    value = pd.read_parquet(SCORE, columns=["customer_id", "expected_value", "p_lightgbm"])
    snap = snap.merge(value, on="customer_id", how="inner", validate="one_to_one")
    shipped = final.score(
        snap,
        value=snap["expected_value"].to_numpy(dtype=float),
        churn=snap["p_lightgbm"].to_numpy(dtype=float),
    )
    predictions = pd.concat(
        [
            snap[["customer_id"]].reset_index(drop=True),
            shipped.reset_index(drop=True)[
                PREDICTION_COLUMNS[1:] + [f"effect_{p}" for p in final.plays]
            ],
        ],
        axis=1,
    )
    # the campaigns' reach: nobody silent for less or longer than anyone they contacted
    # gets a play from them (the model would extrapolate); the rules decide there
    inside, reach = within_reach(snap, labelled)
    predictions = predictions[inside].reset_index(drop=True)
    report["shipped"] = {
        "contacts": int(len(labelled)),
        "customers_scored": int(len(predictions)),
        "reach": reach,
        # what the campaigns recorded each play costs: the lists price every play so
        "costs": final.costs,
        "plays_not_learnt": final.not_learnt,
        # ints, not numpy's (JSON wrote them as strings); keys as the lists spell plays
        # ("do_not_contact"), so no MLflow metric key holds a space
        "plays": {
            str(k).replace(" ", "_"): int(v)
            for k, v in predictions["uplift_play"].value_counts().sort_index().items()
        },
        "plays_note": "the best play of every customer scored, steady ones included; the "
        "list asks it only for early-warning, lapsing and lapsed customers (reports/score.json)",
    }
    if final.learner == "hazard":  # what each play does, for the report and MLflow
        report["shipped"]["hazard"] = {
            "link": params.uplift.link,
            "types": list(final.types.classes) if final.types is not None else [],
            "multipliers": {p: m.multipliers() for p, m in final.learners.items()},
        }
    report["decides"], report["verdict"] = held_out_verdict(report, params)
    if report["decides"]:
        log.info("uplift: the lists use the model: %s", report["verdict"])
    else:
        log.warning("uplift: %s", report["verdict"])
        predictions = empty
    _log(report)
    _write(report, predictions, qini, final)


# What the campaigns' reach is read along: whom they chose is a matter of silence
REACH_FEATURE = "days_since_last_order"


def within_reach(customers: pd.DataFrame, contacts: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Which customers lie within the whole days of silence the contacts spanned (all of
    them if either lacks the feature), and that span with the count outside it."""
    if REACH_FEATURE not in customers or REACH_FEATURE not in contacts:
        return np.ones(len(customers), dtype=bool), {}
    seen = pd.to_numeric(contacts[REACH_FEATURE], errors="coerce").dropna()
    if seen.empty:
        return np.ones(len(customers), dtype=bool), {}
    # in whole days elapsed, as the list writes them
    low, high = float(np.floor(seen.min())), float(np.floor(seen.max()))
    x = np.floor(pd.to_numeric(customers[REACH_FEATURE], errors="coerce").to_numpy(dtype=float))
    inside = (x >= low) & (x <= high)
    outside = int((~inside).sum())
    if outside:
        log.info(
            "uplift: %d customers silent for fewer than %.0f or more than %.0f days, the "
            "span the campaigns' contacts covered: their plays come from the rules",
            outside,
            low,
            high,
        )
    return inside, {"feature": REACH_FEATURE, "low": low, "high": high, "outside": outside}


def held_out_verdict(report: dict, params: Params) -> tuple[bool, str]:
    """Whether the model's plays go on the lists, and why (``uplift.require_lead``).

    On the held-out campaign, by the arms alone, contacting the top share by the model
    must save more profit than contacting the top share by churn risk, with the
    bootstrap interval of the difference (``difference_vs_risk``) above zero, and more
    than by value at risk (how the rules' lists rank) and at random.
    """
    d = report["difference_vs_risk"]
    share = f"top {params.uplift.top_share:.0%}"
    day = report["held_out_campaign_day"]
    if d["low"] is None or d["high"] is None:
        lead = f"{d['difference']:+.2f} per customer (no interval: too few controls)"
    else:
        lead = f"{d['difference']:+.2f} per customer [{d['low']:+.2f}, {d['high']:+.2f}]"
    saved = {k: m["saved_value_top_share"] for k, m in report["policies"].items()}
    behind = [
        f"{POLICY_NAMES[k]} ({saved[k]:+.2f} against the model's {saved['model']:+.2f})"
        for k in ("value_at_risk", "random")
        if k in saved and not saved["model"] > saved[k]
    ]
    if d["low"] is not None and d["low"] > 0 and not behind:
        return True, (
            f"on the held-out campaign of {day}, contacting the {share} by the model saved "
            f"{saved['model']:+.2f} profit per customer, more than by value at risk "
            f"({saved.get('value_at_risk', float('nan')):+.2f}), at random "
            f"({saved.get('random', float('nan')):+.2f}) and by churn risk (the model's "
            f"lead: {lead})"
        )
    why = (
        f"saved no more than targeting {' or '.join(behind)} per customer"
        if behind
        else f"did not save more than targeting by churn risk with an interval above zero ({lead})"
    )
    if not params.uplift.require_lead:
        return True, (
            f"on the held-out campaign of {day}, contacting the {share} by the model {why}; "
            "its plays are used all the same (uplift.require_lead: false)"
        )
    return False, (
        f"on the held-out campaign of {day}, contacting the {share} by the model {why}, "
        "so the plays come from the rules (uplift.require_lead)"
    )


def _log(report: dict) -> None:
    lines = [f"uplift on the held-out campaign of {report['held_out_campaign_day']}:"]
    for name, m in report["policies"].items():
        lines.append(
            f"  {name:>14}: AUUC {m['auuc']:.4f}, saved value top {report['top_share']:.0%} "
            f"{m['saved_value_top_share']:.3f} per customer"
        )
    t = report.get("truth")
    if t:
        lines.append(
            f"  true saved value (top {t['top_k']}): "
            + ", ".join(f"{k} {v:.1f}" for k, v in t["saved_value"].items())
            + f"; oracle {t['oracle_saved_value']:.1f} (model {t['oracle_share']:.0%})"
        )
        lines.append(
            f"  sleeping dogs: {t['harmed_marked_do_not_contact']} of "
            f"{t['harmed_by_every_play']} marked do not contact"
        )
    log.info("\n".join(lines))


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
