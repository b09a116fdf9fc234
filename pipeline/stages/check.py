"""Stage ``check``: validate the whole ``params.yaml`` before any stage runs.

Every other stage depends on this one's output, so DVC runs it first whenever
``params.yaml`` changes (``dvc repro``, ``dvc exp run -S``): a value out of range, a
misspelled key or section (``retension:``, ``train.learning_rat``) stops the run here,
before DVC has deleted any stage's outputs, and the lists of the last good run stay as
they were (their params have not run). Its output never changes while the params are
valid, so a valid change re-runs only the stages that read it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.config import check_params_file

CHECKED = Path("reports/params_check.txt")


def main() -> None:
    path = os.environ.get("PIPELINE_PARAMS", "params.yaml")
    try:
        check_params_file(path)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        sys.exit(
            f"params check failed, nothing was run and no output removed: {err}\n"
            f"Fix {path} (`git diff {path}` shows what changed), then run again."
        )
    CHECKED.parent.mkdir(parents=True, exist_ok=True)
    CHECKED.write_text("params.yaml is valid\n")


if __name__ == "__main__":
    main()
