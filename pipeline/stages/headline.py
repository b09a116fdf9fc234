"""Stage ``headline``: ``metrics.json``, the numbers DVC compares across commits and experiments.

A small file committed to git (``cache: false``), so ``dvc metrics diff`` and ``dvc exp
show`` compare the workspace and every experiment with the last commit.
"""

from __future__ import annotations

from pathlib import Path

from pipeline import io
from pipeline.config import Params
from pipeline.headline import headline
from pipeline.stages._common import REPORTS, stage_main

HEADLINE = Path("metrics.json")


def run(params: Params) -> None:
    forward = REPORTS / "forward.json"
    uplift = REPORTS / "uplift.json"
    io.write_json(
        headline(
            io.read_json(REPORTS / "train.json"),
            io.read_json(REPORTS / "score.json"),
            io.read_json(forward) if forward.exists() else None,
            io.read_json(uplift) if uplift.exists() else None,
        ),
        HEADLINE,
    )
    del params


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
