"""Why a customer is at risk: TreeSHAP values, drivers, and reasons a person would write.

SHAP values come from LightGBM's own TreeSHAP (``pred_contrib=True``), which is what
``shap.TreeExplainer`` calls for LightGBM models: exact, and about 1 ms per row on two
threads. They are in log-odds of churn; a positive value raises the risk. Explaining a
million customers costs minutes, so the stages explain the rows someone will read.

Reasons are built per *concept* (``pipeline.catalogue``): SHAP values are summed within
each concept, the concepts that raise the risk most give one reason each, and each
reason is said by the concept's strongest feature, with the customer's own value
against their own norm. Context features (calendar, region, acquisition channel) never
become reasons. Everything is vectorised: reasons for a million rows take seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import catalogue
from pipeline.progress import Progress
from pipeline.train import ChurnScore


def shap_values(
    score: ChurnScore,
    frame: pd.DataFrame,
    *,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Contributions to the shipped score's log-odds per row and feature, plus ``_base``.

    TreeSHAP of the booster (LightGBM's own ``pred_contrib``), and BG/NBD's part when
    the score blends it in (:meth:`pipeline.train.ChurnScore.contributions`). Rows are
    explained in batches of ``batch_size`` (bounded memory); ``progress``, if given,
    counts batches.
    """
    parts = []
    for start in range(0, len(frame), batch_size):
        parts.append(score.contributions(frame.iloc[start : start + batch_size]))
        if progress is not None:
            progress.update()
    features = list(score.design.features)
    contrib = np.vstack(parts) if parts else np.empty((0, len(features) + 1))
    out = pd.DataFrame(contrib[:, :-1], columns=features, index=frame.index)
    out["_base"] = contrib[:, -1]
    return out


