"""Fit the churn and loyalty-type classifiers (LightGBM), in time order.

The churn model is trained on older snapshots, early-stopped on a later one and tested
on the last labelled cutoff; no random split ever mixes the future into training.
LightGBM runs in deterministic mode with a fixed thread count and seed, so the same
data and params give the same trees, bit for bit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from pipeline.config import Train
from pipeline.schema import LOYALTY_TYPES

log = logging.getLogger(__name__)


def lgb_params(p: Train, **extra: object) -> dict[str, object]:
    return {
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_data_in_leaf": p.min_child_samples,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "lambda_l2": p.lambda_l2,
        "seed": p.seed,
        "num_threads": p.num_threads,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
        **extra,
    }


@dataclass(frozen=True)
class Design:
    """How a feature frame becomes a LightGBM matrix: columns and category levels."""

    features: tuple[str, ...]
    categories: dict[str, list[str]]

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]
    ) -> Design:
        cats = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in categorical
            if c in features
        }
        return cls(features=tuple(features), categories=cats)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        cols = {}
        for name in self.features:
            if name in self.categories:
                values = frame[name].astype("object").where(frame[name].notna(), None)
                cols[name] = pd.Categorical(values, categories=self.categories[name])
            else:
                cols[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        return pd.DataFrame(cols, index=frame.index)


def monotone_constraints(design: Design, p: Train) -> dict[str, object]:
    """LightGBM's monotone constraints for ``train.risk_rises_with`` / ``risk_falls_with``
    (+1: the churn score never falls as the feature grows, -1: never rises), in the
    design's column order; nothing when both are empty.

    Raises
    ------
    ValueError
        If a named feature is not among the design's features (a misspelling, or a
        feature this shop's data cannot give).
    """
    direction = {name: 1 for name in p.risk_rises_with} | {name: -1 for name in p.risk_falls_with}
    if not direction:
        return {}
    unknown = sorted(set(direction) - set(design.features))
    if unknown:
        raise ValueError(
            f"train.risk_rises_with / risk_falls_with name {unknown}, not among the "
            f"{len(design.features)} churn features: {', '.join(design.features)}"
        )
    return {
        "monotone_constraints": [direction.get(name, 0) for name in design.features],
        "monotone_constraints_method": "basic",
    }


def fit_churn(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    design: Design,
    p: Train,
) -> lgb.Booster:
    """Binary churn model, early-stopped on the validation snapshot.

    Parameters
    ----------
    train, valid
        Snapshots with the design's features and ``churned``.
    design
        Feature columns and category levels.
    p
        Training parameters.

    Returns
    -------
    lightgbm.Booster
        Trimmed to the best iteration on ``valid``.
    """
    params = lgb_params(
        p,
        objective="binary",
        metric=p.early_stopping_metric,
        **monotone_constraints(design, p),
    )
    dtrain = lgb.Dataset(
        design.matrix(train), label=train["churned"].to_numpy(), free_raw_data=False
    )
    dvalid = lgb.Dataset(design.matrix(valid), label=valid["churned"].to_numpy(), reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=p.max_rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)],
    )
    log.info("churn model: best iteration %d of %d", booster.best_iteration, p.max_rounds)
    return _trimmed(booster)


def fit_value(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    design: Design,
    p: Train,
) -> lgb.Booster:
    """What a customer will spend over the next horizon if they stay.

    Trained on the snapshots where the customer did not churn, with their spend in
    the horizon (net of returns, floored at zero) as the target, early-stopped on the
    validation cutoff's retained customers. Expected value at risk is then the churn
    probability times this: the value a retention contact can keep, not last year's
    gross spend.

    Parameters
    ----------
    train, valid
        Snapshots with the design's features, ``churned`` and ``future_spend``.
    design
        Feature columns and category levels.
    p
        Training parameters (shared with the churn model).

    Returns
    -------
    lightgbm.Booster
        Trimmed to the best iteration on ``valid``; predicts spend in money.

    Raises
    ------
    ValueError
        If no training or validation customer was retained.
    """
    train = train[train["churned"] == 0]
    valid = valid[valid["churned"] == 0]
    if train.empty or valid.empty:
        raise ValueError(
            f"value model: {len(train)} retained training and {len(valid)} retained "
            "validation rows; every customer churned, so there is no spend to learn"
        )
    # Tweedie with a log link: spend is zero-heavy and right-skewed, and the model's
    # mean stays the mean (what value at risk needs), unlike a regression on logs.
    params = lgb_params(p, objective="tweedie", tweedie_variance_power=1.3, metric="tweedie")
    dtrain = lgb.Dataset(design.matrix(train), label=_spend(train), free_raw_data=False)
    dvalid = lgb.Dataset(design.matrix(valid), label=_spend(valid), reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=p.max_rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)],
    )
    log.info("value model: best iteration %d of %d", booster.best_iteration, p.max_rounds)
    return _trimmed(booster)


def _spend(frame: pd.DataFrame) -> np.ndarray:
    return frame["future_spend"].to_numpy(dtype=float).clip(min=0.0)


def _trimmed(booster: lgb.Booster) -> lgb.Booster:
    # Round-trip through LightGBM's text format keeps exactly the best iteration and
    # makes what we evaluate identical to what we save and load later.
    text = booster.model_to_string(num_iteration=booster.best_iteration)
    return lgb.Booster(model_str=text)


def predict(booster: lgb.Booster, design: Design, frame: pd.DataFrame) -> np.ndarray:
    return booster.predict(design.matrix(frame))


# BG/NBD's own churn probability at the cutoff, a feature (pipeline.clv).
BGNBD_FEATURE = "bgnbd_p_no_purchase"
BLEND_WEIGHTS = tuple(round(0.1 * k, 1) for k in range(11))
_EPS = 1e-6


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class ChurnScore:
    """The shipped churn score before calibration.

    LightGBM's log-odds, blended with BG/NBD's own P(no purchase) (a feature of the
    same row) by ``bgnbd_weight``, chosen on the validation cutoff. On orders-only data
    with little history BG/NBD's smooth recency-frequency curve ranks as well as the
    trees or better (Online Retail); on rich data the weight goes to 0 and this is
    LightGBM. A row without the BG/NBD feature gets LightGBM alone.
    """

    booster: lgb.Booster
    design: Design
    bgnbd_weight: float = 0.0
    # BG/NBD's mean log-odds on the validation cutoff: the reference its part of the
    # score is explained against (like SHAP's base value for the trees).
    bgnbd_reference: float = 0.0

    def booster_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.design.matrix(frame), raw_score=True)

    def bgnbd_log_odds(self, frame: pd.DataFrame) -> np.ndarray | None:
        if self.bgnbd_weight == 0.0 or BGNBD_FEATURE not in frame:
            return None
        return _log_odds(frame[BGNBD_FEATURE].to_numpy(dtype=float))

    def log_odds(self, frame: pd.DataFrame, trees: np.ndarray | None = None) -> np.ndarray:
        """The blended log-odds of ``frame``'s rows; ``trees`` (the booster's raw scores
        of the same rows, when already computed) spares predicting them again."""
        if trees is None:
            trees = self.booster_log_odds(frame)
        bgnbd = self.bgnbd_log_odds(frame)
        if bgnbd is None:
            return trees
        blended = (1.0 - self.bgnbd_weight) * trees + self.bgnbd_weight * bgnbd
        return np.where(np.isfinite(bgnbd), blended, trees)

    def predict(self, frame: pd.DataFrame, trees: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(frame, trees)))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row, each feature's part of :meth:`log_odds`, and the base in the last column.

        TreeSHAP of the booster, scaled by its weight; BG/NBD's part (its log-odds
        against its reference) goes to the BG/NBD feature. Rows sum to the log-odds.
        """
        contrib = self.booster.predict(self.design.matrix(frame), pred_contrib=True)
        bgnbd = self.bgnbd_log_odds(frame)
        if bgnbd is None:
            return contrib
        known = np.isfinite(bgnbd)
        scale = np.where(known, 1.0 - self.bgnbd_weight, 1.0)
        contrib = contrib * scale[:, None]
        column = self.design.features.index(BGNBD_FEATURE)
        own = self.bgnbd_weight * (np.where(known, bgnbd, 0.0) - self.bgnbd_reference)
        contrib[:, column] += np.where(known, own, 0.0)
        contrib[:, -1] += np.where(known, self.bgnbd_weight * self.bgnbd_reference, 0.0)
        return contrib

    def to_dict(self) -> dict[str, float]:
        return {"bgnbd_weight": self.bgnbd_weight, "bgnbd_reference": self.bgnbd_reference}


