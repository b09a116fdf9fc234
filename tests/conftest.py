"""Shared fixtures: tiny hand-typed canonical tables and an in-memory DuckDB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ibis
import pandas as pd
import pytest
import yaml

from pipeline.schema import TABLES

_DTYPES = {
    "string": "string",
    "datetime": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


def canonical(table: str, rows: list[dict]) -> pd.DataFrame:
    """A canonical table from a few hand-typed rows; unspecified columns are null."""
    spec = TABLES[table]
    frame = pd.DataFrame(rows, columns=list(spec.names))
    for col in spec.columns:
        frame[col.name] = frame[col.name].astype(_DTYPES[col.dtype])
    return frame


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


@pytest.fixture
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


# -- the whole pipeline, as a user runs it: a fresh clone and a fresh shell -------------

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
SHOP_CUSTOMERS = 5000


def fresh_shell_env() -> dict[str, str]:
    """A new login shell's environment: no venv on PATH, no MLflow or DVC settings."""
    env = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR", "USER") if k in os.environ}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


def run_in_shell(cwd: Path, command: str, *, check: bool = True) -> subprocess.CompletedProcess:
    """One command line, as pasted into a fresh shell in ``cwd``."""
    res = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=fresh_shell_env(),
        capture_output=True,
        text=True,
        timeout=3000,
        stdin=subprocess.DEVNULL,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"{command} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def fresh_clone(tmp: Path, params: dict) -> Path:
    """A ``git clone`` of a commit of this checkout (as it is, uncommitted edits included).

    The clone's ``.venv`` is this test run's environment, standing in for the one
    ``make install`` would build (its stamp kept newer than pyproject.toml and
    requirements.lock, so make does not reinstall); nothing else is shared.
    """
    source = tmp / "source"
    source.mkdir()
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for f in files:
        src = REPO / f
        if src.is_file() and not f.startswith("tests/") and f not in ("dvc.lock", "metrics.json"):
            (source / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / f)
    base = yaml.safe_load((source / "params.yaml").read_text())
    for section, values in params.items():
        base[section] = {**base.get(section, {}), **values}
    (source / "params.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    _git(source, "init", "-q")
    _git(source, "add", "-A")
    _git(source, "commit", "-qm", "checkout under test")
    clone = tmp / "clone"
    _git(tmp, "clone", "-q", str(source), str(clone))
    (clone / ".venv").symlink_to(VENV)
    # .gitignore's ".venv/" matches the directory make install builds, not a symlink
    with (clone / ".git/info/exclude").open("a") as exclude:
        exclude.write("/.venv\n")
    stamp = VENV / ".install-stamp"
    if stamp.exists():
        old = stamp.stat().st_mtime - 60
        for name in ("pyproject.toml", "requirements.lock"):
            os.utime(clone / name, (old, old))
    return clone


@pytest.fixture(scope="session")
def dvc_shop(tmp_path_factory) -> Path:
    """`make run` and `make baseline` on a small shop in a fresh clone, from a fresh shell.

    Session-wide: the notebooks and the end-to-end checks read the same run.
    """
    clone = fresh_clone(
        tmp_path_factory.mktemp("shop"),
        {
            "synthetic": {"n_customers": SHOP_CUSTOMERS},
            "evaluate": {"backtest_origins": 2},
            "retention": {"budget": {"contacts": 100, "money": None}},
        },
    )
    run_in_shell(clone, "make baseline")
    _git(clone, "commit", "-qm", "baseline: dvc.lock and the headline metrics")
    return clone
