"""The champion gate: a new model takes over the list only when it is better on the same customers.

Every run registers its model. The ``champion`` alias (the model the list can be pinned
to) moves to the new version only when it beats the current champion

* on the **forward test**: the test cutoff, the last backtest origin, where both ship
  procedures forecast customers whose outcome neither had seen (after new data moved
  the test cutoff past the champion's origins: the latest cutoff both forecast); and
* on the **backtest**: every origin both runs forecast, pooled (a row per customer and
  origin),

for ROC-AUC and for Brier, each by more than its margin in ``params.yaml``
(``registry.auc_margin``, ``registry.brier_margin``). Both runs are judged on the same
customers, paired through a keyed hash of the customer id (ids never reach MLflow), and
each difference comes with its paired bootstrap interval. With ``registry.evidence:
interval`` the whole interval must clear the margin, not just the estimate. Otherwise the
new version becomes ``challenger``. The first registered version becomes champion.

Pure functions; :mod:`pipeline.stages.track` feeds them from MLflow, and
``python -m pipeline.registry`` prints the registry's state.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import evaluate
from pipeline.config import Registry

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
# A run shipped for a past date (score.as_of: a forward test): registered, no alias.
FORWARD_TEST = "forward test"
# A version whose model is the champion's, byte for byte (a run that changed only the
# list's or the registry's params): registered, no alias (reviewed: such a copy became
# `challenger`, and a reviewer compared the champion with itself).
SAME_AS_CHAMPION = "copy of the champion"
NO_ALIAS = (FORWARD_TEST, SAME_AS_CHAMPION)
# Better is higher for AUC and lower for Brier: improvement = sign * (new - champion).
METRICS = {"roc_auc": 1.0, "brier": -1.0}
PREDICTION_COLUMNS = ("customer_key", "cutoff", "churned", "churn_probability")


def customer_keys(customer_ids: pd.Series, key: bytes) -> np.ndarray:
    """A keyed hash (HMAC-SHA256, first 8 bytes as int64) of each customer id.

    The key stays with the data (never in MLflow), so the hashes pair a customer across
    runs of this project and cannot be reversed by trying ids.
    """
    ids = customer_ids.astype("string")
    if ids.isna().any():
        raise ValueError(
            f"customer_keys: {int(ids.isna().sum())} of {len(ids)} customer ids are missing"
        )
    unique, inverse = np.unique(ids.to_numpy(dtype=object), return_inverse=True)
    hashed = np.fromiter(
        (
            int.from_bytes(hmac.new(key, str(u).encode(), hashlib.sha256).digest()[:8], "big")
            for u in unique
        ),
        dtype=np.uint64,
        count=len(unique),
    ).view(np.int64)
    return hashed[inverse]


def keyed_predictions(backtest: pd.DataFrame, key: bytes, *, model: str) -> pd.DataFrame:
    """Every backtest origin's shipped churn probability, keyed for MLflow.

    Parameters
    ----------
    backtest
        ``data/predictions/backtest.parquet``: ``customer_id``, ``cutoff``, ``churned``
        and ``p_<model>``.
    key
        The project's customer key.
    model
        The shipped model's name (``p_<model>`` is its probability).

    Returns
    -------
    DataFrame
        :data:`PREDICTION_COLUMNS`, sorted by cutoff and key.
    """
    column = f"p_{model}"
    missing = [c for c in ("customer_id", "cutoff", "churned", column) if c not in backtest]
    if missing:
        raise ValueError(f"backtest predictions ({len(backtest)} rows) lack columns {missing}")
    out = pd.DataFrame(
        {
            "customer_key": customer_keys(backtest["customer_id"], key),
            "cutoff": pd.to_datetime(backtest["cutoff"]).dt.strftime("%Y-%m-%d"),
            "churned": backtest["churned"].to_numpy(dtype="int8"),
            "churn_probability": backtest[column].to_numpy(dtype=float),
        }
    )
    return out.sort_values(["cutoff", "customer_key"], ignore_index=True)


@dataclass(frozen=True)
class Check:
    """One metric of one comparison: the improvement over the champion and its interval."""

    name: str  # "forward" or "backtest"
    metric: str
    challenger: float
    champion: float
    improvement: float  # positive: the challenger is better
    low: float
    high: float
    margin: float
    passed: bool

    def describe(self) -> str:
        verdict = "beats" if self.passed else "does not beat"
        # the backtest check pools every origin's customers into one sample: its AUC is
        # not the mean of the origins' AUCs that metrics.json and the README report
        name = "backtest (origins pooled)" if self.name == "backtest" else self.name
        # a difference under half the fourth decimal would read "+0.0000 beats the margin
        # +0.0000" (reviewed): such numbers are shown with their own digits
        fine = 0 < abs(self.improvement) < 5e-5
        value = ".6f" if fine else ".4f"
        return (
            f"{name} {self.metric}: {self.challenger:{value}} vs champion "
            f"{self.champion:{value}}, improvement {_signed(self.improvement)} [95% "
            f"{_signed(self.low)}, {_signed(self.high)}] {verdict} the margin "
            f"{_signed(self.margin)}"
        )


def _signed(x: float) -> str:
    """``+0.0123``; a number that would show as ``±0.0000`` but is not 0: ``+3.1e-06``."""
    return f"{x:+.1e}" if 0 < abs(x) < 5e-5 else f"{x:+.4f}"


@dataclass(frozen=True)
class Decision:
    """What the gate decided for a new version, and why."""

    alias: str  # CHAMPION or CHALLENGER
    reasons: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    customers: dict[str, int] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.alias == CHAMPION

    def metrics(self) -> dict[str, float]:
        """The gate's numbers under ``gate.<check>.<metric>.<stat>`` for MLflow."""
        out: dict[str, float] = {}
        for c in self.checks:
            prefix = f"gate.{c.name}.{c.metric}"
            out |= {
                f"{prefix}.improvement": c.improvement,
                f"{prefix}.low": c.low,
                f"{prefix}.high": c.high,
            }
        out |= {f"gate.{name}.customers": float(n) for name, n in self.customers.items()}
        return out

    def render(self, version: int | str, champion: int | str | None) -> str:
        head = (
            f"registry: version {version} is the new {self.alias}"
            if self.promoted
            else f"registry: version {version} is a {self.alias}; the champion stays "
            f"version {champion}"
        )
        if self.alias in NO_ALIAS:
            head = f"registry: version {version} is a {self.alias}: no alias"
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def forward_test(as_of: object) -> Decision:
    """A version shipped as of a past date is a measurement, not a list for today: it
    takes no alias (reviewed: `make forward` took `challenger`, and `make pinned-list
    MODEL=challenger` would have scored today's customers with a model of the past)."""
    return Decision(
        FORWARD_TEST,
        (
            f"shipped as of {as_of} (score.as_of): a forward test of the past, not a "
            "candidate for today's list; it takes no alias",
        ),
    )