def load_churn_score(directory: str | Path) -> ChurnScore:
    """The shipped churn score saved by the train stage (``models/churn``)."""
    directory = Path(directory)
    design_json = json.loads((directory / "design.json").read_text())
    blend = json.loads((directory / "score.json").read_text())
    return ChurnScore(
        booster=lgb.Booster(model_file=str(directory / "model.txt")),
        design=Design(
            features=tuple(design_json["features"]), categories=design_json["categories"]
        ),
        bgnbd_weight=float(blend["bgnbd_weight"]),
        bgnbd_reference=float(blend["bgnbd_reference"]),
    )


def bgnbd_reference(valid: pd.DataFrame) -> float:
    """BG/NBD's mean log-odds over the rows that have it (0 when none do)."""
    if BGNBD_FEATURE not in valid:
        return 0.0
    z = _log_odds(valid[BGNBD_FEATURE].dropna().to_numpy(dtype=float))
    return float(z.mean()) if z.size else 0.0


def choose_bgnbd_weight(
    booster: lgb.Booster, design: Design, valid: pd.DataFrame, trees: np.ndarray | None = None
) -> float:
    """The blend weight with the best ROC-AUC on the validation cutoff (ties: less BG/NBD).

    ``trees``: the booster's raw scores of ``valid`` when already computed (the trees are
    predicted once for all the weights tried either way). Returns 0 when the rows have
    no BG/NBD feature.
    """
    if BGNBD_FEATURE not in design.features or valid[BGNBD_FEATURE].isna().all():
        return 0.0
    from sklearn.metrics import roc_auc_score

    y = valid["churned"].to_numpy(dtype=int)
    if trees is None:
        trees = booster.predict(design.matrix(valid), raw_score=True)
    best, best_auc = 0.0, -1.0
    for weight in BLEND_WEIGHTS:
        auc = roc_auc_score(y, ChurnScore(booster, design, weight).log_odds(valid, trees))
        if auc > best_auc + 1e-4:
            best, best_auc = weight, auc
    log.info("BG/NBD blend weight %.1f (validation AUC %.4f)", best, best_auc)
    return best


