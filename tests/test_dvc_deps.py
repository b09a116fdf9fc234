"""Every module a stage runs is a DVC dependency of it: edit the code, the stage re-runs.

A module missing from a stage's ``deps`` in ``dvc.yaml`` means ``dvc repro`` keeps that
stage's outputs after the module changes: a stale list that looks current.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]

IMPORTED = """
import importlib, sys
importlib.import_module("pipeline.stages." + sys.argv[1])
for name in sorted(sys.modules):
    module = sys.modules[name]
    if name.startswith("pipeline.") and getattr(module, "__file__", None):
        print(module.__file__)
"""


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_dependency(stage: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORTED, stage],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    deps = [ROOT / d for d in STAGES[stage]["deps"]]
    files = [Path(f).resolve() for f in out]
    missing = [
        str(f.relative_to(ROOT))
        for f in files
        # an empty package __init__ holds no code
        if f.stat().st_size and not any(f == d or d in f.parents for d in deps)
    ]
    assert not missing, f"stage {stage} imports {missing}, not in its dvc.yaml deps"


def test_bytecode_in_a_folder_dependency_changes_no_hash() -> None:
    # `source` depends on the folder pipeline/sources; the stages that import it write
    # __pycache__ there (in a shell that writes bytecode), which changed the folder's
    # hash and re-ran `source` on an identical repro
    folders = [d for s in STAGES.values() for d in s["deps"] if (ROOT / d).is_dir()]
    assert "pipeline/sources" in folders
    paths = [f"{d}/__pycache__/files.cpython-312.pyc" for d in folders]
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "check-ignore", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == paths


def test_the_committed_lock_matches_the_committed_code() -> None:
    """Reviewed: a commit changed pipeline/reading.py without re-locking, so every fresh
    clone's `make run` left dvc.lock modified (and `make baseline` would have staged the
    unrelated change). Each code or params dependency that is as committed must hash as
    dvc.lock says; one being edited in this checkout is skipped."""
    dvc = str(Path(sys.executable).parent / "dvc")
    status = json.loads(
        subprocess.run(
            [dvc, "status", "--json"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        or "{}"
    )
    changed = {
        path
        for entries in status.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
        for path, how in entry.get("changed deps", {}).items()
        if how == "modified" or isinstance(how, dict)
    }
    edited = subprocess.run(
        ["git", "status", "--porcelain", "--", *sorted(changed), "dvc.lock"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tracked = subprocess.run(
        ["git", "ls-files", "--", *sorted(changed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stale = sorted(
        p
        for p in changed
        if any(t == p or t.startswith(p + "/") for t in tracked.split())
        and p not in edited
        and "dvc.lock" not in edited
    )
    assert not stale, (
        f"dvc.lock was not re-locked after {stale} changed: run `make run` and commit dvc.lock"
    )


def test_no_stage_depends_on_a_file_inside_another_stages_folder() -> None:
    """Reviewed: the score stage depended on reports/plots/calibration.csv, inside the
    train stage's folder output. With train restored from DVC's run cache after `git
    pull`, DVC resolved the file through the folder as the committed dvc.lock recorded
    it, an object a clone that never ran that state does not hold: `make
    forward-online-retail` failed with "failed to load directory ('reports', 'plots')".
    A stage depends on another's folder whole, or on its single-file outputs."""
    folders = {
        out: name
        for name, stage in STAGES.items()
        for out in (next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", []))
        if not Path(out).suffix  # a folder output (files have an extension)
    }
    inside = [
        (name, dep, folders[folder])
        for name, stage in STAGES.items()
        for dep in stage.get("deps", [])
        for folder in folders
        if dep.startswith(folder + "/") and folders[folder] != name
    ]
    assert not inside, inside
