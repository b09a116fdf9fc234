"""Print the headline numbers of the last run: ``python -m pipeline.summary``.

``dvc metrics show`` lists every metric of every file in one very wide table; this is
the short version a person reads after ``make run``.
"""

from __future__ import annotations

import json
from pathlib import Path

SEGMENT_ORDER = ("early_warning", "lapsing", "lapsed", "steady")
COLUMNS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "emp", "ece")


def render(train: dict, score: dict) -> str:
    c = train["churn"]
    lines = [
        f"Churn at test cutoff {c['test_cutoff']}: {c['test_customers']} customers, "
        f"{c['test_churn_rate']:.1%} churned within the horizon",
        f"selected model: {c['selected_model']} (calibration: {c['calibration']}), "
        f"grade {c['grade']} against the recency rule",
        "",
        f"{'model':<20}" + "".join(f"{k:>16}" for k in COLUMNS),
    ]
    for model, m in c["test"].items():
        lines.append(f"{model:<20}" + "".join(f"{m[k]:>16.4f}" for k in COLUMNS))
    bt = c["backtest"]
    lines += [
        "",
        f"rolling-origin backtest, mean ± sd over {bt[c['selected_model']]['n_cutoffs']} cutoffs:",
    ]
    for model, m in bt.items():
        lines.append(
            f"  {model:<18} ROC-AUC {m['roc_auc_mean']:.4f} ± {m.get('roc_auc_std', 0):.4f}"
            f"   Brier {m['brier_mean']:.4f} ± {m.get('brier_std', 0):.4f}"
        )
    lo = train["loyalty"]
    if lo["source"] == "classifier":
        lines.append(
            f"\nloyalty types: classifier on {lo['n_labelled']} surveyed customers, out-of-fold "
            f"on {lo.get('n_judged', lo['n_labelled'])}: "
            f"macro-F1 {lo['macro_f1']:.3f}, accuracy {lo['accuracy']:.3f} "
            f"(majority class {lo['chance_accuracy']:.3f})"
        )
    elif lo.get("why"):
        lines.append(
            f"\nloyalty types: from the behavioural rule table; the classifier on "
            f"{lo['n_labelled']} surveyed customers was not used: {lo['why']}"
        )
    else:
        lines.append(
            f"\nloyalty types: from the behavioural rule table ({lo.get('n_labelled', 0)} "
            "survey labels: too few for a classifier)"
        )
    segments = score["segments"]
    call, winback = score["call_list"], score["winback_list"]
    lines += [
        f"\nscored {score['customers_scored']} customers as of {score['as_of'][:10]}: "
        f"{score['expected_churners']:.0f} expected to churn within {score['horizon_days']} "
        f"days, value at risk {score['value_at_risk_total']:,.2f}",
        "segments: "
        + ", ".join(f"{k.replace('_', ' ')} {segments.get(k, 0)}" for k in SEGMENT_ORDER),
        f"call list: {call['customers']} customers, cost {call['cost']:,.2f}, expected "
        f"profit {call['expected_profit']:,.2f} ({_plays(call['plays'])})",
        f"win-back list: {winback['customers']} customers, cost {winback['cost']:,.2f}, "
        f"expected profit {winback['expected_profit']:,.2f}",
        *([f"plays from {score['plays_from']}"] if score.get("plays_from") else []),
        f"reasons from two or more concepts: {score['reasons_two_or_more_concepts_share']:.0%} "
        f"of the customers explained ({score['reasons_explained']})",
        "files: data/scored/at_risk.csv (call list), winback.csv, customers.csv (everyone), "
        "at_risk.xlsx (all three, with how to read them); reports/retention_report.html",
    ]
    return "\n".join(lines)


def _plays(plays: dict[str, int]) -> str:
    top = sorted(plays.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in top) or "no plays"


def main() -> None:
    stale = Path("data/scored/STALE.txt")
    if stale.exists():
        print(f"NO CURRENT LIST: {stale.read_text()}")  # noqa: T201 (a CLI's output)
        raise SystemExit(1)
    train = json.loads(Path("reports/train.json").read_text())
    score = json.loads(Path("reports/score.json").read_text())
    ledger = Path("reports/ledger.json")
    if ledger.exists():
        from pipeline.ledger import render_headline

        print(render_headline(json.loads(ledger.read_text())) + "\n")  # noqa: T201
    print(render(train, score))  # noqa: T201 (a CLI's output)


if __name__ == "__main__":
    main()