@dataclass(frozen=True)
class LoyaltyModel:
    booster: lgb.Booster
    classes: tuple[str, ...]
    metrics: dict[str, float]
    confusion: pd.DataFrame  # long form: actual, predicted, count
    out_of_fold: pd.DataFrame  # one row per labelled customer: actual, predicted


# Surveyed customers the out-of-fold judgment reads at most (a seeded sample stratified
# by type): enough to pin macro-F1 to about +-0.01, and the five fold models then cost
# no more at a million customers than at 100k. The shipped model learns from them all.
LOYALTY_JUDGED_MAX = 20_000
# Rounds without a better multi-class log loss on the held-out answers before stopping.
LOYALTY_PATIENCE = 30


def fit_loyalty(
    frame: pd.DataFrame,
    labels: pd.Series,
    design: Design,
    p: Train,
    *,
    folds: int = 5,
    judged_max: int = LOYALTY_JUDGED_MAX,
) -> LoyaltyModel:
    """Multiclass loyalty-type model on behavioural features of surveyed customers.

    Metrics (macro-F1, accuracy, confusion matrix) come from stratified out-of-fold
    predictions, so every judged customer is judged by a model that never saw them.
    Each fold's model stops boosting when the log loss on a stratified fifth of its own
    training rows has not improved for ``LOYALTY_PATIENCE`` rounds (at most
    ``loyalty_max_rounds``); the shipped model gets the median of the folds' rounds
    (``metrics["rounds"]``): a few hundred answers overfit in fewer rounds than a
    hundred thousand. Up to ``judged_max`` surveyed customers are judged (all of them
    below it; above it a seeded sample stratified by type, counted in
    ``metrics["n_judged"]``); the shipped model is fitted on every surveyed customer.

    Raises
    ------
    ValueError
        If fewer than two types or too few customers per type for ``folds`` folds.
    """
    classes = tuple(t for t in LOYALTY_TYPES if (labels == t).any())
    counts = labels.value_counts()
    if len(classes) < 2 or counts.min() < folds:
        raise ValueError(
            f"loyalty labels: need >= 2 types with >= {folds} customers each, got "
            f"{counts.to_dict()}"
        )
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy()
    x = design.matrix(frame)
    params = lgb_params(
        p, objective="multiclass", num_class=len(classes), min_data_in_leaf=20, num_leaves=15
    )
    judged = np.arange(len(frame))
    if len(frame) > judged_max:
        judged, _ = train_test_split(
            judged, train_size=judged_max, stratify=y, random_state=p.seed
        )
        judged = np.sort(judged)
    xj, yj = x.iloc[judged], y[judged]
    oof = np.zeros((len(judged), len(classes)))
    best = []
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=p.seed)
    for tr, te in skf.split(xj, yj):
        # the fold's rounds: early-stopped on a stratified fifth of its own training rows,
        # so the judged fold never chooses anything about the model that judges it
        fit, stop = train_test_split(tr, test_size=0.2, stratify=yj[tr], random_state=p.seed)
        data = lgb.Dataset(xj.iloc[fit], label=yj[fit])
        b = lgb.train(
            params,
            data,
            num_boost_round=p.loyalty_max_rounds,
            valid_sets=[lgb.Dataset(xj.iloc[stop], label=yj[stop], reference=data)],
            callbacks=[lgb.early_stopping(LOYALTY_PATIENCE, verbose=False)],
        )
        best.append(b.best_iteration or p.loyalty_max_rounds)
        oof[te] = b.predict(xj.iloc[te], num_iteration=best[-1])
    rounds = int(np.median(best))
    pred = oof.argmax(axis=1)
    cm = confusion_matrix(yj, pred, labels=range(len(classes)))
    confusion = pd.DataFrame(
        [
            {"actual": classes[i], "predicted": classes[j], "count": int(cm[i, j])}
            for i in range(len(classes))
            for j in range(len(classes))
        ]
    )
    metrics = {
        "macro_f1": float(f1_score(yj, pred, average="macro")),
        "accuracy": float((pred == yj).mean()),
        "chance_accuracy": float(counts.max() / counts.sum()),
        "n_labelled": int(len(y)),
        "n_judged": int(len(yj)),
        "rounds": rounds,
        **skill_over_shares(oof, yj, seed=p.seed),
    }
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=rounds)
    names = np.asarray(classes, dtype=object)
    oof_pairs = pd.DataFrame({"actual": names[yj], "predicted": names[pred]})
    return LoyaltyModel(booster, classes, metrics, confusion, oof_pairs)