def same_as_champion(champion: int | str) -> Decision:
    return Decision(
        SAME_AS_CHAMPION,
        (
            f"the same model as the champion (version {champion}), byte for byte: only "
            "params the model does not read changed; it takes no alias, the champion stays",
        ),
    )


def first_version() -> Decision:
    return Decision(CHAMPION, ("no champion yet: the first registered version becomes champion",))


def pair(challenger: pd.DataFrame, champion: pd.DataFrame, cutoffs: Sequence[str]) -> pd.DataFrame:
    """Rows both runs forecast at the given cutoffs, side by side.

    Returns
    -------
    DataFrame
        ``cutoff``, ``churned``, ``challenger``, ``champion`` (probabilities).

    Raises
    ------
    ValueError
        If a customer's outcome differs between the runs (the churn definition changed:
        they are not forecasting the same thing).
    """
    cols = ["customer_key", "cutoff", "churned", "churn_probability"]
    a = challenger.loc[challenger["cutoff"].isin(cutoffs), cols]
    b = champion.loc[champion["cutoff"].isin(cutoffs), cols]
    both = a.merge(b, on=["customer_key", "cutoff"], suffixes=("", "_champion"), validate="1:1")
    differ = both["churned"] != both["churned_champion"]
    if differ.any():
        raise ValueError(
            f"{int(differ.sum())} of {len(both)} shared customers have another outcome in "
            f"the champion's run (cutoffs {sorted(both.loc[differ, 'cutoff'].unique())[:3]}): "
            "the churn definition differs (churn.horizon_days?), so the runs do not forecast "
            "the same thing"
        )
    return pd.DataFrame(
        {
            "cutoff": both["cutoff"].to_numpy(),
            "churned": both["churned"].to_numpy(dtype=int),
            "challenger": both["churn_probability"].to_numpy(dtype=float),
            "champion": both["churn_probability_champion"].to_numpy(dtype=float),
        }
    )


