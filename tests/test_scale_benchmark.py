"""``benchmarks/scale.py`` as the README runs it, on two small shops.

The benchmark is how the README's scale table and growth exponents are made; this checks
that it runs every stage of the pipeline at each size (no stage failed or was skipped)
and prints what the README quotes from it: per stage, wall time, CPU time and peak
memory, the end-to-end total, and the growth exponents between the sizes.
"""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO

STAGES = (
    "source", "ingest", "features", "train", "explain",
    "uplift", "score", "forward", "headline", "track",
)  # fmt: skip
CELL = r"\d+ s \(\d+ s CPU\), \d+\.\d\d GB"


def test_scale_benchmark_runs_every_stage_and_prints_the_table(tmp_path):
    res = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "1500", "3000", "--keep", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        stdin=subprocess.DEVNULL,
    )
    out = res.stdout
    assert res.returncode == 0, res.stderr
    assert "failed" not in out and "killed" not in out, out
    for stage in STAGES:
        assert re.search(rf"^\| {stage} \| {CELL} \| {CELL} \|$", out, re.M), (stage, out)
        assert re.search(rf"^  {stage} +in customers +-?\d+\.\d\d +in events", out, re.M), out
    assert re.search(r"^\| total \| \d+ s, \d+\.\d\d GB \| \d+ s, \d+\.\d\d GB \|$", out, re.M)
    assert "growth exponent of wall time, 1,500 -> 3,000 customers" in out
    # --keep: each size's shop stays, lists included, for a later command to reuse
    for n in (1500, 3000):
        assert (tmp_path / f"n{n}" / "data/scored/at_risk.csv").stat().st_size > 0


def test_the_files_source_benchmark_prints_both_timings() -> None:
    """``benchmarks/source_files.py`` as the README runs it, on a small file."""
    out = subprocess.run(
        [sys.executable, "benchmarks/source_files.py", "3000"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    assert re.search(r"^3,000 orders: map_tables [\d.]+ s and [\d.]+ s with", out, re.M), out
    assert re.search(r"^[\d.]+ s without it$", out, re.M), out
