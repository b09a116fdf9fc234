"""Two runs side by side: ``python -m pipeline.compare [A] [B]`` (``make compare``).

By default A is the registry's ``champion`` and B the run behind the workspace's files
(``workspace``: the lists and reports you have, which after ``git checkout params.yaml
dvc.lock && make run`` are the baseline's again, not the latest experiment's). A run is
named by ``workspace``, ``latest``, an alias (``champion``, ``challenger``), ``v<N>`` (a
registered version) or an MLflow run id. The comparison shows what a reviewer asks
before trusting B:

* the params that differ;
* the headline metrics of both, B - A, and for ROC-AUC and Brier the paired bootstrap
  interval of the difference on the customers both runs forecast (test cutoff and
  backtest);
* how the SHAP drivers moved (rank and share of each feature and family);
* how much of the call list the two runs share: a list that churns between runs is a
  list nobody trusts.

Markdown goes to the terminal, and the same as a self-contained HTML page (no scripts,
no fonts or styles from the internet) to ``reports/compare.html``.
"""

from __future__ import annotations

import argparse
import html
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import evaluate, registry
from pipeline.headline import UPLIFT_HEADLINE

log = logging.getLogger(__name__)

HEADLINE_PREFIXES = ("shipped.", "list.", "forward.", "uplift.")
SKIPPED_PARAMS = ("tracking.", "registry.")
DRIVER_ROWS = 15


@dataclass(frozen=True)
class Run:
    """What the comparison needs of one run (read from MLflow by :func:`load_run`)."""

    label: str  # "A" or "B"
    ref: str
    run_id: str
    name: str
    version: str | None
    aliases: tuple[str, ...]
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    predictions: pd.DataFrame | None
    call_list: pd.DataFrame | None

    @property
    def title(self) -> str:
        version = f"version {self.version}" if self.version else "not registered"
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.label}: {self.name} [{version}{aliases}, run {self.run_id[:8]}]"


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str = ""


