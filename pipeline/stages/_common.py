"""What every stage shares: where things live, logging, params, timing, failure."""

from __future__ import annotations

import logging
import os
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


def mark_stale(stage: str, error: BaseException) -> None:
    """After a failed stage, take the call lists away so nobody mails yesterday's list.

    The lists of the last good run (``data/scored/*.csv``) are removed and
    ``data/scored/STALE.txt`` says which stage failed and why. The models and reports
    stay for diagnosis; the next successful run replaces the whole folder.
    """
    if not SCORED.is_dir():
        return
    removed = sorted(p.name for p in SCORED.glob("*.csv"))
    for path in SCORED.glob("*.csv"):
        path.unlink()
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    STALE.write_text(
        f"The last run failed in stage '{stage}', so the lists of the run before it were "
        f"removed ({', '.join(removed) or 'none left'}): they no longer match the data.\n"
        f"Fix the cause and run `make run` again.\n\n{message}\n"
    )


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
        mark_stale(stage, err)
        log.error("stage %s failed: %s (data/scored/STALE.txt)", stage, err)
        raise
    log.info("stage finished in %.1f s", time.perf_counter() - start)
