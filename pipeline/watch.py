"""The shop's files that DVC cannot see change: ``python -m pipeline.watch``.

``dvc.yaml`` can only name fixed paths, so the ``source`` stage depends on the folders
``data/shop/`` and ``data/online_retail/``. A shop's export kept elsewhere
(``source.files.orders: /exports/orders.csv``) is read all the same, but when a new
export replaces it DVC sees nothing change: ``dvc repro`` said "Data and pipelines are
up to date" and the lists stayed yesterday's, with no warning (reviewed).

The source stage records the size and modification time of every such file it read
(:data:`RECORD`, inside its own output, so restoring an old ``data/raw`` restores what
it was read from). ``make run`` and ``make forward`` call this module before DVC: when
a file differs from the record, it re-runs the source stage (``dvc repro --force
--single-item source``), and DVC then re-runs whatever the new rows change. ``dvc
repro`` and ``dvc exp run`` typed by hand do not look: the source stage warns of such
files each time it runs, and the README says to keep files in ``data/shop/``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.config import Params, load_params

log = logging.getLogger(__name__)

# Folders the source stage depends on in dvc.yaml: DVC sees their files change.
WATCHED_BY_DVC = ("data/shop", "data/online_retail")
# What the source stage read from outside them (under its output, data/raw).
RECORD = Path("data/raw/_ledger/unwatched_files.json")


def unwatched_files(params: Params, root: Path) -> dict[str, Path]:
    """The configured source files (table -> path) outside the folders DVC watches."""
    if params.source.kind != "files":
        return {}
    watched = [(root / d).resolve() for d in WATCHED_BY_DVC]
    out = {}
    for table, name in params.source.files.model_dump().items():
        if name is None:
            continue
        path = Path(name) if Path(name).is_absolute() else root / name
        path = path.resolve()
        if not any(path.is_relative_to(w) for w in watched):
            out[table] = path
    return out


def stamp(path: Path) -> dict[str, Any]:
    """Size and modification time (what make and DVC's own cache check look at)."""
    if not path.exists():
        return {"path": str(path), "exists": False}
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stamps(params: Params, root: Path) -> dict[str, dict[str, Any]]:
    return {table: stamp(path) for table, path in unwatched_files(params, root).items()}


def changed_since_read(params: Params, root: Path) -> list[str]:
    """Tables whose unwatched file is not the one the last source run read."""
    now = stamps(params, root)
    record = root / RECORD
    if not now or not record.exists():  # never read (DVC runs the stage anyway)
        return []
    before = json.loads(record.read_text())
    return [t for t, s in now.items() if before.get(t) != s]


def warn_unwatched(params: Params, root: Path) -> None:
    """The source stage's warning, each time it reads a file DVC does not watch."""
    files = unwatched_files(params, root)
    if files:
        log.warning(
            "%d source file(s) outside %s (%s): DVC does not see them change. `make run` "
            "re-reads one that changed; `dvc repro` and `dvc exp run` do not (run `dvc "
            "repro --force --single-item source` first), so keep the shop's files in "
            "data/shop/",
            len(files),
            " and ".join(WATCHED_BY_DVC),
            ", ".join(f"{t}: {p}" for t, p in files.items()),
        )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level="INFO", format="%(message)s")
    args = sys.argv[1:] if argv is None else argv
    params_path = Path(args[0] if args else "params.yaml")
    root = params_path.resolve().parent
    params = load_params(params_path)
    changed = changed_since_read(params, root)
    if not changed:
        return 0
    names = ", ".join(f"{t} ({unwatched_files(params, root)[t]})" for t in changed)
    log.info(
        "changed since the last run, outside the folders DVC watches: %s; re-reading "
        "(dvc repro --force --single-item source)",
        names,
    )
    dvc = Path(sys.executable).with_name("dvc")
    return subprocess.run(
        [str(dvc), "repro", "--force", "--single-item", "source"], cwd=root, check=False
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
