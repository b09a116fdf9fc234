"""The forward test on a shop seen only as an orders export, through ``source.files``.

This is what a new shop gets: one orders file (customer, invoice, product, date, line
total; no cancellations, no country, no sessions), mapped with ``source.columns``, and
the list shipped for a past date D judged on what happened in the 90 days after it.

    .venv/bin/python benchmarks/unseen_shop.py
    .venv/bin/python benchmarks/unseen_shop.py --sheet 2010_2011 --as-of 2011-09-10

The default is the Online Retail II 2009-2010 sheet at D = 2010-09-10: no feature,
hyperparameter or default of the pipeline was chosen on it (they were chosen on the
embedded shop and on the 2010-2011 file). ``--sheet 2010_2011`` is the README's own-data
example, judged the same way. The export is built as in that example; the work
directory (``--workdir``, default ``/tmp/unseen-shop-<sheet>``) gets ``params.yaml``
(the project's, with the source, ``score.as_of`` and ``snapshots.min_history_days: 0``:
a one-year file leaves no room for training cutoffs otherwise) and the stages ``source``
to ``forward`` run in it with this interpreter. It prints the forward table and leaves
``reports/forward.json`` there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {
    # sheet -> (file, invoice, price, customer column)
    "2009_2010": ("online_retail_II_2009_2010_sheet.parquet", "Invoice", "Price", "Customer ID"),
    "2010_2011": ("online_retail_2010_2011.parquet", "InvoiceNo", "UnitPrice", "CustomerID"),
}
DEFAULT_AS_OF = {"2009_2010": "2010-09-10", "2010_2011": "2011-09-10"}
STAGES = ("source", "ingest", "features", "train", "explain", "uplift", "score", "forward")
COLUMNS = {
    "customer_id": "client",
    "order_id": "invoice",
    "product_id": "product",
    "ordered_at": "date",
    "amount": "line_total",
}


def export_orders(sheet: str, path: Path) -> int:
    """Write the orders-only export of one UCI sheet; returns its line count."""
    name, invoice, price, customer = SHEETS[sheet]
    df = pd.read_parquet(ROOT / "data/online_retail" / name).dropna(subset=[customer])
    df = df[~df[invoice].astype(str).str.startswith("C")]
    out = pd.DataFrame(
        {
            "client": df[customer].astype(int),
            "invoice": df[invoice],
            "product": df["StockCode"],
            "date": df["InvoiceDate"],
            "line_total": (df["Quantity"] * df[price]).round(2),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
    return len(out)


def write_params(workdir: Path, as_of: str) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["source"]["kind"] = "files"
    params["source"]["files"]["orders"] = "data/shop/orders.csv"
    params["source"]["columns"] = {"orders": dict(COLUMNS)}
    params["score"]["as_of"] = as_of
    params["snapshots"]["min_history_days"] = 0
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sheet", choices=sorted(SHEETS), default="2009_2010")
    ap.add_argument("--as-of", help="the forward date D (default: Sep 10 of the sheet)")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    as_of = args.as_of or DEFAULT_AS_OF[args.sheet]
    workdir = args.workdir or Path(f"/tmp/unseen-shop-{args.sheet}")
    workdir.mkdir(parents=True, exist_ok=True)
    lines = export_orders(args.sheet, workdir / "data/shop/orders.csv")
    write_params(workdir, as_of)
    print(f"{workdir}: {lines:,} order lines of the {args.sheet} sheet, shipped for {as_of}")
    for stage in STAGES:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", f"pipeline.stages.{stage}"],
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"stage {stage} failed:\n{done.stderr[-3000:]}")
        print(f"  {stage:<9} {time.perf_counter() - start:5.1f} s", flush=True)
    table = subprocess.run(
        [sys.executable, "-m", "pipeline.forward"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    print(table.stdout)


if __name__ == "__main__":
    main()