def global_drivers(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Mean |SHAP| per feature, with its family and concept, largest first."""
    v = values.drop(columns="_base")
    out = pd.DataFrame({"feature": v.columns, "mean_abs_shap": v.abs().mean().to_numpy()})
    out["family"] = out["feature"].map(families)
    out["concept"] = out["feature"].map(catalogue.concepts(list(v.columns)))
    return out.sort_values(
        ["mean_abs_shap", "feature"], ascending=[False, True], ignore_index=True
    )


def group_contributions(values: pd.DataFrame, groups: Mapping[str, str]) -> pd.DataFrame:
    """Per row, the summed SHAP of each group of features (family or concept)."""
    v = values.drop(columns="_base")
    return v.T.groupby(v.columns.map(groups)).sum().T


def family_contributions(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Per row, the summed SHAP of each feature family."""
    return group_contributions(values, families)


def family_drivers(values: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Mean |summed SHAP| per family: how much each part of the theory moves the risk."""
    fam = family_contributions(values, families)
    out = pd.DataFrame({"family": fam.columns, "mean_abs_shap": fam.abs().mean().to_numpy()})
    return out.sort_values(["mean_abs_shap", "family"], ascending=[False, True], ignore_index=True)


def drivers_by_type(
    values: pd.DataFrame, families: Mapping[str, str], loyalty_type: pd.Series
) -> pd.DataFrame:
    """Mean summed SHAP per family within each loyalty type (signed: + raises risk)."""
    fam = family_contributions(values, families)
    fam["loyalty_type"] = loyalty_type.to_numpy()
    long = (
        fam.groupby("loyalty_type")
        .mean()
        .reset_index()
        .melt(id_vars="loyalty_type", var_name="family", value_name="mean_shap")
    )
    counts = loyalty_type.value_counts()
    long["customers"] = long["loyalty_type"].map(counts).astype("int64")
    return long.sort_values(
        ["loyalty_type", "mean_shap"], ascending=[True, False], ignore_index=True
    )


def concept_drivers(values: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """How much each concept moves the risk, and in which direction its lead feature does.

    Parameters
    ----------
    values
        SHAP values (with ``_base``) of a sample of customers.
    frame
        The same customers' features (same index).

    Returns
    -------
    DataFrame
        One row per concept (context excluded), largest first: ``concept``, ``label``
        and ``covers`` (in words of what the shop records: catalogue.concept_words),
        ``mean_abs_shap``, ``share`` (of all concepts' total), ``raises_risk_share``
        (share of customers whose risk the concept raises), ``top_feature`` (its
        feature with the largest mean |SHAP|), ``top_label``, ``direction``
        (``"higher"`` if higher values of the top feature go with higher risk,
        ``"lower"`` if lower ones do, ``"mixed"`` otherwise) and ``known_share`` (the
        share of customers the feature has a value for: the direction is among them,
        so "days an open complaint has been open" speaks of those with one).
    """
    names = [c for c in values.columns if c != "_base"]
    concepts = catalogue.concepts(names)
    summed = group_contributions(values, concepts).drop(columns=catalogue.CONTEXT, errors="ignore")
    mean_abs = summed.abs().mean()
    total = float(mean_abs.sum()) or 1.0
    per_feature = values[names].abs().mean()
    recorded = {n for n in names if n in frame and frame[n].notna().any()}
    rows = []
    for concept in summed.columns:
        label, covers = catalogue.concept_words(concept, recorded)
        members = [n for n in names if concepts[n] == concept]
        top = max(members, key=lambda n: (per_feature[n], n))
        x = pd.to_numeric(frame[top], errors="coerce") if top in frame else None
        known_share = float(x.notna().mean()) if x is not None and len(x) else 0.0
        direction = model_direction(x, values[top]) if x is not None else "mixed"
        rows.append(
            {
                "concept": concept,
                "label": label,
                "covers": covers,
                "mean_abs_shap": float(mean_abs[concept]),
                "share": float(mean_abs[concept]) / total,
                "raises_risk_share": float((summed[concept] > 0).mean()),
                "top_feature": top,
                "top_label": catalogue.BY_NAME[top].label,
                "direction": direction,
                "known_share": known_share,
            }
        )
    out = pd.DataFrame(rows)
    return out.sort_values(
        ["mean_abs_shap", "concept"], ascending=[False, True], ignore_index=True
    )


def shop_norms(features: pd.DataFrame) -> dict[str, float]:
    """The scoring population's medians that reasons compare a customer with
    (:data:`pipeline.catalogue.SHOP_NORMS`); those whose feature is missing or empty are
    left out."""
    out = {}
    for norm, feature in catalogue.SHOP_NORMS.items():
        if feature in features:
            median = pd.to_numeric(features[feature], errors="coerce").median()
            if pd.notna(median):
                out[norm] = float(median)
    return out


# Facts a reason can state that another reason, or what keeps the customer, may state
# again: the usual gap between orders ("usually every 21 days"), and a single day of
# purchases ("one order so far", "bought on a single day so far", "ordered on 1 day").
_GAP_FACT = r"(every [^,;]+)"
_ONE_DAY_FACT = (
    r"one order so far|all on one day|bought on a single day so far|ordered on 1 day\b"
    r"|^1 order in\b"
)


# A reason saying how long the customer has been silent, and reasons that only say it
# again from a window's side ("no orders in the last 90 days; usually 4.5 orders", "no
# spend in the last 180 days" beside "last order 183 days ago; usually every 18 days").
_SILENCE_SAID = r"(?:^|; )last order [\d,]+ days? ago|one order so far, |^no order for "
_SILENCE_AGAIN = r"^no orders in the last |^no spend in the last |^spent 0\.00 in the last "
# A recency reason that says the time since the first order ("last order 79 days ago, 2
# days after their first"), then the tenure again (reviewed on Online Retail: beside
# "customer for 3 months" on 159 rows, "first order 9 months ago" on 14)
_TENURE_SAID = r"days? after their first"
_TENURE_AGAIN = r"^customer for |^first order .* ago$|^ordered on [\d,]+ days? in .* as a customer"
# (said, said again): the second gives way where another reason says the first
_RESTATED = ((_SILENCE_SAID, _SILENCE_AGAIN), (_TENURE_SAID, _TENURE_AGAIN))


# two days of purchases: "last order 79 days ago, 2 days after their first" beside
# "ordered on two days so far, 2 days apart" or "ordered on 2 days in 3 months"
_TWO_DAYS_FACT = r"after their first$|ordered on two days so far|ordered on 2 days\b"


def _facts(texts: np.ndarray) -> list[np.ndarray]:
    """Per text, each fact it states (missing where it states none)."""
    s = pd.Series(texts, dtype=object)
    gap = s.str.extract(_GAP_FACT)[0].to_numpy(dtype=object)
    one_day = s.str.contains(_ONE_DAY_FACT, regex=True, na=False).to_numpy()
    two_days = s.str.contains(_TWO_DAYS_FACT, regex=True, na=False).to_numpy()
    return [
        gap,
        np.where(one_day, "one day", None).astype(object),
        np.where(two_days, "two days", None).astype(object),
    ]


def _drop_restated(
    texts: list[np.ndarray],
    slots: list[tuple[np.ndarray, np.ndarray]],
    concept_keys: list[str],
    k: int,
    keeps: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """The first ``k`` reasons of ``k + 2`` candidates, without one that only restates a
    fact said elsewhere: a rhythm reason restating another reason's usual gap ("last
    order 131 days ago, usually every 5 days" and then "orders every 5 days, give or
    take 5 days") or single day of purchases ("one order so far" and then "bought on a
    single day so far"), and any reason restating the usual gap of what keeps the
    customer ("usually orders every 251 days" beside "on schedule: ..., usually every
    251 days"), a window's "no orders (or no spend) in the last N days" beside the
    recency reason it follows from, and the tenure beside a recency reason that says the
    time since the first order. The next concept's reason takes its place."""
    rhythm = concept_keys.index("order_rhythm") if "order_rhythm" in concept_keys else -1
    facts = [_facts(t) for t in texts]
    is_rhythm = [c == rhythm for _, c in slots]
    kept_gap = _facts(keeps)[0] if keeps is not None else None
    drop = np.zeros((len(texts[0]), len(texts)), dtype=bool)
    for s in range(len(texts)):
        for o in range(len(texts)):
            if o == s:
                continue
            for mine, theirs in zip(facts[s], facts[o], strict=True):
                said = ~is_rhythm[o] & pd.notna(theirs) & (theirs == mine)
                drop[:, s] |= is_rhythm[s] & said
        if kept_gap is not None:
            drop[:, s] |= pd.notna(kept_gap) & (kept_gap == facts[s][0])
    # a window's "no orders / no spend in the last N days" beside the silence it follows
    # from (the recency reason): three ways of saying one thing, reviewed on a shop's list
    for first, second in _RESTATED:
        said = [pd.Series(t, dtype=object).str.contains(first, na=False) for t in texts]
        again = [pd.Series(t, dtype=object).str.contains(second, na=False) for t in texts]
        for s in range(len(texts)):
            elsewhere = np.zeros(len(texts[0]), dtype=bool)
            for o in range(len(texts)):
                if o != s:
                    elsewhere |= said[o].to_numpy()
            drop[:, s] |= again[s].to_numpy() & elsewhere
    # keep the first k that are not dropped, in order
    rank = np.where(drop, len(texts), np.arange(len(texts))[None, :])
    pick = np.argsort(rank, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(texts[0]))
    kept = np.take_along_axis(~drop, pick, axis=1)
    new_texts, new_slots = [], []
    stacked = np.stack(texts, axis=1)
    features = np.stack([f for f, _ in slots], axis=1)
    concepts = np.stack([c for _, c in slots], axis=1)
    for slot in range(k):
        p, ok = pick[:, slot], kept[:, slot]
        new_texts.append(np.where(ok, stacked[rows, p], None))
        new_slots.append(
            (np.where(ok, features[rows, p], -1), np.where(ok, concepts[rows, p], -1))
        )
    return new_texts, new_slots


def model_direction(x: pd.Series, shap: pd.Series) -> str:
    """Which way a feature moves the model's risk on these customers: ``"higher"`` if
    higher values go with higher SHAP values (rank correlation above 0.3), ``"lower"``
    if below -0.3, ``"mixed"`` otherwise or with too few known values."""
    x = pd.to_numeric(x, errors="coerce")
    known = x.notna()
    if known.sum() <= 2 or x[known].nunique() <= 1:
        return "mixed"
    rho = x[known].rank().corr(shap[known].rank())
    return "higher" if rho > 0.3 else "lower" if rho < -0.3 else "mixed"


def reasons(
    values: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    k: int = 3,
    shop: dict[str, float] | None = None,
    horizon_days: int | None = None,
) -> pd.DataFrame:
    """Up to ``k`` reasons per customer, one per concept, and what keeps them.

    A concept gives a reason when its summed SHAP raises the risk; the reason is said
    by the concept's feature that raises the risk most, among those whose value is not
    a strength and that can be said for this customer. ``keeps_them`` is the strength
    (advocacy, points, an on-schedule rhythm, a resolved complaint, ...) whose feature
    lowers the risk most; it is empty when no strength lowers it.

    Parameters
    ----------
    values
        SHAP values per row and feature, plus ``_base`` (see :func:`shap_values`).
    frame
        The customers' feature values; rows are matched on the index.
    k
        Reasons per customer.
    shop
        Norms of the whole scoring population (:data:`pipeline.catalogue.SHOP_NORMS`,
        see :func:`shop_norms`); without them the reasons that compare with the shop
        say the customer's own value only.
    horizon_days
        The churn horizon: a customer silent for that long is never "on schedule",
        whatever their rhythm (they have met the churn definition).

    Returns
    -------
    DataFrame
        Same index as ``values``: ``reason_1..k`` (strongest first; missing when fewer
        concepts raise the risk), ``reason_concept_1..k`` and ``keeps_them``.
    """
    names = [c for c in values.columns if c != "_base"]
    shap = values[names].to_numpy(dtype=float)
    n_rows, n_features = shap.shape
    known = [c for c in frame.columns if c in catalogue.BY_NAME]
    given = {**(shop or {}), **({} if horizon_days is None else {"horizon_days": horizon_days})}
    rows = frame.loc[values.index, known].assign(**given)
    # where the model's risk rises with a "more is better" value on this shop (a longer
    # relationship, say), a value under the shop's median is no reason
    # (catalogue.MODEL_DIRECTION; reviewed: "customer for 10 months; half the shop's
    # customers for over 20 months" on 1,494 rows beside the report's "length of the
    # relationship, the longer, the riskier")
    directed = catalogue.MORE_IS_BETTER | catalogue.DIRECTED
    for name in sorted(directed & set(values.columns) & set(rows.columns)):
        rows[catalogue.MODEL_DIRECTION + name] = model_direction(rows[name], values[name])
    rows = catalogue.with_norms(rows)
    features = [catalogue.BY_NAME.get(n) for n in names]
    concept_of = np.array(
        [f.concept if f is not None else catalogue.CONTEXT for f in features], dtype=object
    )
    concept_keys = [c for c in catalogue.CONCEPTS if c in set(concept_of)]

    strength = np.zeros((n_rows, n_features), dtype=bool)
    can_say = np.zeros((n_rows, n_features), dtype=bool)
    for j, feature in enumerate(features):
        if feature is None or feature.concept == catalogue.CONTEXT:
            continue
        strength[:, j] = catalogue.is_strength(feature, rows)
        can_say[:, j] = catalogue.sayable(feature, rows)

    eligible = (shap > 0) & ~strength & can_say
    summed = np.zeros((n_rows, len(concept_keys)))
    lead = np.full((n_rows, len(concept_keys)), -1)
    for c, concept in enumerate(concept_keys):
        members = np.flatnonzero(concept_of == concept)
        summed[:, c] = shap[:, members].sum(axis=1)
        score = np.where(eligible[:, members], shap[:, members], -np.inf)
        best = score.argmax(axis=1)
        has = np.isfinite(score[np.arange(n_rows), best])
        lead[:, c] = np.where(has, members[best], -1)

    key = np.where((summed > 0) & (lead >= 0), summed, -np.inf)
    # stable: equal sums keep catalogue order, so reasons are reproducible. Two candidates
    # more than asked for, to stand in for reasons that only restate another (a rhythm's
    # usual gap, a window's silence)
    order = np.argsort(-key, axis=1, kind="stable")[:, : k + 2]
    row_idx = np.arange(n_rows)
    slots = []
    for slot in range(k + 2):
        if slot < order.shape[1]:
            c = order[:, slot]
            valid = np.isfinite(key[row_idx, c])
            slots.append((np.where(valid, lead[row_idx, c], -1), np.where(valid, c, -1)))
        else:
            slots.append((np.full(n_rows, -1), np.full(n_rows, -1)))
    # each lead feature is phrased once, for every row it leads in any slot
    texts = [np.full(n_rows, None, dtype=object) for _ in slots]
    leads = np.unique(np.concatenate([f for f, _ in slots]))
    for j in leads[leads >= 0]:
        hit_any = np.zeros(n_rows, dtype=bool)
        for f, _ in slots:
            hit_any |= f == j
        said = np.full(n_rows, None, dtype=object)
        said[hit_any] = catalogue.phrase_reason(features[j], rows[hit_any]).to_numpy()
        for text, (f, _) in zip(texts, slots, strict=True):
            text[f == j] = said[f == j]
    keeps = pd.Series(None, index=values.index, dtype=object)
    protective = np.where(strength & (shap < 0), shap, np.inf)
    best = protective.argmin(axis=1)
    has = np.isfinite(protective[row_idx, best])
    for j in np.unique(best[has]):
        hit = has & (best == j)
        keeps[hit] = catalogue.phrase_strength(features[j], rows[hit]).to_numpy()

    texts, slots = _drop_restated(texts, slots, concept_keys, k, keeps.to_numpy(dtype=object))
    names_of = np.asarray([*concept_keys, None], dtype=object)
    out: dict[str, object] = {}
    for slot, (text, (_, c)) in enumerate(zip(texts, slots, strict=True)):
        out[f"reason_{slot + 1}"] = pd.Series(text, index=values.index, dtype=object)
        out[f"reason_concept_{slot + 1}"] = pd.Series(
            names_of[np.where(c >= 0, c, len(concept_keys))], index=values.index, dtype=object
        )
    out["keeps_them"] = keeps
    return pd.DataFrame(out, index=values.index)
