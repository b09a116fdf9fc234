"""Wall time and peak memory of every pipeline stage on an embedded shop of N customers.

For each size, a fresh working directory gets the checkout's ``params.yaml`` with
``synthetic.n_customers: N``; the stage modules then run in DVC's order, each in its
own process (exactly what ``dvc repro`` runs), and each process's wall time, CPU time
and peak RSS are read from the kernel (``os.wait4``). With two or more sizes it prints
the growth exponent of every stage between consecutive sizes, in customers and in
events (orders + sessions): 1.0 is linear.

Usage, with the project's interpreter, from the checkout::

    .venv/bin/python benchmarks/scale.py 20000 200000
    .venv/bin/python benchmarks/scale.py 1000000 --stages source ingest features --pandas

``--pandas`` also times ``benchmarks/pandas_features.py`` (a straightforward pandas
groupby of a subset of the features) on the same data, after the features stage.
``--keep DIR`` keeps the working directories (``DIR/n<N>``); otherwise they go to a
temporary directory that is removed at the end. ``--set section.key=value`` overrides
``params.yaml`` for the run (e.g. ``train.max_rows=100000000``: no training sample).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "source",
    "ingest",
    "features",
    "train",
    "explain",
    "uplift",
    "score",
    "forward",
    "headline",
    "track",
)


@dataclass
class Run:
    """One process: what it was, how long it took, how much memory it held at most."""

    name: str
    wall_s: float
    cpu_s: float
    peak_rss_gb: float
    status: str = "ok"


PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and every process below it, now (Linux ``/proc``).

    A stage that fits models in parallel processes holds their memory at once; the
    kernel's ``ru_maxrss`` is the largest single process, so the benchmark also sums
    the tree (shared pages count once per process: an upper bound).
    """
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in tree]
        tree.update(frontier)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def measure(name: str, cmd: list[str], cwd: Path, log: Path, timeout: float | None) -> Run:
    """Run ``cmd`` in ``cwd``; its own rusage (not its siblings') from ``os.wait4``, and
    the peak of its process tree's summed RSS, sampled every 0.2 s."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    began = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        status = "ok"
        tree_peak = 0
        deadline = None if timeout is None else began + timeout
        while True:
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree_peak = max(tree_peak, tree_rss(proc.pid))
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                _, code, usage = os.wait4(proc.pid, 0)
                status = f"killed after {timeout:.0f} s"
                break
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(code)
    if status == "ok" and proc.returncode != 0:
        status = f"failed (exit {proc.returncode}, see {log})"
    return Run(
        name=name,
        wall_s=time.perf_counter() - began,
        cpu_s=usage.ru_utime + usage.ru_stime,
        # Linux reports ru_maxrss in KiB
        peak_rss_gb=max(usage.ru_maxrss * 1024, tree_peak) / 1e9,
        status=status,
    )


def overrides(pairs: list[str]) -> dict[str, object]:
    """``section.key=value`` pairs (values read as YAML), as ``dvc exp run -S`` takes them."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set {pair!r}: expected section.key=value")
        out[key] = yaml.safe_load(value)
    return out


def run_size(
    n: int,
    work: Path,
    stages: list[str],
    *,
    pandas: bool,
    timeout: float | None,
    settings: dict[str, object] | None = None,
) -> tuple[list[Run], dict]:
    work.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synthetic"]["n_customers"] = n
    for key, value in (settings or {}).items():
        *path, last = key.split(".")
        node = params
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    runs = []
    for stage in stages:
        cmd = [sys.executable, "-m", f"pipeline.stages.{stage}"]
        result = measure(stage, cmd, work, work / f"{stage}.log", timeout)
        runs.append(result)
        print(f"  n={n:>9,} {stage:<9} {fmt(result)}", flush=True)
        if result.status != "ok":
            break
        if stage == "features" and pandas:
            cmd = [sys.executable, str(ROOT / "benchmarks" / "pandas_features.py")]
            result = measure("pandas", cmd, work, work / "pandas.log", timeout)
            runs.append(result)
            print(f"  n={n:>9,} {'pandas':<9} {fmt(result)}", flush=True)
            print("    " + (work / "pandas.log").read_text().strip().replace("\n", "\n    "))
    # the ingest report counts every table's rows (read = accepted + set aside)
    report = work / "reports" / "ingest.json"
    volumes = {}
    if report.exists():
        tables = json.loads(report.read_text())
        volumes = {
            name: t["rows_read"]
            for name, t in tables.items()
            if isinstance(t, dict) and "rows_read" in t
        }
    return runs, volumes


def fmt(run: Run) -> str:
    text = f"{run.wall_s:8.1f} s wall {run.cpu_s:8.1f} s CPU {run.peak_rss_gb:6.2f} GB peak RSS"
    return text if run.status == "ok" else f"{text}  {run.status}"


def exponent(a: float, b: float, x: float, y: float) -> float:
    return math.log(b / a) / math.log(y / x) if min(a, b, x, y) > 0 and x != y else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", help="numbers of customers")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--pandas", action="store_true", help="time the pandas reference")
    parser.add_argument("--keep", type=Path, help="keep the working directories here")
    parser.add_argument("--timeout", type=float, help="kill a stage after this many seconds")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override params.yaml for these runs, e.g. train.max_rows=100000000",
    )
    args = parser.parse_args()
    settings = overrides(args.set)

    stages = [s for s in STAGES if s in args.stages]
    base = args.keep or Path(tempfile.mkdtemp(prefix="churn-scale-"))
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    results = {}
    try:
        for n in sorted(args.sizes):
            results[n] = run_size(
                n,
                base / f"n{n}",
                stages,
                pandas=args.pandas,
                timeout=args.timeout,
                settings=settings,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")

    names = [r.name for r in max((runs for runs, _ in results.values()), key=len)]
    print("| stage | " + " | ".join(f"{n:,} customers" for n in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in [*names, "total"]:
        cells = []
        for runs, _ in results.values():
            if name == "total":
                done = [r for r in runs if r.name != "pandas"]
                wall = sum(r.wall_s for r in done)
                peak = max((r.peak_rss_gb for r in done), default=0.0)
                cells.append(f"{wall:.0f} s, {peak:.2f} GB")
                continue
            run = next((r for r in runs if r.name == name), None)
            if run is None:
                cells.append("not run")
            else:
                cell = f"{run.wall_s:.0f} s ({run.cpu_s:.0f} s CPU), {run.peak_rss_gb:.2f} GB"
                cells.append(cell if run.status == "ok" else f"{cell}, {run.status}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    sizes = list(results)
    for small, large in zip(sizes, sizes[1:], strict=False):
        (runs_a, vol_a), (runs_b, vol_b) = results[small], results[large]
        events_a = vol_a.get("orders", 0) + vol_a.get("sessions", 0)
        events_b = vol_b.get("orders", 0) + vol_b.get("sessions", 0)
        print(f"\ngrowth exponent of wall time, {small:,} -> {large:,} customers")
        print(f"(events {events_a:,} -> {events_b:,}; 1.0 is linear)")
        for a in runs_a:
            b = next((r for r in runs_b if r.name == a.name), None)
            if b is None or "ok" not in (a.status + b.status):
                continue
            print(
                f"  {a.name:<9} in customers {exponent(a.wall_s, b.wall_s, small, large):5.2f}"
                f"  in events {exponent(a.wall_s, b.wall_s, events_a, events_b):5.2f}"
            )


if __name__ == "__main__":
    main()