def compare(paired: pd.DataFrame, name: str, config: Registry, *, seed: int) -> list[Check]:
    """Challenger against champion on paired rows, one :class:`Check` per metric."""
    boot = evaluate.paired_bootstrap(
        paired["churned"].to_numpy(),
        paired["challenger"].to_numpy(),
        paired["champion"].to_numpy(),
        n_boot=config.n_boot,
        seed=seed,
    )
    margins = {"roc_auc": config.auc_margin, "brier": config.brier_margin}
    checks = []
    for metric, sign in METRICS.items():
        b = boot[metric]
        # to 1e-12: two runs of the same model differ by float noise (2.8e-17 on a Brier),
        # which must not "beat the margin +0.0000"; + 0.0: no "-0.0000" for a tie
        ends = sorted((round(sign * b["low"], 12) + 0.0, round(sign * b["high"], 12) + 0.0))
        improvement = round(sign * b["difference"], 12) + 0.0
        evidence = ends[0] if config.evidence == "interval" else improvement
        checks.append(
            Check(
                name=name,
                metric=metric,
                challenger=float(b["model"]),
                champion=float(b["other"]),
                improvement=float(improvement),
                low=float(ends[0]),
                high=float(ends[1]),
                margin=margins[metric],
                passed=bool(evidence > margins[metric]),
            )
        )
    return checks


def decide(
    challenger: pd.DataFrame,
    champion: pd.DataFrame,
    *,
    test_cutoff: str,
    config: Registry,
    seed: int,
) -> Decision:
    """Should the new version replace the champion?

    Parameters
    ----------
    challenger, champion
        Each run's :func:`keyed_predictions` (the champion's may come from rescoring its
        model on the challenger's rows, see :mod:`pipeline.stages.track`).
    test_cutoff
        The challenger's test cutoff (``YYYY-MM-DD``): the forward test.
    config
        ``params.registry``: margins, evidence, bootstrap resamples.
    seed
        Seeds the bootstrap.

    Returns
    -------
    Decision
        ``champion`` when every check passed, else ``challenger`` with the reasons.
    """
    shared = sorted(set(challenger["cutoff"]) & set(champion["cutoff"]))
    notes = []
    forward_cutoff = test_cutoff
    if test_cutoff not in shared and shared:
        # New data moved the test cutoff past the champion's origins: the latest origin
        # both ship procedures forecast is the fair forward test left.
        forward_cutoff = shared[-1]
        notes.append(
            f"the champion did not forecast the test cutoff {test_cutoff} (new data?): the "
            f"forward test is the latest cutoff both forecast, {forward_cutoff}"
        )
    try:
        forward = pair(challenger, champion, [forward_cutoff])
        backtest = pair(challenger, champion, shared)
    except ValueError as err:
        return Decision(CHALLENGER, (f"not comparable with the champion: {err}",))
    counts = {"forward": len(forward), "backtest": len(backtest)}
    if forward["churned"].nunique() < 2:
        return Decision(
            CHALLENGER,
            (
                f"not comparable with the champion: they share {len(forward)} customers "
                f"with both outcomes at the test cutoff {test_cutoff} (the champion was "
                "judged on other customers or cutoffs: changed data or population?)",
            ),
            customers=counts,
        )
    checks = compare(forward, "forward", config, seed=seed) + compare(
        backtest, "backtest", config, seed=seed
    )
    scope = (
        f"forward test: {len(forward)} customers at {forward_cutoff}; backtest: {len(backtest)} "
        f"customer-cutoffs at {len(shared)} origin{'s' if len(shared) != 1 else ''} "
        f"({', '.join(shared)}), pooled"
    )
    reasons = (scope, *notes, *(c.describe() for c in checks))
    alias = CHAMPION if all(c.passed for c in checks) else CHALLENGER
    return Decision(alias, reasons, tuple(checks), counts)


def render_state(versions: Sequence[dict]) -> str:
    """The registry as a table: version, its alias now, headline numbers and the test
    cutoff they were measured at, what the gate said when it was registered (or a
    reviewer since), run name. Reviewed: the column said "decision" and showed
    "champion" for three versions, each once champion, beside one alias; and an AUC
    measured at another cutoff (a forward run's) read like the others."""
    if not versions:
        return "registry: no registered versions yet (run the pipeline: `make run`)"
    lines = [
        f"{'version':>7}  {'alias now':<11} {'AUC':>7} {'Brier':>7}  {'test cutoff':<11}  "
        f"{'registered as':<13}  run"
    ]
    for v in versions:
        lines.append(
            f"{v['version']:>7}  {','.join(v['aliases']) or '-':<11} "
            f"{v.get('roc_auc', float('nan')):>7.4f} {v.get('brier', float('nan')):>7.4f}  "
            f"{v.get('test_cutoff', '') or '-':<11}  {v.get('decision', ''):<13}  "
            f"{v['run_name']}"
        )
    return "\n".join(lines)


