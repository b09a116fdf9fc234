"""How long the files source takes to map a shop's orders file, and what finding copies
written differently (``pipeline.sources.files.copies_once_read``) adds to it.

    .venv/bin/python benchmarks/source_files.py [N]      # N orders, default 1,000,000

Builds N orders as text (one per row, 200k customers, two years, amounts with cents),
then times ``map_tables`` three times: with the check, without it (replaced by one that
finds nothing), and with it again. Prints seconds per run.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.sources import files  # noqa: E402


def orders_as_text(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    at = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730 * 86400, n), unit="s")
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(n)],
            "customer_id": [f"C{x}" for x in rng.integers(0, 200_000, n)],
            "ordered_at": pd.Series(at).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": [f"{x:.2f}" for x in rng.gamma(2.0, 40.0, n)],
        }
    ).astype("string")


def timed(raw: pd.DataFrame) -> float:
    start = time.perf_counter()
    files.map_tables({"orders": raw}, {})
    return time.perf_counter() - start


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    raw = orders_as_text(n)
    with_check = timed(raw)
    kept = files.copies_once_read
    files.copies_once_read = lambda raw, mapped, candidate: (
        np.zeros(len(raw), dtype=bool),
        np.arange(len(raw)),
    )
    try:
        without = timed(raw)
    finally:
        files.copies_once_read = kept
    again = timed(raw)
    print(f"{n:,} orders: map_tables {with_check:.1f} s and {again:.1f} s with the copies check,")
    print(f"{without:.1f} s without it")


if __name__ == "__main__":
    main()
