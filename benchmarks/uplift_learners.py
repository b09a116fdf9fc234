"""Which uplift learner, chosen on a campaign BEFORE the one the pipeline holds out.

Reads a finished run's ``data/features/campaigns.parquet``, ``data/features/meta.json``
and the embedded shop's true effects (``data/truth/campaign_effects.parquet``). The
validation campaign is the latest labelled one whose horizon ended before the
pipeline's held-out campaign day, so the choice never sees the campaign the README's
figures come from. For each learner it prints the true saved value of the top share
(the learner's own plays; "do not contact" and "no contact" skipped) as a share of the
oracle's, the sleeping dogs caught, and what the campaign's randomised arms say (saved
profit per customer of the top share, as the stage's held-out evaluation estimates it:
the one measure a real shop, with no true effects, can choose by). The hazard learner's
type model reads only survey answers given before the validation campaign.

Usage (from a checkout after `make run`)::

    .venv/bin/python benchmarks/uplift_learners.py [--run DIR] [--true-types] [--campaigns N]
        [--only LEARNER ...] [--decompose]

``--campaigns N`` validates on the N campaigns before the held-out one (each learnt
from its own past): one campaign of ~1,000 contacts ranks close learners by noise.

Two diagnostics no shop can run, for what limits every learner: ``--true-types`` gives
the hazard learners (and ``truth_fed``) the simulator's true loyalty types, and the
``truth_fed`` learner regresses the TRUE planted effects of the training contacts on
the features and type probabilities: a ceiling for what those inputs tell about the
effects. ``--held-out`` starts from the pipeline's own held-out campaign (to explain
the README's figures, not to choose). ``--decompose`` splits each learner's gap to the
oracle into whom it contacts and which play (:func:`decompose`).
``loglog_pooled_30_sharp<a>`` raise the type model's probabilities to the power ``a``
and renormalise them before the plays are fitted (a trial of 2026-11-29: soft
probabilities as covariates dilute each type's effect; not adopted, README).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import uplift  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.features import PER_CUTOFF  # noqa: E402
from pipeline.schema import LOYALTY_TYPES  # noqa: E402
from pipeline.stages.uplift import surveyed_before  # noqa: E402
from pipeline.train import Design, fit_value, predict  # noqa: E402


def s_learner(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
    """One LightGBM on both arms with the play as a feature: effect = f(x, none) - f(x, p)."""
    x = design.matrix(train)
    arm = train["play"].astype(object).where(train["arm"] == uplift.TREATMENT, "control")
    x["_play"] = pd.Categorical(arm, categories=["control", *plays])
    booster = uplift.fit_with_holdout(
        x, train["churned"].to_numpy(float), objective="binary", seed=seed, max_rounds=1000
    )

    def effects(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        base = design.matrix(frame)
        out = {}
        base["_play"] = pd.Categorical(["control"] * len(frame), categories=["control", *plays])
        p0 = booster.predict(base)
        for p in plays:
            base["_play"] = pd.Categorical([p] * len(frame), categories=["control", *plays])
            out[p] = p0 - booster.predict(base)
        return out

    return effects


def t_learner(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
    control = train[train["arm"] == uplift.CONTROL]
    mu0 = uplift.fit_with_holdout(
        design.matrix(control),
        control["churned"].to_numpy(float),
        objective="binary",
        seed=seed,
        max_rounds=1000,
    )
    mu = {}
    for i, p in enumerate(plays):
        arm = train[(train["arm"] == uplift.TREATMENT) & (train["play"] == p)]
        mu[p] = uplift.fit_with_holdout(
            design.matrix(arm),
            arm["churned"].to_numpy(float),
            objective="binary",
            seed=seed + i + 1,
            max_rounds=1000,
        )

    def effects(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        x = design.matrix(frame)
        p0 = mu0.predict(x)
        return {p: p0 - m.predict(x) for p, m in mu.items()}

    return effects


def x_learner(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
    models = uplift.fit_plays(train, design, plays=plays, seed=seed)
    return lambda frame: {p: m.effect(frame) for p, m in models.items()}


def x_shrunk(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
    """Each play's X-learner, shrunk halfway to an X-learner of any contact at all."""
    own = uplift.fit_plays(train, design, plays=plays, seed=seed)
    anyone = train.assign(play=train["play"].where(train["arm"] == uplift.CONTROL, "any"))
    pooled = uplift.fit_plays(anyone, design, plays=["any"], seed=seed + 50)["any"]

    def effects(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        base = pooled.effect(frame)
        return {p: 0.5 * m.effect(frame) + 0.5 * base for p, m in own.items()}

    return effects


def hazard(
    ridge: float,
    pooled: bool = True,
    link: str = "cloglog",
    contacts: bool = True,
    correct_baseline: bool = True,
    harm: bool = True,
    margin: float | None = None,
    threshold: float | None = None,
    baseline_ridge: float | None = None,
    situation_ridge: float | None = None,
    sharpen: float = 1.0,
):
    """Plays as hazard multipliers by type and situation (pipeline.uplift.HazardLearner);
    ``contacts=False``: the type model learns from the survey answers only (as before);
    ``correct_baseline=False``: the boosted baseline as is (as before); ``harm=False``:
    "do not contact" only when every play's expected effect is negative (as before), not
    also when no play pays and the type model gives more than ``threshold`` (default:
    the run's ``uplift.harm_probability``) to the types every play pushes away
    (pipeline.uplift.harm_probability), a type counting as pushed away when every play's
    multiplier for it is above ``1 + margin`` (default: the run's ``uplift.harm_margin``).
    ``baseline_ridge``: the penalty of the baseline's correction on the controls (default:
    the run's ``uplift.baseline_ridge``, if null ``ridge``); ``situation_ridge``: its
    penalty on the situations' coefficients (default: the run's
    ``uplift.situation_ridge``, if null the baseline's)."""

    def fit(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
        # learners that differ only in how they mark (harm, margin, threshold) share one
        # fit per validation campaign: the fits are deterministic, so this only saves time
        correction_ridge = baseline_ridge if baseline_ridge is not None else BASELINE_RIDGE
        if correction_ridge is None:
            correction_ridge = ridge
        on_situations = situation_ridge if situation_ridge is not None else SITUATION_RIDGE
        key = (train["cutoff"].max(), len(train), seed, ridge, pooled, link, contacts)
        key += (correct_baseline, correction_ridge, on_situations, tuple(plays), sharpen)
        if key not in _FITS:
            types = TRUE_TYPES or uplift.fit_type_model(
                SURVEYED, design, seed=seed, contacts=CONTACTS if contacts else None
            )
            if sharpen != 1.0 and types is not None:
                types = Sharpened(types, sharpen)
            covariates = uplift.HazardCovariates.for_rows(
                train, types.classes if types is not None else (), types
            )
            _FITS[key] = uplift.fit_hazard_plays(
                train,
                design,
                covariates,
                plays=plays,
                ridge=ridge,
                pooled=pooled,
                seed=seed,
                link=link,
                correct_baseline=correct_baseline,
                baseline_ridge=correction_ridge,
                situation_ridge=on_situations,
            )
        models = _FITS[key]

        def predict(frame: pd.DataFrame) -> dict[str, np.ndarray]:
            return {p: m.effect(frame) for p, m in models.items()}

        harm_margin = HARM_MARGIN if margin is None else margin
        if harm and models:
            covariates = next(iter(models.values())).covariates
            predict.harm = lambda frame: uplift.harm_probability(
                models, covariates.matrix(frame), harm_margin=harm_margin
            )
            predict.threshold = threshold

            def pushed_away(frame: pd.DataFrame) -> dict[str, float]:
                """Per type, the share of rows for whom every play's multiplier is above
                1 + margin."""
                every = uplift.pushed_away(models, covariates.matrix(frame), harm_margin)
                shares = every.mean(axis=0).round(2).tolist()
                return dict(zip(covariates.types, shares, strict=True))

            predict.pushed_away = pushed_away
        return predict

    return fit


class Sharpened:
    """A type model's probabilities raised to a power and renormalised (exploratory)."""

    def __init__(self, model, power: float) -> None:
        self.model, self.power, self.classes = model, power, model.classes

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.asarray(self.model(frame), dtype=float) ** self.power
        return p / p.sum(axis=1, keepdims=True)


def truth_fed(train: pd.DataFrame, design: Design, plays: list[str], seed: int):
    """A diagnostic ceiling no shop can run: per play, a LightGBM regressing the TRUE
    planted effect of each training contact on everything the shop knows at the contact
    (the features and the type model's probabilities; with ``--true-types`` the true
    types). It needs no arms and no baseline: what it misses on the validation campaign,
    the features and types do not tell (up to its own regression error), so no learner
    of the arms with these inputs can be expected to do better."""
    types = TRUE_TYPES or uplift.fit_type_model(SURVEYED, design, seed=seed, contacts=CONTACTS)

    def inputs(frame: pd.DataFrame) -> pd.DataFrame:
        x = design.matrix(frame)
        if types is not None:
            proba = np.asarray(types(frame), dtype=float)
            for j, t in enumerate(types.classes):
                x[f"_type_{t}"] = proba[:, j]
        return x

    effects = train[["customer_id", "campaign"]].merge(
        TRUTH, on=["customer_id", "campaign"], how="left", validate="one_to_one"
    )
    x = inputs(train)
    models = {
        p: uplift.fit_with_holdout(
            x,
            effects[f"effect_{p}"].to_numpy(float),
            objective="regression",
            seed=seed + i,
            max_rounds=2000,
            num_leaves=31,
            min_data_in_leaf=20,
        )
        for i, p in enumerate(plays)
    }

    def predict(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        x = inputs(frame)
        return {p: m.predict(x) for p, m in models.items()}

    return predict


def decompose(
    true_net: np.ndarray, decided: np.ndarray, score: np.ndarray, *, k: int
) -> dict[str, float]:
    """The policy's saved value (true effects) with its ranking or its plays swapped for the
    oracle's, each as a share of the oracle's: ``as_shipped``; ``best_play`` (its top ``k``
    by its score, each it contacts given the truly best play if that pays, else none);
    ``oracle_whom`` (the oracle's top ``k``, the policy's play, none where it has none);
    ``true_rank`` (the policy's play for everyone, the top ``k`` by that play's true net,
    where it pays). ``spearman``: of the score and the true best net; ``same_play``: the
    share of the oracle's contacts (true best net > 0) the policy gives the truly best play;
    ``overlap``: the share of the oracle's top ``k`` in the policy's."""
    rows = np.arange(len(decided))
    best = np.maximum(true_net.max(axis=1), 0.0)
    ideal = np.where(best > 0, true_net.argmax(axis=1), -1)
    own = np.argsort(-score, kind="stable")
    oracle_order = np.argsort(-best, kind="stable")
    net_chosen = np.where(decided >= 0, true_net[rows, np.maximum(decided, 0)], 0.0)
    paying = np.where(net_chosen > 0, decided, -1)
    oracle = uplift.oracle_value(true_net, k=k)
    top = oracle_order[:k][best[oracle_order[:k]] > 0]
    values = {
        "as_shipped": uplift.true_policy_value(own, true_net, decided, k=k),
        "best_play": uplift.true_policy_value(
            own, true_net, np.where(decided >= 0, ideal, -1), k=k
        ),
        "oracle_whom": uplift.true_policy_value(oracle_order, true_net, decided, k=k),
        "true_rank": uplift.true_policy_value(
            np.argsort(-net_chosen, kind="stable"), true_net, paying, k=k
        ),
    }
    return {
        **{name: v / oracle for name, v in values.items()},
        "spearman": float(pd.Series(score).corr(pd.Series(true_net.max(axis=1)), "spearman")),
        "same_play": float((decided[top] == ideal[top]).mean()),
        "overlap": len(np.intersect1d(own[:k], oracle_order[:k])) / k,
    }


def best_play_counts(
    true_net: np.ndarray, decided: np.ndarray, plays: list[str], *, k: int
) -> str:
    """Per play, how many of the oracle's contacts it is truly best for, and how many of
    those the policy gives it (``service_recovery 50 / 0``: a play the policy misses)."""
    best = np.maximum(true_net.max(axis=1), 0.0)
    ideal = np.where(best > 0, true_net.argmax(axis=1), -1)
    top = np.argsort(-best, kind="stable")[:k]
    top = top[best[top] > 0]
    counts = [
        (p, int((ideal[top] == j).sum()), int(((ideal[top] == j) & (decided[top] == j)).sum()))
        for j, p in enumerate(plays)
    ]
    return "; ".join(f"{p} {best_for} / {given}" for p, best_for, given in counts)


def _parts(d: dict[str, float]) -> str:
    """One line of :func:`decompose`: the oracle shares, then the diagnostics."""
    shares = "; ".join(f"{n} {d[n]:6.1%}" for n in ("as_shipped", "best_play", "oracle_whom"))
    return (
        f"{shares}; true_rank {d['true_rank']:6.1%} of the oracle; spearman "
        f"{d['spearman']:+.3f}; same play {d['same_play']:.0%}; overlap {d['overlap']:.0%}"
    )


_FITS: dict[tuple, dict] = {}  # hazard learners' fits, shared by learners that mark apart
SURVEYED = pd.DataFrame()  # the survey answers before the validation campaign (main)
TRUTH = pd.DataFrame()  # every contact's planted effects (main): truth_fed learns from them
CONTACTS = None  # every contact before the validation campaign: the type model's too
TRUE_TYPES = None  # --true-types: the simulator's own types, a diagnostic ceiling
BASELINE_RIDGE = None  # the run's uplift.baseline_ridge (main; None: the learner's ridge)
SITUATION_RIDGE = None  # the run's uplift.situation_ridge (main; None: BASELINE_RIDGE's)
HARM_MARGIN = 0.0  # the run's uplift.harm_margin (main)


class TrueTypes:
    """One-hot true loyalty types (``data/truth/truth.parquet``) in the type model's place."""

    classes = LOYALTY_TYPES

    def __init__(self, truth: pd.DataFrame) -> None:
        self.type_of = truth.set_index("customer_id")["true_type"]

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        kind = frame["customer_id"].map(self.type_of).to_numpy()
        return np.column_stack([(kind == t).astype(float) for t in self.classes])


LEARNERS = {
    **{f"hazard_ridge_{r:g}": hazard(r, False) for r in (1.0, 10.0, 30.0, 100.0)},
    **{f"hazard_pooled_{r:g}": hazard(r) for r in (1.0, 10.0, 30.0, 100.0)},
    **{f"loglog_ridge_{r:g}": hazard(r, False, "loglog") for r in (10.0, 30.0)},
    **{f"loglog_pooled_{r:g}": hazard(r, True, "loglog") for r in (10.0, 30.0, 100.0)},
    "hazard_pooled_30_answers": hazard(30.0, True, "cloglog", contacts=False),
    "loglog_pooled_30_answers": hazard(30.0, True, "loglog", contacts=False),
    "loglog_pooled_30_uncorrected": hazard(30.0, True, "loglog", correct_baseline=False),
    "loglog_pooled_30_expected": hazard(30.0, True, "loglog", harm=False),
    **{
        f"loglog_pooled_30_m{m:g}_t{t:g}": hazard(30.0, True, "loglog", margin=m, threshold=t)
        for m in (0.0, 0.05, 0.1, 0.2)
        for t in (0.5, 0.4, 0.3)
    },
    # the baseline correction's penalties as they were judged: marking at 0.4 without a
    # margin, the threshold of that day (README "Who is marked 'do not contact'")
    **{
        f"loglog_pooled_30_b{b:g}": hazard(
            30.0, True, "loglog", margin=0.0, threshold=0.4, baseline_ridge=b, situation_ridge=b
        )
        for b in (1.0, 3.0, 10.0, 30.0, 100.0)
    },
    "loglog_pooled_30_b30_s1": hazard(
        30.0, True, "loglog", margin=0.0, threshold=0.4, baseline_ridge=30.0, situation_ridge=1.0
    ),
    **{
        f"loglog_pooled_30_sharp{a:g}": hazard(30.0, True, "loglog", sharpen=a)
        for a in (0.5, 1.5, 2.0, 3.0)
    },
    "truth_fed": truth_fed,  # a diagnostic: learns from the true effects
    "x_shrunk": x_shrunk,
    "x_learner": x_learner,
    "t_learner": t_learner,
    "s_learner": s_learner,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=Path("."))
    ap.add_argument(
        "--true-types",
        action="store_true",
        help="hazard learners get the simulator's true loyalty types (how much knowing "
        "the type is worth; no shop has this)",
    )
    ap.add_argument(
        "--campaigns",
        type=int,
        default=1,
        help="validate on this many campaigns before the held-out one, each learnt from "
        "its own past, and print the mean oracle share and the sleeping dogs in all",
    )
    ap.add_argument(
        "--held-out",
        action="store_true",
        help="start from the pipeline's held-out campaign itself (the README's figures): "
        "a diagnostic of those figures, never a way to choose",
    )
    ap.add_argument(
        "--only",
        nargs="*",
        help="learners to run, names or shell-style patterns such as 'loglog_pooled_30_m*' "
        "(default: all)",
    )
    ap.add_argument(
        "--decompose",
        action="store_true",
        help="split each learner's gap to the oracle into whom it contacts and which play: "
        "its ranking with the truly best plays, the oracle's ranking with its plays, its "
        "plays ranked by their true net, the rank correlation and the plays that agree",
    )
    args = ap.parse_args()
    params = load_params(args.run / "params.yaml")
    rows = pd.read_parquet(args.run / "data/features/campaigns.parquet")
    truth = pd.read_parquet(args.run / "data/truth/campaign_effects.parquet")
    meta = pd.read_json(args.run / "data/features/meta.json", typ="series")
    horizon = int(meta["horizon_days"])
    _, _, held_out = uplift.split_campaigns(rows, horizon_days=horizon)
    past = rows if args.held_out else rows[rows["cutoff"] + pd.Timedelta(days=horizon) <= held_out]
    global SURVEYED, TRUE_TYPES, CONTACTS, TRUTH, BASELINE_RIDGE, SITUATION_RIDGE, HARM_MARGIN
    TRUTH = truth
    BASELINE_RIDGE = params.uplift.baseline_ridge
    SITUATION_RIDGE = params.uplift.situation_ridge
    HARM_MARGIN = params.uplift.harm_margin
    customers = pd.read_parquet(args.run / "data/truth/truth.parquet")
    type_of = customers.set_index("customer_id")["true_type"]
    if args.true_types:
        TRUE_TYPES = TrueTypes(customers)
    os.chdir(args.run)  # the stage's paths are relative to the run
    learners = {
        n: f
        for n, f in LEARNERS.items()
        if not args.only or any(fnmatch.fnmatchcase(n, pattern) for pattern in args.only)
    }
    unknown = [p for p in args.only or [] if not any(fnmatch.fnmatchcase(n, p) for n in LEARNERS)]
    if unknown:
        ap.error(f"no learner matches {unknown}; the learners: {', '.join(LEARNERS)}")
    totals: dict[str, list[tuple[float, int, int, int]]] = {n: [] for n in learners}
    parts: dict[str, list[dict[str, float]]] = {n: [] for n in learners}
    for _ in range(args.campaigns):
        train, valid, day = uplift.split_campaigns(past, horizon_days=horizon)
        past = past[past["cutoff"] < day]  # the next validation campaign is an earlier one
        print(
            f"validation campaign {day.date()} ({len(valid)} contacts), trained on "
            f"{len(train)} contacts before it; the pipeline holds out {held_out.date()}"
        )
        names = [n for n in meta["features"] if n not in PER_CUTOFF and n in rows]
        design = Design.fit(train, names, meta["categorical"])
        CONTACTS = rows[rows["cutoff"] < day]
        SURVEYED = surveyed_before(day, design)
        print(f"type model: {len(SURVEYED)} customers surveyed before {day.date()}")
        plays = sorted(str(p) for p in train.loc[train["arm"] == "treatment", "play"].unique())
        costs = train[train["arm"] == "treatment"].groupby("play")["contact_cost"].mean().to_dict()
        last = train["cutoff"] == train["cutoff"].max()
        value_model = fit_value(train[~last], train[last], design, params.train)
        stake = params.retention.margin * np.maximum(predict(value_model, design, valid), 0)
        t = valid[["customer_id", "campaign"]].merge(truth, on=["customer_id", "campaign"])
        planted = t[[f"effect_{p}" for p in plays]].to_numpy()
        true_net = planted * stake[:, None] - np.array([costs[p] for p in plays])
        k = int(round(params.uplift.top_share * len(valid)))
        oracle = uplift.oracle_value(true_net, k=k)
        harmed = (planted < 0).all(axis=1)
        # the simulator zeroes every effect of a customer who left in the campaign's week
        gone = (planted == 0).all(axis=1)
        print(
            f"oracle saved value (top {k}): {oracle:.1f}; harmed by every play: "
            f"{harmed.sum()}; already gone (no play has any effect): {gone.sum()}"
        )
        for name, learner in learners.items():
            scorer = learner(train, design, plays, params.train.seed)
            effects = scorer(valid)
            harm = scorer.harm(valid) if hasattr(scorer, "harm") else None
            threshold = getattr(scorer, "threshold", None)
            if threshold is None:  # the run's own, as the stage marks them
                threshold = params.uplift.harm_probability
            chosen = uplift.choose_plays(effects, stake, costs, harm, threshold)
            index = {p: j for j, p in enumerate(plays)}
            decided = chosen["play"].map(index).fillna(-1).astype(int).to_numpy()
            order = np.argsort(-chosen["expected_saved_value"].to_numpy(), kind="stable")
            saved = uplift.true_policy_value(order, true_net, decided, k=k)
            marked = (chosen["play"] == "do not contact").to_numpy()
            # what a shop without a simulator sees: the validation campaign's own arms
            effect = np.column_stack([effects[p] for p in plays])
            best = np.argmax(effect * stake[:, None] - np.array([costs[p] for p in plays]), axis=1)
            keep = uplift.matched_rows(valid, np.asarray(plays, dtype=object)[best])
            arms = uplift.saved_at(
                valid["churned"].to_numpy(float)[keep],
                (valid["arm"] == uplift.TREATMENT).to_numpy()[keep],
                chosen["expected_saved_value"].to_numpy()[keep],
                share=params.uplift.top_share,
                value=stake[keep],
            )
            if hasattr(scorer, "pushed_away"):
                shares = {t: v for t, v in scorer.pushed_away(valid).items() if v > 0}
                print(f"{name:>10}: types every play pushes away (share of rows): {shares}")
            dogs = int((harmed & marked).sum())
            wrong = valid.loc[marked & ~harmed, "customer_id"].map(type_of).value_counts()
            if len(wrong):
                print(f"{name:>10}: marked but not sleeping dogs, by true type: {wrong.to_dict()}")
            totals[name].append((saved / oracle, dogs, int(harmed.sum()), int(marked.sum())))
            print(
                f"{name:>10}: saved {saved:8.1f} = {saved / oracle:6.1%} of the oracle; "
                f"sleeping dogs marked {dogs} of {int(harmed.sum())} "
                f"({int(marked.sum())} marked in all); arms: {arms:+.2f} saved per customer",
                flush=True,
            )
            if args.decompose:
                score = chosen["expected_saved_value"].to_numpy()
                parts[name].append(decompose(true_net, decided, score, k=k))
                print(f"{name:>10}: " + _parts(parts[name][-1]), flush=True)
                print(
                    f"{name:>10}: the oracle's contacts by truly best play / given it: "
                    + best_play_counts(true_net, decided, plays, k=k),
                    flush=True,
                )
    if args.campaigns > 1:
        print(f"over the {args.campaigns} validation campaigns:")
        for name, got in totals.items():
            share = np.mean([g[0] for g in got])
            dogs, harmed_all = sum(g[1] for g in got), sum(g[2] for g in got)
            marked_all = sum(g[3] for g in got)
            f1 = 2 * dogs / (harmed_all + marked_all) if harmed_all + marked_all else 0.0
            caught = f"{dogs / harmed_all:.0%}" if harmed_all else "-"
            print(
                f"{name:>10}: mean oracle share {share:6.1%}; "
                f"sleeping dogs marked {dogs} of {harmed_all} ({caught}); "
                f"{marked_all} marked in all (F1 {f1:.3f})"
            )
            if args.decompose:
                mean = pd.DataFrame(parts[name]).mean().to_dict()
                print(f"{name:>10}: mean " + _parts(mean))


if __name__ == "__main__":
    main()