def skill_over_shares(
    proba: np.ndarray, y: np.ndarray, *, seed: int, n_boot: int = 1000
) -> dict[str, object]:
    """Whether the type classifier knows more than the survey's type shares.

    Its out-of-fold log loss against that of giving every customer the shares, paired
    per customer, with a 95% bootstrap interval of the difference. ``beats_shares`` only
    when the whole interval is below zero: a classifier of answers it cannot read (a
    shop's survey unrelated to behaviour) scores about the shares' log loss, and its
    near-uniform guesses would still name a type for every customer.
    """
    eps = 1e-15
    n_classes = proba.shape[1]
    shares = np.bincount(y, minlength=n_classes) / len(y)
    model = -np.log(np.clip(proba[np.arange(len(y)), y], eps, 1.0))
    prior = -np.log(np.clip(shares[y], eps, 1.0))
    diff = model - prior
    rng = np.random.default_rng(seed)
    boot = np.array([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(n_boot)])
    low, high = np.quantile(boot, [0.025, 0.975])
    return {
        "log_loss": float(model.mean()),
        "shares_log_loss": float(prior.mean()),
        "log_loss_vs_shares": {
            "difference": float(diff.mean()),
            "low": float(low),
            "high": float(high),
        },
        "beats_shares": bool(high < 0),
    }


def predict_types(model: LoyaltyModel, design: Design, frame: pd.DataFrame) -> pd.DataFrame:
    """Most likely type and its probability per row."""
    proba = model.booster.predict(design.matrix(frame))
    best = proba.argmax(axis=1)
    return pd.DataFrame(
        {
            "loyalty_type": np.asarray(model.classes, dtype=object)[best],
            "loyalty_type_probability": proba[np.arange(len(best)), best],
        },
        index=frame.index,
    )
