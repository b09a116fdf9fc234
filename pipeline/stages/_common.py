"""What every stage shares: where things live, logging, params, timing, failure."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from pipeline.config import Params, load_params

RAW = Path("data/raw")
# The source's account of its inputs, handed to ingest inside data/raw (DVC outputs
# of two stages cannot overlap): source.json and set_aside/<input>.parquet.
SOURCE_LEDGER = RAW / "_ledger"
TRUTH = Path("data/truth")
CANONICAL = Path("data/canonical")
# The rows not accepted: set_aside/<input>.parquet and quarantined/<table>.parquet.
LEDGER = Path("data/ledger")
FEATURES = Path("data/features")
PREDICTIONS = Path("data/predictions")
# The explain stage's data: everyone's probabilities and types (scoring.parquet), and
# the SHAP values of its drivers' sample by customer, which score need not redo.
EXPLAIN = Path("data/explain")
SHAP_SAMPLE = EXPLAIN / "shap_sample.parquet"
SCORED = Path("data/scored")
MODELS = Path("models")
REPORTS = Path("reports")
STALE = SCORED / "STALE.txt"


# What a retention team receives: every file of data/scored/ (the CSVs, the workbook)
# and the report whose cards show the top of the call list.
RETENTION_REPORT = REPORTS / "retention_report.html"


def restore_hint(stage: str) -> str:
    """How to get the stage's last good outputs back, when DVC ran it (else empty).

    ``dvc repro`` deletes a stage's outputs before it runs the command (unless they
    persist, which would cost the run cache that ``dvc exp`` switches on), so a stage
    that stops leaves none of its own. Nothing is lost: the last successful outputs are
    in the DVC cache, named by dvc.lock, which a failed stage does not touch.
    """
    if not os.environ.get("DVC_STAGE"):
        return ""
    return (
        f"DVC removed the outputs of stage '{stage}' before running it; the last "
        f"successful run's are in the DVC cache: `dvc checkout {stage}` puts them back."
    )


# The run's figures per stage, in pipeline order: after a failure, those of the stages
# after the failed one describe the run before it, not the workspace's data.
FIGURES_BY_STAGE: tuple[tuple[str, tuple[Path, ...]], ...] = (
    ("source", ()),
    ("ingest", (REPORTS / "ingest.json", REPORTS / "ledger.json")),
    ("features", ()),
    ("train", (REPORTS / "train.json", REPORTS / "backtest.csv", REPORTS / "plots")),
    ("explain", (REPORTS / "explain",)),
    ("uplift", (REPORTS / "uplift.json", REPORTS / "qini.csv")),
    ("score", (REPORTS / "score.json",)),
    ("forward", (REPORTS / "forward.json",)),
    ("headline", (Path("metrics.json"),)),
    # not reports/mlflow_run.json: no DVC output, a run that returns to the last good
    # state (the track stage then skipped) could not bring it back; while STALE.txt is
    # there, `make compare` refuses the workspace instead (tracking._workspace_run)
)


def stale_figures(stage: str) -> list[Path]:
    """The figures (files, and folders of plots and drivers) of the stages after
    ``stage`` that exist (none for a stage outside the pipeline's order)."""
    names = [name for name, _ in FIGURES_BY_STAGE]
    if stage not in names:
        return []
    after = FIGURES_BY_STAGE[names.index(stage) + 1 :]
    return [p for _, paths in after for p in paths if p.exists()]


def mark_stale(stage: str, error: BaseException) -> bool:
    """After a failed stage, take the lists away so nobody mails yesterday's list.

    Everything a retention team receives from the last good run goes: the files of
    ``data/scored/`` (the CSVs and the workbook) and ``reports/retention_report.html``
    (its cards are the call list's top). ``data/scored/STALE.txt`` says which stage
    failed and why. The figures of the stages after the failed one go too
    (:func:`stale_figures`: the ledger after a failed source, ``metrics.json``, the
    forward test). The models and the data stay for diagnosis; the next successful run
    replaces them all. Returns whether it wrote the note (no lists yet, as on a first
    run: nothing to take away, no note).
    """
    figures = stale_figures(stage)
    for path in figures:  # `dvc metrics show` read the run before's (reviewed)
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    if not SCORED.is_dir():
        return False
    delivered = [p for p in sorted(SCORED.iterdir()) if p.is_file() and p != STALE]
    if RETENTION_REPORT.is_file():
        delivered.append(RETENTION_REPORT)
    for path in delivered:
        path.unlink()
    removed = ", ".join(str(p) for p in delivered) or "none left"
    also = (
        f"Its figures went with them ({', '.join(str(p) for p in figures)}): `dvc metrics "
        "show` and `make compare` would have read the run before's.\n"
        if figures
        else ""
    )
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    STALE.write_text(
        f"The last run failed in stage '{stage}', so the lists of the run before it were "
        f"removed ({removed}): they no longer match the data.\n{also}"
        f"Fix the cause and run `make run` again.\n\n{message}\n"
        + (f"\n{hint}\n" if (hint := restore_hint(stage)) else "")
    )
    return True


def _about_the_data(err: BaseException) -> bool:
    """Errors that name a file, table, column and values to fix: reading, ingest, ledger."""
    from pipeline.ingest import IngestError
    from pipeline.ledger import LedgerError
    from pipeline.reading import ReadError

    return isinstance(err, (ReadError, IngestError, LedgerError))


def stage_main(run: Callable[[Params], None]) -> None:
    """Configure logging, load ``params.yaml`` (or ``$PIPELINE_PARAMS``), run, time it.

    A failure marks the previous outputs stale (:func:`mark_stale`) before it ends
    the process with the error.
    """
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # run with ``python -m``, the stage's module is __main__: its spec knows the name
    spec = getattr(sys.modules.get(run.__module__), "__spec__", None)
    module = spec.name if spec is not None else run.__module__
    log = logging.getLogger(module)
    stage = module.rsplit(".", 1)[-1]
    start = time.perf_counter()
    try:
        params = load_params(os.environ.get("PIPELINE_PARAMS", "params.yaml"))
        run(params)
    except (Exception, KeyboardInterrupt) as err:
        noted = " (data/scored/STALE.txt)" if mark_stale(stage, err) else ""
        log.error("stage %s failed: %s%s", stage, err, noted)
        if hint := restore_hint(stage):
            log.error("%s", hint)
        if _about_the_data(err):
            # a problem of the shop's files, said in full above: no traceback after it,
            # so the message is the last thing on the screen (a bug keeps its traceback)
            sys.exit(1)
        raise
    log.info("stage finished in %.1f s", time.perf_counter() - start)
