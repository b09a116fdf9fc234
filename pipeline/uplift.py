"""Who can still be saved, and by which play: uplift learnt from randomised campaigns.

Ranking by churn risk answers "who will leave", not "whom will a contact keep". Some
customers leave whatever is done, some stay anyway, and some leave *because* they
were contacted (a blanket discount to a premium customer cheapens the brand). A shop
that holds out a random control group in its retention campaigns can learn the
difference: for each play, the effect of the contact on churn within the horizon, as a
function of the customer's point-in-time features.

Two learners, chosen between on a campaign before the held-out one
(``benchmarks/uplift_learners.py``, ``uplift.learner``):

- :class:`HazardLearner` (the default): a play multiplies the customer's churn hazard by
  a factor that depends on their loyalty type (probabilities from a classifier of the
  survey answers given before the date) and the situations the plays are meant for
  (a late parcel, an open complaint, a long silence); a few coefficients per play,
  partially pooled toward those of being contacted at all;
- an X-learner (Kunzel, Sekhon, Bickel & Yu 2019) on LightGBM per play, sharing the
  control arm, shrunk toward the X-learner of any contact (:class:`ShrunkLearner`).

``effect`` is the *reduction* in churn probability the play causes (positive: the play
keeps the customer; negative: a sleeping dog).

Evaluation is on campaigns held out in time: Qini curves and the area under them for
targeting by uplift, by churn risk, by value at risk and at random, estimated from the
randomised arms (and, for a simulated shop, against the true effects).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline.config import Uplift
from pipeline.labels import stratified_keep
from pipeline.schema import LOYALTY_TYPES
from pipeline.train import Design

log = logging.getLogger(__name__)

TREATMENT = "treatment"
CONTROL = "control"


@dataclass(frozen=True)
class XLearner:
    """The fitted X-learner of one play: effect(x) = P(churn | control) - P(churn | play)."""

    play: str
    design: Design
    tau_treated: lgb.Booster  # imputed effects on the treated, regressed
    tau_control: lgb.Booster  # imputed effects on the controls, regressed
    share_treated: float  # the randomisation's share of the play among its two arms
    n_treated: int
    n_control: int

    def effect(self, frame: pd.DataFrame) -> np.ndarray:
        """Reduction in churn probability from the play, per row (may be negative)."""
        x = self.design.matrix(frame)
        g = self.share_treated
        # weight each arm's estimate by the other arm's share (Kunzel et al., eq. 8)
        estimate = g * self.tau_control.predict(x) + (1 - g) * self.tau_treated.predict(x)
        return np.clip(estimate, -1.0, 1.0)


def _lgb_params(seed: int, objective: str, **extra: object) -> dict[str, object]:
    return {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_data_in_leaf": 200,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": 2,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
        **extra,
    }


def fit_with_holdout(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    objective: str,
    seed: int,
    max_rounds: int,
    stratify: bool = False,
    groups: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    **extra: object,
) -> lgb.Booster:
    """LightGBM early-stopped on a seeded fifth of the rows (all in the training past),
    stratified by ``y`` when ``stratify`` (a class label); ``extra`` LightGBM params.
    Leaves hold at least 200 rows, or a twentieth of the training rows when fewer than
    4,000 (at least 20), unless ``extra`` says otherwise.

    ``groups`` (one key per row, e.g. the customer): the fifth held out is one of whole
    groups, so rows of one customer never sit on both sides (with ``stratify``, the
    groups are stratified by their first row's ``y``). ``weight``: per-row weights."""
    if groups is not None:
        groups = np.asarray(groups)
        keys, first = np.unique(groups, return_index=True)
        _, held = train_test_split(
            keys,
            test_size=0.2,
            stratify=np.asarray(y)[first] if stratify else None,
            random_state=seed,
        )
        hold = np.isin(groups, held)
    elif stratify:
        hold = np.zeros(len(y), dtype=bool)
        _, held = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
        hold[held] = True
    else:
        rng = np.random.default_rng(seed)
        hold = rng.random(len(y)) < 0.2
    if hold.all() or not hold.any():
        hold = np.zeros(len(y), dtype=bool)
        hold[: max(1, len(y) // 5)] = True
    # a leaf of 200 rows suits thousands (the embedded shop's controls are ~9,000); a
    # real shop's few hundred controls would get one leaf, the same churn for everyone
    extra.setdefault("min_data_in_leaf", min(200, max(20, int((~hold).sum()) // 20)))
    params = _lgb_params(seed, objective, **extra)
    w = None if weight is None else np.asarray(weight, dtype=float)
    train = lgb.Dataset(
        x[~hold], label=y[~hold], weight=None if w is None else w[~hold], free_raw_data=False
    )
    valid = lgb.Dataset(
        x[hold], label=y[hold], weight=None if w is None else w[hold], reference=train
    )
    booster = lgb.train(
        params,
        train,
        num_boost_round=max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))


def fit_x_learner(
    treated: pd.DataFrame,
    control: pd.DataFrame,
    design: Design,
    *,
    play: str,
    outcome: str = "churned",
    seed: int = 0,
    max_rounds: int = 500,
) -> XLearner:
    """Fit one play's X-learner on its randomised arms.

    Parameters
    ----------
    treated, control
        Features at the moment of contact and the ``outcome`` (1: churned within the
        horizon after it) of the contacted customers of this play and of the held-out
        controls.
    design
        Feature columns and category levels.
    play
        The play's name.
    outcome
        The 0/1 outcome column.
    seed
        Seeds the holdouts and LightGBM.
    max_rounds
        Most boosting rounds of each of the four models.

    Raises
    ------
    ValueError
        If an arm has fewer than 50 rows or a single outcome.
    """
    for name, arm in (("treated", treated), ("control", control)):
        y = arm[outcome].to_numpy()
        if len(arm) < 50 or y.min() == y.max():
            raise ValueError(
                f"play {play!r}: the {name} arm has {len(arm)} rows and "
                f"{int(y.sum()) if len(arm) else 0} churners; an uplift model needs at least "
                "50 rows with both outcomes in each arm (more campaigns, or a larger control "
                "share)"
            )
    x1, x0 = design.matrix(treated), design.matrix(control)
    y1, y0 = treated[outcome].to_numpy(float), control[outcome].to_numpy(float)
    # stage 1: each arm's churn probability
    mu1 = fit_with_holdout(x1, y1, objective="binary", seed=seed, max_rounds=max_rounds)
    mu0 = fit_with_holdout(x0, y0, objective="binary", seed=seed + 1, max_rounds=max_rounds)
    # stage 2: imputed individual effects (churn avoided), regressed on the features
    d1 = mu0.predict(x1) - y1  # treated: what would have happened minus what did
    d0 = y0 - mu1.predict(x0)  # controls: what did happen minus what the play would do
    tau1 = fit_with_holdout(x1, d1, objective="regression", seed=seed + 2, max_rounds=max_rounds)
    tau0 = fit_with_holdout(x0, d0, objective="regression", seed=seed + 3, max_rounds=max_rounds)
    share = len(treated) / (len(treated) + len(control))
    log.info(
        "uplift %s: %d treated, %d controls, mean effect %.4f",
        play,
        len(treated),
        len(control),
        float(np.mean(y0) - np.mean(y1)),
    )
    return XLearner(play, design, tau1, tau0, share, len(treated), len(control))


def fit_plays(
    contacts: pd.DataFrame,
    design: Design,
    *,
    plays: Sequence[str],
    outcome: str = "churned",
    seed: int = 0,
) -> dict[str, XLearner]:
    """One X-learner per play that has enough data; controls are shared by every play.

    ``contacts`` holds one row per contact with ``play``, ``arm`` (treatment/control),
    the features at contact time and the ``outcome``. A play with too little data is
    left out (logged): the list then falls back to the rules for it.
    """
    control = contacts[contacts["arm"] == CONTROL]
    models = {}
    for i, play in enumerate(plays):
        treated = contacts[(contacts["arm"] == TREATMENT) & (contacts["play"] == play)]
        try:
            models[play] = fit_x_learner(
                treated, control, design, play=play, outcome=outcome, seed=seed + 10 * i
            )
        except ValueError as err:
            log.warning("no uplift model for %s: %s", play, err)
    return models


ANY_CONTACT = "any contact"


@dataclass(frozen=True)
class ShrunkLearner:
    """A play's X-learner shrunk toward the X-learner of any contact at all.

    Each play has a fifth of the treated contacts; the effect of being contacted at all
    has all of them. Much of who is pushed away (the sleeping dogs) or kept is common to
    every play, so each play's estimate is ``weight`` x its own + the rest x the pooled
    one: less noise, and sleeping dogs found by five times the data. The weight was
    chosen on a campaign before the held-out one (``benchmarks/uplift_learners.py``).
    """

    own: XLearner
    pooled: XLearner
    weight: float = 0.5

    @property
    def play(self) -> str:
        return self.own.play

    def effect(self, frame: pd.DataFrame) -> np.ndarray:
        return self.weight * self.own.effect(frame) + (1.0 - self.weight) * self.pooled.effect(
            frame
        )


def fit_shrunk_plays(
    contacts: pd.DataFrame,
    design: Design,
    *,
    plays: Sequence[str],
    weight: float = 0.5,
    outcome: str = "churned",
    seed: int = 0,
) -> dict[str, ShrunkLearner]:
    """:func:`fit_plays`, each shrunk toward the effect of any contact (:class:`ShrunkLearner`)."""
    own = fit_plays(contacts, design, plays=plays, outcome=outcome, seed=seed)
    if not own:
        return {}
    anyone = contacts.assign(
        play=contacts["play"].astype(object).where(contacts["arm"] == CONTROL, ANY_CONTACT)
    )
    pooled = fit_plays(anyone, design, plays=[ANY_CONTACT], outcome=outcome, seed=seed + 50)
    if not pooled:
        return {}
    return {p: ShrunkLearner(m, pooled[ANY_CONTACT], weight) for p, m in own.items()}


# --- the hazard learner ------------------------------------------------------------------

# The situations each play is meant for (LOYALTY.md's plays): a late parcel for the
# fulfilment fix, an open complaint for the service call, a long silence for the win-back.
SITUATIONS: dict[str, tuple[str, str, float]] = {
    # covariate -> (feature, test, threshold)
    "late_delivery_90d": ("late_deliveries_90d", ">", 0.0),
    "open_complaint": ("complaints_unresolved_now", ">", 0.0),
    "recent_order_90d": ("days_since_last_order", "<", 91.0),
}


def _cloglog(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1.0 - 1e-4)
    return np.log(-np.log1p(-p))


def _loglog(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1.0 - 1e-4)
    return -np.log(-np.log(p))


def _link(p: np.ndarray, link: str) -> np.ndarray:
    """``p`` on the link's scale (:data:`HAZARD_LINKS`)."""
    return _loglog(p) if link == "loglog" else _cloglog(p)


def _inverse_link(eta: np.ndarray, link: str) -> np.ndarray:
    """The chance of churning whose link-scale value is ``eta``."""
    if link == "loglog":
        return np.exp(-np.exp(-np.clip(eta, -4.0, 12.0)))
    return -np.expm1(-np.exp(np.clip(eta, -12.0, 4.0)))


# How a play's multiplier m = exp(z . beta) turns the chance of churning without contact
# (p0, no order within the horizon) into the chance after the play:
#   cloglog: 1 - (1 - p0) ** m, m multiplies the hazard of leaving (a constant hazard);
#   loglog: p0 ** (1 / m), m divides the rate of ordering: "churned" is "no order in the
#     horizon", exp(-rate x horizon), and a play that brings orders forward (a coupon, an
#     express delivery) or puts them off acts on that rate.
# Both read m > 1 as pushing the customer away.
HAZARD_LINKS = ("cloglog", "loglog")


@dataclass(frozen=True)
class HazardCovariates:
    """Who the customer is, as the plays' effects depend on it: intercept, the loyalty
    type probabilities (``type_proba(frame)``, a column per type but the first), and the
    situations of :data:`SITUATIONS` found in the features."""

    types: tuple[str, ...] = ()
    type_proba: object = None  # callable frame -> (n, len(types)) array, or None
    situations: tuple[str, ...] = ()

    @classmethod
    def for_rows(cls, rows: pd.DataFrame, types: Sequence[str] = (), type_proba=None):
        found = tuple(k for k, (f, _, _) in SITUATIONS.items() if f in rows)
        return cls(tuple(types), type_proba, found)

    @property
    def names(self) -> list[str]:
        return ["intercept", *(f"type_{t}" for t in self.types[1:]), *self.situations]

    @property
    def n_types(self) -> int:
        """Loyalty types in the covariates (0 without a type model): columns 1 .. n - 1
        of :meth:`matrix` hold the probabilities of all but the first."""
        return len(self.types) if self.type_proba is not None else 0

    def type_weights(self, z: np.ndarray) -> np.ndarray:
        """Each row's type probabilities (n, n_types), read back from its covariates."""
        rest = z[:, 1 : self.n_types]
        return np.clip(np.column_stack([1.0 - rest.sum(axis=1), rest]), 0.0, 1.0)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        z = [np.ones(len(frame))]
        if self.type_proba is not None and self.types:
            proba = np.asarray(self.type_proba(frame), dtype=float)
            z.extend(proba[:, 1:].T)
        for name in self.situations:
            feature, test, threshold = SITUATIONS[name]
            x = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype=float)
            hit = x > threshold if test == ">" else x < threshold
            z.append(np.where(np.isnan(x), 0.0, hit.astype(float)))
        return np.column_stack(z)


@dataclass(frozen=True)
class HazardLearner:
    """A play as a multiplier of the churn hazard, by who the customer is.

    The theory's plays act on the hazard of leaving: a discount lowers a price-loyal
    customer's and raises a premium customer's, a service call lowers that of a customer
    with an open complaint, any contact raises a latent customer's. So the chance of
    churning within the horizon after the play is ``1 - (1 - p0) ** m``, with ``p0`` the
    chance without contact (a LightGBM fitted on the control arms, recalibrated along the
    same covariates: ``correction``) and the multiplier ``log m = z . beta``, fitted on
    the play's treated arm by ridge-penalised maximum likelihood (a complementary
    log-log model with ``p0`` as offset). A handful of coefficients per play instead of
    four boosted models: the small arms of a shop's campaigns estimate them well, and
    they read as a table ("a service call multiplies an open complaint's hazard by 0.3").

    Why the correction: the boosted baseline cannot see a small group (its leaves hold at
    least 200 contacts; a shop's controls with an open complaint are a few hundred), so
    it under-states their churn, and a multiplier fitted against it reads the gap as
    every play's harm. Fitted on the controls alone, the correction puts the baseline
    right along each covariate; the multipliers then measure only the randomised
    contrast.
    """

    play: str
    baseline: lgb.Booster
    design: Design
    covariates: HazardCovariates
    beta: np.ndarray
    n_treated: int
    n_control: int
    link: str = "cloglog"  # HAZARD_LINKS: how the multiplier acts on p0
    # the baseline's correction on the link scale, per covariate (None: the booster as is)
    correction: np.ndarray | None = None

    def baseline_churn(self, frame: pd.DataFrame, z: np.ndarray | None = None) -> np.ndarray:
        """The chance of churning without contact; ``z``: the covariates' matrix, if
        already computed."""
        raw = self.baseline.predict(self.design.matrix(frame))
        if self.correction is None:
            return raw
        if z is None:
            z = self.covariates.matrix(frame)
        return _inverse_link(_link(raw, self.link) + z @ self.correction, self.link)

    def effect(
        self, frame: pd.DataFrame, p0: np.ndarray | None = None, z: np.ndarray | None = None
    ) -> np.ndarray:
        """Reduction in churn probability from the play, per row (may be negative).

        ``p0`` (:meth:`baseline_churn`) and ``z`` (the covariates' matrix) may be passed
        in when several plays score the same rows: both are the same for every play.
        """
        if z is None:
            z = self.covariates.matrix(frame)
        if p0 is None:
            p0 = self.baseline_churn(frame, z)
        m = np.exp(np.clip(z @ self.beta, -8.0, 8.0))
        if self.link == "loglog":
            return p0 - p0 ** (1.0 / m)
        return p0 - (1.0 - (1.0 - p0) ** m)

    def harms_by_type(self, z: np.ndarray, harm_margin: float = 0.0) -> np.ndarray:
        """Whether the play would push the customer away (n, n_types) were they of each
        type: the multiplier with that type's coefficient instead of the probabilities'
        blend is above ``1 + harm_margin``."""
        k = self.covariates.n_types
        rest = z @ self.beta - z[:, 1:k] @ self.beta[1:k]
        log_m = rest[:, None] + np.concatenate([[0.0], self.beta[1:k]])[None, :]
        return log_m > np.log1p(harm_margin)

    def multipliers(self) -> dict[str, float]:
        """exp(beta): the hazard multiplier of each covariate (1 = no change)."""
        return self._named(self.beta)

    def baseline_multipliers(self) -> dict[str, float]:
        """exp(correction): how the controls put the boosted baseline right, per covariate."""
        return {} if self.correction is None else self._named(self.correction)

    def _named(self, coefficients: np.ndarray) -> dict[str, float]:
        names = self.covariates.names
        return {n: float(np.exp(b)) for n, b in zip(names, coefficients, strict=True)}


@dataclass(frozen=True)
class TypeModel:
    """Loyalty-type probabilities from the campaign features, learnt from survey answers."""

    booster: lgb.Booster
    classes: tuple[str, ...]
    design: Design
    n_labelled: int

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.design.matrix(frame)).reshape(len(frame), -1)


# Answers the uplift stage's type model learns from at most (a seeded sample stratified
# by type above it). Its probabilities are covariates of the plays' hazard multipliers,
# computed for every contact and every scored customer: at a million customers (69k
# answers) the full model grew to 257 rounds x 7 classes and predicting it was 77 s of
# the stage's 182 under cProfile. A shop of 20k customers has about 1.3k answers:
# unaffected.
TYPE_MODEL_MAX_ANSWERS = 20_000


def fit_type_model(
    surveyed: pd.DataFrame,
    design: Design,
    *,
    seed: int,
    min_per_type: int = 5,
    max_answers: int = TYPE_MODEL_MAX_ANSWERS,
    contacts: pd.DataFrame | None = None,
) -> TypeModel | None:
    """A multiclass LightGBM of the surveyed customers' types (``loyalty_type``), or None.

    ``surveyed`` holds features of customers who answered a survey and the type their
    answers give (``pipeline.release.survey_labels``). Types with fewer than
    ``min_per_type`` answers are left out; fewer than two types left: None. Above
    ``max_answers`` answers it learns from a seeded sample of them stratified by type
    (``n_labelled`` counts the answers it learnt from).

    ``contacts``: campaign contacts (``customer_id`` and the features as of the day of
    contact). A surveyed customer's contacts are labelled examples too, with the type
    their answer gave: the model is applied to customers as campaigns find them (lapsing,
    3 to 30 weeks since the last order), and a survey's latest snapshot mostly shows the
    same customers while still buying. Each customer's rows weigh 1 in all, and early
    stopping holds out whole customers.
    """
    if surveyed.empty or "loyalty_type" not in surveyed:
        return None
    counts = surveyed["loyalty_type"].value_counts()
    classes = tuple(t for t in LOYALTY_TYPES if counts.get(t, 0) >= min_per_type)
    if len(classes) < 2:
        return None
    rows = surveyed[surveyed["loyalty_type"].isin(classes)]
    if len(rows) > max_answers:
        keep, _ = train_test_split(
            np.arange(len(rows)),
            train_size=max_answers,
            stratify=rows["loyalty_type"].to_numpy(),
            random_state=seed,
        )
        log.info("type model learns from a sample of %d of %d answers", max_answers, len(rows))
        rows = rows.iloc[np.sort(keep)]
    n_answers = len(rows)
    groups = weight = None
    if contacts is not None and not contacts.empty and "customer_id" in rows:
        label = rows.drop_duplicates("customer_id").set_index("customer_id")["loyalty_type"]
        seen = contacts[contacts["customer_id"].isin(label.index)]
        seen = seen.assign(loyalty_type=seen["customer_id"].map(label).to_numpy())
        rows = pd.concat(
            [
                rows[["customer_id", *design.features, "loyalty_type"]],
                seen[["customer_id", *design.features, "loyalty_type"]],
            ],
            ignore_index=True,
        )
        groups = rows["customer_id"].astype(str).to_numpy()
        weight = 1.0 / pd.Series(groups).map(pd.Series(groups).value_counts()).to_numpy()
        log.info(
            "type model: %d answers and %d contacts of the surveyed customers",
            n_answers,
            len(seen),
        )
    y = rows["loyalty_type"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    # early-stopped on a stratified fifth of the answers: a few hundred overfit in a few
    # dozen rounds, and overconfident type probabilities would move every play's effect
    booster = fit_with_holdout(
        design.matrix(rows),
        y,
        objective="multiclass",
        seed=seed,
        max_rounds=300,
        stratify=True,
        groups=groups,
        weight=weight,
        num_class=len(classes),
        min_data_in_leaf=20,
        num_leaves=15,
    )
    return TypeModel(booster, classes, design, n_answers)


def fit_hazard_multiplier(
    z: np.ndarray,
    offset: np.ndarray,
    y: np.ndarray,
    *,
    ridge: float | np.ndarray,
    prior: np.ndarray | None = None,
    link: str = "cloglog",
) -> np.ndarray:
    """Complementary log-log (``link="loglog"``: log-log) regression with an offset, its
    coefficients (all but the intercept) pulled toward ``prior`` (default 0) by an L2
    penalty of weight ``ridge`` (one per coefficient if an array). The offset is ``p0``
    on the link's scale; a positive ``z . beta`` raises the chance of churning under
    either link."""
    from scipy.optimize import minimize

    centre = np.zeros(z.shape[1]) if prior is None else np.asarray(prior, dtype=float)
    weight = np.broadcast_to(np.asarray(ridge, dtype=float), centre.shape)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        if link == "loglog":  # churn p = exp(-u), u = exp(-eta) the ordering rate
            eta = np.clip(offset + z @ beta, -4.0, 12.0)
            u = np.exp(-eta)
            q = np.clip(-np.expm1(-u), 1e-12, 1.0)  # 1 - p: ordered
            loglik = -y * u + (1.0 - y) * np.log(q)
            dldeta = y * u - (1.0 - y) * u * np.exp(-u) / q
        else:
            eta = np.clip(offset + z @ beta, -12.0, 4.0)
            mu = np.exp(eta)
            p = np.clip(-np.expm1(-mu), 1e-12, 1.0)
            loglik = y * np.log(p) - (1.0 - y) * mu
            dldeta = y * np.exp(-mu) * mu / p - (1.0 - y) * mu
        penalty = beta - centre
        penalty[0] = 0.0
        return (
            -float(loglik.sum()) + float(penalty @ (weight * penalty)),
            -(z.T @ dldeta) + 2.0 * weight * penalty,
        )

    result = minimize(loss, centre.copy(), jac=True, method="L-BFGS-B")
    return result.x


def fit_hazard_plays(
    contacts: pd.DataFrame,
    design: Design,
    covariates: HazardCovariates,
    *,
    plays: Sequence[str],
    ridge: float = 30.0,
    pooled: bool = True,
    outcome: str = "churned",
    seed: int = 0,
    link: str = "cloglog",
    correct_baseline: bool = True,
    baseline_ridge: float | None = None,
    situation_ridge: float | None = None,
) -> dict[str, HazardLearner]:
    """One :class:`HazardLearner` per play, sharing the baseline fitted on the controls.

    With ``pooled``, each play's coefficients are pulled toward those of being contacted
    at all (fitted on every treated contact, five times a play's data) instead of toward
    no effect: what is common to every play, such as a latent customer's aversion to any
    contact, is learnt from all of them, and a play departs from it where its own arm
    says so (partial pooling).

    ``link`` (:data:`HAZARD_LINKS`): whether a play multiplies the hazard of leaving
    (``cloglog``) or divides the rate of ordering (``loglog``).

    ``correct_baseline``: recalibrate the boosted baseline along the covariates on the
    controls (the same penalised regression, no play) before fitting the plays against
    it, so a group the booster cannot resolve is not read as every play's harm
    (:class:`HazardLearner`). False: the booster as is (kept for the benchmark).
    ``baseline_ridge``: the correction's L2 penalty toward the booster on the type
    probabilities' coefficients (None: ``ridge``, the plays'). Pulled as hard as the
    plays are, a few hundred controls of one type churning less than usual by chance are
    not read as the baseline's error for everyone likely of that type, and so as every
    play pushing them away: the booster reads the features the type model reads.
    ``situation_ridge``: its penalty on the situations' coefficients (None: the same).
    A rare observed fact (an open complaint) is what the booster's leaves cannot
    isolate: held back harder than the plays, what the correction leaves of that
    group's real gap is read as every play's effect (tests/test_uplift.py).
    """
    if link not in HAZARD_LINKS:
        raise ValueError(f"unknown link {link!r}: one of {HAZARD_LINKS}")
    control = contacts[contacts["arm"] == CONTROL]
    if control.empty or control[outcome].nunique() < 2:
        log.warning("no hazard learner: the control arm needs both outcomes")
        return {}
    baseline = fit_with_holdout(
        design.matrix(control),
        control[outcome].to_numpy(float),
        objective="binary",
        seed=seed,
        max_rounds=1000,
    )

    every = contacts[(contacts["arm"] == TREATMENT) & contacts["play"].isin(plays)]
    if every.empty:
        log.warning("no hazard learner: no treated contacts of plays %s", list(plays))
        return {}
    correction = None
    if correct_baseline:
        weight = np.full(
            len(covariates.names),
            ridge if baseline_ridge is None else baseline_ridge,
            dtype=float,
        )
        if situation_ridge is not None:
            weight[[n in covariates.situations for n in covariates.names]] = situation_ridge
        correction = fit_hazard_multiplier(
            covariates.matrix(control),
            _link(baseline.predict(design.matrix(control)), link),
            control[outcome].to_numpy(float),
            ridge=weight,
            link=link,
        )
    # computed once for every treated contact: the type model is the costly part
    z = covariates.matrix(every)
    offset = _link(baseline.predict(design.matrix(every)), link)
    if correction is not None:
        offset = offset + z @ correction
    y = every[outcome].to_numpy(float)
    play_of = every["play"].astype(str).to_numpy()

    def fit(rows: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
        return fit_hazard_multiplier(
            z[rows], offset[rows], y[rows], ridge=ridge, prior=prior, link=link
        )

    prior = fit(np.ones(len(every), dtype=bool), None) if pooled else None
    models = {}
    for play in plays:
        rows = play_of == play
        if not rows.any():
            log.warning("no uplift model for %s: no treated contacts", play)
            continue
        models[play] = HazardLearner(
            play,
            baseline,
            design,
            covariates,
            fit(rows, prior),
            int(rows.sum()),
            len(control),
            link,
            correction,
        )
    return models


# "Do not contact" when no play pays for itself and the type model gives more than this
# to the types every play pushes away (:func:`harm_probability`): the default of
# ``uplift.harm_probability`` (pipeline.config, where its choice is noted).
HARM_PROBABILITY: float = Uplift.model_fields["harm_probability"].default


def pushed_away(
    learners: Mapping[str, HazardLearner], z: np.ndarray, harm_margin: float = 0.0
) -> np.ndarray:
    """Per row and loyalty type (n, n_types): whether every play's multiplier for that
    type is above ``1 + harm_margin`` (:meth:`HazardLearner.harms_by_type`)."""
    return np.logical_and.reduce([m.harms_by_type(z, harm_margin) for m in learners.values()])


def harm_probability(
    learners: Mapping[str, HazardLearner], z: np.ndarray, harm_margin: float = 0.0
) -> np.ndarray | None:
    """The type model's probability of the types for whom every play's multiplier is
    above ``1 + harm_margin`` (None without a type model). A latent customer is pushed away by any
    contact; the expected effect over the type probabilities hides it when the type is
    uncertain. Not a calibrated chance of harm: the type probabilities are the type
    model's, and a customer who has already left is harmed by nothing."""
    first = next(iter(learners.values()))
    if first.covariates.n_types < 2:
        return None
    every = pushed_away(learners, z, harm_margin)
    return (first.covariates.type_weights(z) * every).sum(axis=1)


def choose_plays(
    effects: Mapping[str, np.ndarray],
    value: np.ndarray,
    costs: Mapping[str, float],
    harm: np.ndarray | None = None,
    threshold: float = HARM_PROBABILITY,
) -> pd.DataFrame:
    """The play with the highest expected net saved value per customer.

    Parameters
    ----------
    effects
        Play -> churn probability the play removes, per customer.
    value
        What the customer is worth if they stay (expected spend over the horizon).
    costs
        Play -> cost of one contact.
    harm
        Per customer, the probability of the types every play pushes away
        (:func:`harm_probability`), or None.
    threshold
        Above it, ``harm`` marks a customer no play pays for "do not contact"
        (``uplift.harm_probability``).

    Returns
    -------
    DataFrame
        ``play`` (the best play; ``"do not contact"`` when every play would push the
        customer away in expectation or, with ``harm`` above ``threshold``
        (default :data:`HARM_PROBABILITY`), by their likely types when no play pays for
        itself; ``"no contact"`` when none
        pays for itself), ``uplift`` (its effect) and ``expected_saved_value`` (effect x
        value - cost).
    """
    names = list(effects)
    if not names:
        raise ValueError("no play has an uplift model")
    effect = np.column_stack([effects[p] for p in names])
    net = effect * np.asarray(value, dtype=float)[:, None] - np.array([costs[p] for p in names])
    # np.argmax takes a NaN for the largest: a play with no estimate is never the best
    best = np.argmax(np.where(np.isnan(net), -np.inf, net), axis=1)
    rows = np.arange(len(best))
    out = pd.DataFrame(
        {
            "play": np.asarray(names, dtype=object)[best],
            "uplift": effect[rows, best],
            "expected_saved_value": net[rows, best],
        }
    )
    harmed = (effect < 0).all(axis=1)
    idle = ~(net[rows, best] > 0)  # NaN: no play with an estimate
    if harm is not None:
        harmed |= idle & (np.asarray(harm, dtype=float) > threshold)
    out.loc[idle, "play"] = "no contact"
    out.loc[harmed, "play"] = "do not contact"
    return out


# --- evaluation -------------------------------------------------------------------------


def qini_curve(
    churned: np.ndarray,
    treated: np.ndarray,
    score: np.ndarray,
    *,
    value: np.ndarray | None = None,
    points: int = 101,
) -> pd.DataFrame:
    """Qini curve: churners (or value) saved by contacting the top share by ``score``.

    Among the top ``k`` customers, saved = control churn rate x treated count - treated
    churners, weighted by ``value`` when given: the randomised arms estimate what the
    contact changed in that group. Ties in ``score`` are broken by a fixed order.

    Returns
    -------
    DataFrame
        ``share`` (0..1 of the customers targeted) and ``saved`` (estimated churners or
        value saved, in the units of the whole group).
    """
    churned = np.asarray(churned, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    w = np.ones_like(churned) if value is None else np.asarray(value, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t, y, w = treated[order], churned[order], w[order]
    n_t = np.cumsum(t)
    n_c = np.cumsum(~t)
    lost_t = np.cumsum(y * w * t)
    lost_c = np.cumsum(y * w * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        saved = np.where(n_c > 0, lost_c / np.maximum(n_c, 1) * n_t, 0.0) - lost_t
    # scale from the treated of the top k to everyone in the top k
    scale = np.arange(1, len(t) + 1) / np.maximum(n_t, 1)
    saved = saved * scale
    share = np.arange(1, len(t) + 1) / len(t)
    grid = np.linspace(0.0, 1.0, points)
    return pd.DataFrame(
        {"share": grid, "saved": np.interp(grid, np.r_[0.0, share], np.r_[0.0, saved])}
    )


def auuc(curve: pd.DataFrame) -> float:
    """Area under a Qini curve, minus the random-targeting diagonal's (per customer)."""
    share, saved = curve["share"].to_numpy(), curve["saved"].to_numpy()
    diagonal = saved[-1] * share
    return float(np.trapezoid(saved - diagonal, share))


def saved_at(
    churned: np.ndarray,
    treated: np.ndarray,
    score: np.ndarray,
    *,
    share: float,
    value: np.ndarray | None = None,
) -> float:
    """Value (or churners) saved by contacting the top ``share`` by ``score``, per customer.

    The difference in mean (value-weighted) churn between the control and the treated
    customers of the targeted group, times the group's size over everyone's.
    """
    churned = np.asarray(churned, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    w = np.ones_like(churned) if value is None else np.asarray(value, dtype=float)
    k = max(1, int(round(share * len(churned))))
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]
    t, c = top[treated[top]], top[~treated[top]]
    if len(t) == 0 or len(c) == 0:
        return float("nan")
    lost_c = (churned[c] * w[c]).mean()
    lost_t = (churned[t] * w[t]).mean()
    return float((lost_c - lost_t) * k / len(churned))


def bootstrap_saved_difference(
    churned: np.ndarray,
    treated: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    share: float,
    value: np.ndarray | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Saved value at ``share`` by targeting with ``score_a`` minus with ``score_b``.

    Resamples customers with replacement (stratified by arm) and recomputes both; the
    interval is of the difference. A resample keeps the customers' own order, so tied
    scores rank as in the point estimate (drawn arm by arm and left so, every tie put
    the treated first: a top share of no controls, and no interval). Resamples whose
    top share lacks an arm are skipped; if all do, ``low`` and ``high`` are None.
    """
    churned = np.asarray(churned, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    w = np.ones_like(churned) if value is None else np.asarray(value, dtype=float)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    rng = np.random.default_rng(seed)
    arms = [np.flatnonzero(treated), np.flatnonzero(~treated)]
    diffs = []
    for _ in range(n_boot):
        idx = np.sort(
            np.concatenate([rng.choice(arm, size=len(arm), replace=True) for arm in arms])
        )
        args = (churned[idx], treated[idx])
        diffs.append(
            saved_at(*args, a[idx], share=share, value=w[idx])
            - saved_at(*args, b[idx], share=share, value=w[idx])
        )
    d = np.asarray(diffs)
    d = d[np.isfinite(d)]
    point = saved_at(churned, treated, a, share=share, value=w) - saved_at(
        churned, treated, b, share=share, value=w
    )
    if len(d) == 0:
        log.warning(
            "no interval for the saved-value difference: no resample's top %.0f%% held both "
            "a control and a treated customer",
            100 * share,
        )
    return {
        "difference": float(point),
        "low": float(np.quantile(d, 0.025)) if len(d) else None,
        "high": float(np.quantile(d, 0.975)) if len(d) else None,
        "n_boot": int(n_boot),
    }


# --- campaigns held out in time, and the policies compared on them ---------------------


def sample_contacts(rows: pd.DataFrame, *, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` contacts to learn from, the same seeded share of every
    (campaign day, arm, play) cell: each play keeps its controls and its treated in the
    proportions the campaigns had. Below ``max_rows``, ``rows`` itself."""
    if len(rows) <= max_rows:
        return rows
    share = max_rows / len(rows)
    keep = stratified_keep(
        rows, share, np.random.default_rng(seed), floor=True, by=("cutoff", "arm", "play")
    )
    log.info("uplift learns from a stratified sample of %d of %d contacts", keep.sum(), len(rows))
    return rows[keep].reset_index(drop=True)


def split_campaigns(
    rows: pd.DataFrame, *, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The latest labelled campaign day held out, and the contacts learnt from before it.

    Training keeps only contacts whose horizon ended before the held-out day: its
    outcomes were known when that campaign was planned (nothing of its future is seen).

    Raises
    ------
    ValueError
        If no contact is labelled.
    """
    labelled = rows[rows["labelled"].astype(bool)]
    if labelled.empty:
        raise ValueError("no contact of any campaign has a complete horizon yet")
    test_day = pd.Timestamp(labelled["cutoff"].max())
    end = labelled["cutoff"] + pd.Timedelta(days=horizon_days)
    train = labelled[end <= test_day]
    test = labelled[labelled["cutoff"] == test_day]
    return train.reset_index(drop=True), test.reset_index(drop=True), test_day


def matched_rows(test: pd.DataFrame, plays: np.ndarray) -> np.ndarray:
    """Rows whose received arm tells about the recommended play: the controls, and the
    treated who happened to get the play recommended to them (plays were randomised, so
    this subsample estimates the policy without bias)."""
    control = (test["arm"] == CONTROL).to_numpy()
    same = (test["play"].astype(object).to_numpy() == np.asarray(plays, dtype=object)) & ~control
    return control | same


def true_policy_value(
    order: np.ndarray, true_net: np.ndarray, chosen: np.ndarray, *, k: int
) -> float:
    """Saved value (true effect x value - cost) of contacting the first ``k`` of ``order``
    with the ``chosen`` play column per row; -1 means not contacted (0)."""
    top = order[:k]
    column = chosen[top]
    contacted = column >= 0
    return float(true_net[top[contacted], column[contacted]].sum())


def oracle_value(true_net: np.ndarray, *, k: int) -> float:
    """The best any policy could do with the true effects and ``k`` contacts."""
    best = np.maximum(true_net.max(axis=1), 0.0)
    return float(np.sort(best)[::-1][:k].sum())


def bootstrap_true_difference(
    true_net: np.ndarray,
    chosen_a: np.ndarray,
    chosen_b: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    share: float,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Saved value (true effects) of policy a minus policy b, per 1,000 customers.

    Each policy contacts the top ``share`` by its score with its chosen play column
    (-1: not contacted). The interval resamples customers with replacement (paired:
    both policies see the same resample).
    """
    score_a, score_b = np.asarray(score_a, float), np.asarray(score_b, float)
    n = len(score_a)

    def diff(idx: np.ndarray) -> float:
        k = max(1, int(round(share * len(idx))))
        a = idx[np.argsort(-score_a[idx], kind="stable")]
        b = idx[np.argsort(-score_b[idx], kind="stable")]
        return (
            (
                true_policy_value(a, true_net, chosen_a, k=k)
                - true_policy_value(b, true_net, chosen_b, k=k)
            )
            * 1000.0
            / len(idx)
        )

    rng = np.random.default_rng(seed)
    draws = np.array([diff(rng.integers(0, n, n)) for _ in range(n_boot)])
    return {
        "difference_per_1000": diff(np.arange(n)),
        "low": float(np.quantile(draws, 0.025)),
        "high": float(np.quantile(draws, 0.975)),
        "n_boot": int(n_boot),
    }
