"""What every stage shares: where things live, logging, params, timing."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.config import Params, load_params

RAW = Path("data/raw")
TRUTH = Path("data/truth")
SET_ASIDE = Path("data/set_aside")
CANONICAL = Path("data/canonical")
QUARANTINE = Path("data/quarantine")
FEATURES = Path("data/features")
PREDICTIONS = Path("data/predictions")
SCORED = Path("data/scored")
MODELS = Path("models")
REPORTS = Path("reports")


def stage_main(run: Callable[[Params], None]) -> None:
    """Configure logging, load ``params.yaml`` (or ``$PIPELINE_PARAMS``), run, time it."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger(run.__module__)
    params = load_params(os.environ.get("PIPELINE_PARAMS", "params.yaml"))
    start = time.perf_counter()
    run(params)
    log.info("stage finished in %.1f s", time.perf_counter() - start)