def pinned_list(customer_ids: pd.Series, scores: pd.DataFrame, *, version: str) -> pd.DataFrame:
    """A registered model's list: its scores for the customers, ranked like the list.

    Parameters
    ----------
    customer_ids
        The scoring population, aligned with ``scores``.
    scores
        The model's output (:meth:`pipeline.serving.ListModel.predict`).
    version
        The registered version that scored them.

    Returns
    -------
    DataFrame
        ``rank``, ``customer_id``, ``churn_probability`` (4 decimals, as on the list),
        ``expected_value``, ``value_at_risk`` (their product, to the cent, from the
        unrounded figures as the list computes it), the loyalty type and its source, and
        ``model_version``; ranked by value at risk, then probability.
    """
    p = scores["churn_probability"].to_numpy(dtype=float)
    value = scores["expected_value"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "customer_id": customer_ids.to_numpy(),
            "churn_probability": p.round(4),
            "expected_value": value.round(2),
            "value_at_risk": (p * value).round(2),
            "loyalty_type": scores["loyalty_type"].to_numpy(),
            "loyalty_type_source": scores["loyalty_type_source"].to_numpy(),
        }
    )
    out = out.sort_values(
        ["value_at_risk", "churn_probability", "customer_id"],
        ascending=[False, False, True],
        ignore_index=True,
    )
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out["model_version"] = version
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m pipeline.registry``: the registry's state; ``... score REF``: its list.

    ``promote v<N> --reason "..."`` makes a version champion by hand (when the gate cannot
    compare, e.g. after new data: the champion forecast other customers), tagged with the
    reason on its run.

    ``score`` scores today's scoring population (``data/features``) with a registered
    version (``champion`` by default, ``challenger``, ``v<N>``) and writes its ranked
    list to ``data/pinned/customers.csv``: the list pinned to that model, whatever the
    latest run was.
    """
    import argparse

    from pipeline import io, tracking
    from pipeline.config import load_params
    from pipeline.stages._common import FEATURES

    parser = argparse.ArgumentParser(prog="python -m pipeline.registry")
    sub = parser.add_subparsers(dest="command")
    score = sub.add_parser("score", help="write the list a registered version makes today")
    score.add_argument("model", nargs="?", default=CHAMPION)
    score.add_argument("--out", default="data/pinned/customers.csv")
    promote = sub.add_parser("promote", help="make a version champion by hand, with a reason")
    promote.add_argument("version", help="v<N> or N")
    promote.add_argument("--reason", required=True, help="why, for the run's tags")
    args = parser.parse_args(argv)
    logging.basicConfig(level="WARNING")
    root = tracking.project_root()
    params = load_params(root / "params.yaml")
    name = params.registry.model_name
    if args.command == "promote":
        version = args.version.removeprefix("v")
        try:
            tracking.promote(root, name, version, args.reason)
        except LookupError as err:
            raise SystemExit(f"registry: {err}") from err
        print(render_state(tracking.registry_state(root, name)))  # noqa: T201 (a CLI's output)
        return
    if args.command != "score":
        print(render_state(tracking.registry_state(root, name)))  # noqa: T201 (a CLI's output)
        return
    ref = args.model[1:] if args.model.startswith("v") and args.model[1:].isdigit() else args.model
    try:
        model = tracking.load_model(root, name, ref)
    except Exception as err:  # noqa: BLE001 (MLflow raises its own kinds; say what exists)
        raise SystemExit(f"registry: no version {args.model!r} of {name!r}: {err}") from err
    meta = io.read_json(root / FEATURES / "meta.json")
    rows = io.read_at(
        root / FEATURES / "snapshots.parquet", pd.Timestamp(meta["cutoffs"]["score"])
    )
    rows = rows.sort_values("customer_id", ignore_index=True)
    version = tracking.resolve_run(root, params.tracking.experiment, name, args.model)["version"]
    wanted = model.metadata.get_input_schema().input_names()
    missing = [c for c in wanted if c not in rows.columns]
    if missing:
        raise SystemExit(
            f"registry: version {version} of {name!r} ({args.model}) cannot score today's "
            f"customers: it was trained on other data, and {len(missing)} of its "
            f"{len(wanted)} features are not in data/features (e.g. {missing[:3]}). "
            "Score with a version trained on this data (`make registry` lists them; "
            "`make pinned-list MODEL=v<N>`), or make one champion after review: "
            f'.venv/bin/python -m pipeline.registry promote v<N> --reason "..."'
        )
    features = rows[wanted]
    out = pinned_list(rows["customer_id"], model.predict(features), version=version)
    io.write_csv(out, root / args.out)
    print(  # noqa: T201
        f"{len(out):,} customers scored as of {meta['cutoffs']['score'][:10]} by {name} "
        f"version {version} ({args.model}): {args.out}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