def param_changes(a: Mapping[str, str], b: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(param, A, B) for every param whose value differs (tracking/registry left out)."""
    keys = sorted(set(a) | set(b))
    return [
        (k, a.get(k, "-"), b.get(k, "-"))
        for k in keys
        if a.get(k) != b.get(k) and not k.startswith(SKIPPED_PARAMS)
    ]


def _num(v: float | None, fmt: str = ".4f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def _signed(v: float) -> str:
    """``+0.0012``; a difference that rounds to nothing is ``+0.0000``, never ``-0.0000``
    (two copies of a model differ by float noise: "[-0.0000, -0.0000]" read as a loss)."""
    text = format(v, "+.4f")
    return "+0.0000" if text == "-0.0000" else text


def paired_intervals(a: Run, b: Run, *, seed: int = 0, n_boot: int = 500) -> dict[str, dict]:
    """B - A for ROC-AUC and Brier with paired intervals, on the customers both forecast.

    Returns
    -------
    dict
        ``{"shipped.roc_auc": {...}, "shipped.brier": {...}, "shipped.backtest_roc_auc":
        ..., "shipped.backtest_brier": ...}`` with ``difference``, ``low``, ``high`` and
        ``customers``; empty when the runs share no forecast customers.
    """
    if a.predictions is None or b.predictions is None:
        return {}
    test_cutoff = b.tags.get("test_cutoff")
    shared = sorted(set(a.predictions["cutoff"]) & set(b.predictions["cutoff"]))
    out: dict[str, dict] = {}
    for label, cutoffs in (("", [test_cutoff]), ("backtest_", shared)):
        try:
            paired = registry.pair(b.predictions, a.predictions, cutoffs)
        except ValueError as err:
            log.warning("no paired interval: %s", err)
            return {}
        if paired["churned"].nunique() < 2:
            continue
        boot = evaluate.paired_bootstrap(
            paired["churned"].to_numpy(),
            paired["challenger"].to_numpy(),
            paired["champion"].to_numpy(),
            n_boot=n_boot,
            seed=seed,
        )
        for metric in ("roc_auc", "brier"):
            out[f"shipped.{label}{metric}"] = boot[metric] | {"customers": len(paired)}
    return out


def _unpaired_note(a: Run, b: Run, intervals: Mapping[str, dict]) -> str:
    """Why the table has no paired interval, when it has none."""
    if intervals:
        return ""
    if a.predictions is None or b.predictions is None:
        which = " and ".join(r.label for r in (a, b) if r.predictions is None)
        return f" No paired interval: {which} logged no forecasts (review/predictions.parquet)."
    return (
        " No paired interval: the runs forecast no customer in common (another shop, or "
        "another test cutoff)."
    )


def is_headline(key: str) -> bool:
    """A key of metrics.json: MLflow's ``uplift.*`` also holds all of uplift.json."""
    if key.startswith("uplift."):
        return UPLIFT_HEADLINE.fullmatch(key.removeprefix("uplift.")) is not None
    return key.startswith(HEADLINE_PREFIXES)


def metric_table(a: Run, b: Run, intervals: Mapping[str, dict]) -> list[tuple[str, ...]]:
    keys = sorted(
        {k for k in (*a.metrics, *b.metrics) if is_headline(k)},
        key=lambda k: (HEADLINE_PREFIXES.index(k.split(".")[0] + "."), k),
    )
    rows = []
    for k in keys:
        va, vb = a.metrics.get(k), b.metrics.get(k)
        delta = vb - va if va is not None and vb is not None else None
        fmt = ",.0f" if k.startswith("list.") else ".4f"
        iv = intervals.get(k)
        # the interval beside its own point: on the backtest rows B - A is the mean of the
        # origins' metrics (as logged) while the bootstrap pairs the pooled predictions
        interval = (
            f"{_signed(iv['difference'])} [{_signed(iv['low'])}, {_signed(iv['high'])}] "
            f"n={iv['customers']}"
            if iv
            else ""
        )
        sign = "+" if fmt == ".4f" else "+,"
        rows.append(
            (
                k,
                _num(va, fmt),
                _num(vb, fmt),
                "-" if delta is None else format(delta, sign + fmt.lstrip(",")),
                interval,
            )
        )
    return rows


def driver_shifts(a: Mapping[str, float], b: Mapping[str, float], prefix: str) -> pd.DataFrame:
    """Rank and share of each driver in both runs, B's strongest first.

    ``a`` and ``b`` are the runs' metrics; drivers are the keys ``<prefix>.<name>``
    (shares of the total mean |SHAP|, logged by the track stage).
    """

    def ranked(metrics: Mapping[str, float]) -> pd.DataFrame:
        shares = pd.Series(
            {k[len(prefix) + 1 :]: v for k, v in metrics.items() if k.startswith(prefix + ".")},
            dtype=float,
        )
        frame = shares.rename("share").to_frame()
        frame["rank"] = shares.rank(ascending=False, method="first").astype("Int64")
        return frame

    ra, rb = ranked(a), ranked(b)
    both = ra.add_suffix("_a").join(rb.add_suffix("_b"), how="outer")
    both["shift"] = both["rank_a"] - both["rank_b"]  # positive: climbed in B
    both = both.sort_values(["rank_b", "rank_a"], na_position="last")
    return both.reset_index(names="driver")


def list_overlap(a: pd.DataFrame | None, b: pd.DataFrame | None) -> dict[str, float] | None:
    """How much of B's call list was on A's: counts and shares, also for the top 100."""
    if a is None or b is None:
        return None
    ka, kb = set(a["customer_key"]), set(b["customer_key"])
    shared = len(ka & kb)
    top = min(100, len(a), len(b))
    ta = set(a.sort_values("position")["customer_key"].head(top))
    tb = set(b.sort_values("position")["customer_key"].head(top))
    return {
        "size_a": len(ka),
        "size_b": len(kb),
        "shared": shared,
        "share_of_b": shared / len(kb) if kb else float("nan"),
        "jaccard": shared / len(ka | kb) if ka | kb else float("nan"),
        "top": top,
        "top_shared": len(ta & tb),
    }


def build(a: Run, b: Run, *, seed: int = 0) -> list[Table]:
    """Every section of the comparison as a table."""
    tables = [
        Table(
            "Params that differ",
            ("param", "A", "B"),
            param_changes(a.params, b.params),
            note="" if a.params != b.params else "identical params",
        )
    ]
    intervals = paired_intervals(a, b, seed=seed)
    tables.append(
        Table(
            "Headline metrics",
            ("metric", "A", "B", "B - A", "paired B - A [95% interval]"),
            metric_table(a, b, intervals),
            note="ROC-AUC: higher is better; Brier, log loss, ECE: lower. Paired: bootstrap "
            "on the customers both runs forecast (test cutoff; backtest pooled over the "
            "origins, so its point can differ from B - A, the mean of the origins' metrics)."
            + _unpaired_note(a, b, intervals),
        )
    )
    tags = (
        "model",
        "calibration",
        "grade",
        "test_cutoff",
        "registry.decision",
        "plays_from",
        "git_commit",
    )
    tables.append(
        Table(
            "What was selected",
            ("tag", "A", "B"),
            [(t, a.tags.get(t, "-")[:12], b.tags.get(t, "-")[:12]) for t in tags],
        )
    )
    for prefix, title in (("driver_family", "Driver families"), ("driver", "Drivers")):
        shifts = driver_shifts(a.metrics, b.metrics, prefix).head(DRIVER_ROWS)
        tables.append(
            Table(
                f"{title}: share of mean |SHAP|, B's strongest first",
                ("driver", "rank A", "rank B", "moved", "share A", "share B"),
                [
                    (
                        r.driver,
                        _num(r.rank_a, "d") if pd.notna(r.rank_a) else "-",
                        _num(r.rank_b, "d") if pd.notna(r.rank_b) else "-",
                        "-" if pd.isna(r.shift) else f"{int(r.shift):+d}",
                        _num(r.share_a, ".1%") if pd.notna(r.share_a) else "-",
                        _num(r.share_b, ".1%") if pd.notna(r.share_b) else "-",
                    )
                    for r in shifts.itertuples()
                ],
            )
        )
    overlap = list_overlap(a.call_list, b.call_list)
    rows = []
    if overlap:
        rows = [
            ("call list size", f"{overlap['size_a']:,}", f"{overlap['size_b']:,}"),
            (
                "on both lists",
                f"{overlap['shared']:,}",
                f"{overlap['share_of_b']:.0%} of B's list (Jaccard {overlap['jaccard']:.2f})",
            ),
            (
                f"on both top {overlap['top']}",
                f"{overlap['top_shared']:,}",
                f"{overlap['top_shared'] / max(overlap['top'], 1):.0%}",
            ),
        ]
    tables.append(
        Table(
            "The call list: who would be called under each run",
            ("", "A", "B"),
            rows,
            note="" if overlap else "a run has no call list artifact",
        )
    )
    return tables


def to_markdown(a: Run, b: Run, tables: Sequence[Table]) -> str:
    lines = [f"# {a.title}", f"# {b.title}", ""]
    if a.run_id == b.run_id:
        lines += ["(A and B are the same run)", ""]
    for t in tables:
        lines += [f"## {t.title}", ""]
        if t.rows:
            lines.append("| " + " | ".join(t.columns) + " |")
            lines.append("|" + "|".join("---" for _ in t.columns) + "|")
            lines += ["| " + " | ".join(r) + " |" for r in t.rows]
            lines.append("")
        if t.note:
            lines += [t.note, ""]
    return "\n".join(lines)


def _bars(shifts: pd.DataFrame) -> str:
    """Inline SVG: each driver's share in A and B as paired bars."""
    rows = shifts.head(DRIVER_ROWS)
    width, label_w, row_h = 640, 260, 22
    top = max(float(rows[["share_a", "share_b"]].max().max()), 1e-9)
    parts = [
        f'<svg width="{width}" '
        f'height="{row_h * len(rows) + 30}" font-family="sans-serif" font-size="11">',
        '<rect x="270" y="4" width="10" height="10" fill="#999"/>'
        '<text x="284" y="13">A</text>'
        '<rect x="310" y="4" width="10" height="10" fill="#1f77b4"/>'
        '<text x="324" y="13">B</text>',
    ]
    for i, r in enumerate(rows.itertuples()):
        y = 24 + i * row_h
        parts.append(f'<text x="0" y="{y + 11}">{html.escape(str(r.driver))[:40]}</text>')
        for j, (share, colour) in enumerate(((r.share_a, "#999"), (r.share_b, "#1f77b4"))):
            w = 0 if pd.isna(share) else (width - label_w - 10) * float(share) / top
            parts.append(
                f'<rect x="{label_w}" y="{y + j * 9}" width="{w:.1f}" height="8" fill="{colour}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def to_html(a: Run, b: Run, tables: Sequence[Table]) -> str:
    """The comparison as one offline page: inline CSS and SVG, nothing fetched."""
    esc = html.escape
    body = [f"<h1>{esc(a.title)}<br>{esc(b.title)}</h1>"]
    for t in tables:
        body.append(f"<h2>{esc(t.title)}</h2>")
        if t.rows:
            head = "".join(f"<th>{esc(c)}</th>" for c in t.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r) + "</tr>" for r in t.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        if t.note:
            body.append(f"<p>{esc(t.note)}</p>")
        if t.title.startswith("Drivers:"):
            body.append(_bars(driver_shifts(a.metrics, b.metrics, "driver")))
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}h1{font-size:1.2em}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Compare runs</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )


def load_run(root: Path, label: str, ref: str, experiment: str, model_name: str) -> Run:
    from pipeline import tracking

    found = tracking.resolve_run(root, experiment, model_name, ref)
    c = found["client"]
    aliases: tuple[str, ...] = ()
    if found["version"] is not None:
        model = c.get_registered_model(model_name)
        aliases = tuple(
            sorted(a for a, v in (model.aliases or {}).items() if str(v) == found["version"])
        )
    return Run(
        label=label,
        ref=ref,
        run_id=found["run_id"],
        name=found["name"] or found["run_id"],
        version=found["version"],
        aliases=aliases,
        params=found["params"],
        metrics=found["metrics"],
        tags=found["tags"],
        predictions=tracking.read_table(c, found["run_id"], "review/predictions.parquet"),
        call_list=tracking.read_table(c, found["run_id"], "review/call_list.parquet"),
    )


def main(argv: list[str] | None = None) -> None:
    from pipeline import io, tracking
    from pipeline.config import load_params

    parser = argparse.ArgumentParser(prog="python -m pipeline.compare", description=__doc__)
    parser.add_argument("a", nargs="?", default="champion", help="default: champion")
    parser.add_argument(
        "b",
        nargs="?",
        default=tracking.WORKSPACE,
        help="default: workspace (the run behind the files in data/scored and reports/)",
    )
    parser.add_argument("--html", default="reports/compare.html", help="where the page goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    root = tracking.project_root()
    params = load_params(root / "params.yaml")
    name, experiment = params.registry.model_name, params.tracking.experiment
    try:
        a = load_run(root, "A", args.a, experiment, name)
        b = load_run(root, "B", args.b, experiment, name)
    except LookupError as err:
        raise SystemExit(f"compare: {err}") from err
    tables = build(a, b, seed=params.train.seed)
    print(to_markdown(a, b, tables))  # noqa: T201 (a CLI's output)
    out = root / args.html
    io.write_text(to_html(a, b, tables), out)
    print(f"(also written to {out.relative_to(root) if out.is_relative_to(root) else out})")  # noqa: T201


if __name__ == "__main__":
    main()
