"""Everything MLflow: with ``pipeline/mlflow_model.py``, the only module that imports it.

One run per ``dvc repro`` of the pipeline: params, every metric (the headline under
stable keys such as ``shipped.roc_auc``, each model's, the SHAP driver shares, the
list's size and value at risk), tags that say what was selected, the SHAP tables and
plots, the curves, and ONE pyfunc model: the model that made the list (see
:mod:`pipeline.serving`), logged as code with LightGBM text files and JSON as artifacts,
a signature, an input example and explicit pip requirements (inferring them costs
seconds). The model is registered; :mod:`pipeline.registry` decides its alias.

The store lives in the project: ``<root>/mlflow.db`` and ``<root>/mlruns/``, resolved from
the project root (the folder holding ``dvc.yaml``) whatever the working directory, unless
``MLFLOW_TRACKING_URI`` says otherwise. MLflow records absolute artifact paths; when the
project folder has moved (or was copied), :func:`relocate` points them at the new folder
before anything is logged or read, so a moved clone logs into its own folder and still
reads its old runs. Raw complaint text and customer ids never leave the machine: only
aggregates, and customers as keyed hashes (:func:`customer_key`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

# Downloading a run's artifacts (make compare, the champion gate) drew progress bars in
# the middle of the comparison; the user's own setting wins.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

DB_FILE = "mlflow.db"
ARTIFACT_DIR = "mlruns"
KEY_FILE = ".customer-key"  # under mlruns/: travels with the artifacts it keys
MODEL_NAME = "model"
# What the pyfunc model imports when it loads (pipeline.serving and its imports).
PIP_REQUIREMENTS = [
    f"{name}=={version(name)}"
    for name in (
        "mlflow",
        "lightgbm",
        "pandas",
        "numpy",
        "scipy",
        "scikit-learn",
        "pydantic",
        "pyyaml",
    )
]
# Tables and columns where MLflow keeps absolute artifact paths.
PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def _mlflow():
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


# -- where things are ------------------------------------------------------------------


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``dvc.yaml`` at or above ``start`` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists():
            return folder
    return here


# mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI: what we set is not the user's.
_set_by_us: set[str] = set()


def tracking_uri(root: Path) -> str:
    """``MLFLOW_TRACKING_URI`` when the user set it, else the project's own sqlite store."""
    user = os.environ.get("MLFLOW_TRACKING_URI")
    if user and user not in _set_by_us:
        return user
    return f"sqlite:///{(root / DB_FILE).as_posix()}"


def is_project_store(uri: str, root: Path) -> bool:
    return uri == f"sqlite:///{(root / DB_FILE).as_posix()}"


def customer_key(root: Path) -> bytes:
    """The project's secret for hashing customer ids; created on first use.

    It lives in ``mlruns/`` beside the artifacts whose keys it made, never in MLflow, so
    runs of this project pair their customers while the store alone reveals no id.
    """
    path = root / ARTIFACT_DIR / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())


def ui_address(root: Path, experiment: str, *, port: int = 5000) -> str:
    """Where ``mlflow ui`` shows the experiment's runs, in its "Model training" view.

    MLflow 3's UI opens an experiment in its GenAI view (traces, tokens, an assistant)
    unless the address asks for ``workflowType=machine_learning``; a reviewer comparing
    churn runs wants the runs table.
    """
    found = client(root).get_experiment_by_name(experiment)
    where = "experiments" if found is None else f"experiments/{found.experiment_id}/runs"
    return f"http://127.0.0.1:{port}/#/{where}?workflowType=machine_learning"


def relocate(root: Path) -> int:
    """Point a moved project's stored artifact paths at its folder; return rows changed.

    MLflow stores absolute artifact locations and has no call to move them. The store at
    ``<root>/mlflow.db`` travels with ``<root>/mlruns/``, so every path under another
    folder's ``mlruns/`` recorded in it belongs under this one.
    """
    db_path = root / DB_FILE
    if not db_path.exists():
        return 0
    new = (root / ARTIFACT_DIR).as_posix()
    changed = 0
    with sqlite3.connect(db_path) as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        if "experiments" not in tables:
            return 0
        olds = set()
        for (location,) in db.execute("select artifact_location from experiments"):
            match = re.match(r"^(?:file://)?(/.*/" + ARTIFACT_DIR + r")(?:/|$)", location or "")
            if match and match.group(1) != new:
                olds.add(match.group(1))
        for old in sorted(olds):
            for table, column in PATH_COLUMNS:
                if table not in tables:
                    continue
                for scheme in ("", "file://"):
                    prefix = scheme + old
                    cur = db.execute(
                        f"update {table} set {column} = ? || substr({column}, ?) "  # noqa: S608
                        f"where substr({column}, 1, ?) = ?",
                        (scheme + new, len(prefix) + 1, len(prefix) + 1, prefix + "/"),
                    )
                    changed += cur.rowcount
            log.info("MLflow store moved: artifact paths under %s now point under %s", old, new)
    return changed


def client(root: Path):
    """An MlflowClient on the project's store (relocated first when it has moved)."""
    mlflow = _mlflow()
    uri = tracking_uri(root)
    if is_project_store(uri, root):
        relocate(root)
    if os.environ.get("MLFLOW_TRACKING_URI") in (None, "", *_set_by_us):
        _set_by_us.add(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(mlflow_client, name: str, root: Path) -> str:
    """The experiment's id; created with its artifacts under ``<root>/mlruns/`` if new."""
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "experiment"
    location = None
    if is_project_store(tracking_uri(root), root):
        location = (root / ARTIFACT_DIR / slug).as_posix()
    return mlflow_client.create_experiment(name, artifact_location=location)


# -- what a run is called and carries ---------------------------------------------------


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``a.b.c`` keys (MLflow keys allow dots)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


# What MLflow allows in a metric's name; anything else becomes "_" (metric_name).
_METRIC_NAME_ALLOWED = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(key: str) -> str:
    """``key`` as MLflow accepts it: a quarantine reason in the ingest report (``after
    the export (2024-10-07 00:00; detected; ...)``) made MLflow refuse the whole batch,
    and the track stage failed for every shop with a quarantined row (reviewed)."""
    name = _METRIC_NAME_ALLOWED.sub("_", key).replace("..", "_")
    return name[:250]


def numeric_metrics(d: Mapping[str, Any]) -> dict[str, float]:
    return {
        metric_name(k): float(v)
        for k, v in flatten(d).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v
    }


def changed_params(current: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """Flattened params whose value differs from ``before`` (keys in ``current`` order)."""
    now, then = flatten(current), flatten(before)
    return {k: v for k, v in now.items() if then.get(k, object()) != v}


def run_name(
    changed: Mapping[str, Any],
    exp_name: str | None,
    *,
    commit: str | None = None,
    max_params: int = 3,
) -> str:
    """What changed, in a run's name: ``train.learning_rate=0.1 (exp-name) @ 1a2b3c4``.

    The changed params (against the last commit's ``params.yaml``) say what the run is;
    a dvc experiment's name is added so ``dvc exp show`` and MLflow meet. With nothing
    changed: the experiment's name, else ``baseline``. The commit (its first 7
    characters) tells apart runs of the same params on different code: without it, a
    reviewer's runs table read "baseline" twelve times over nine commits.
    """

    # the knobs first, the shop's file mapping last (a shop's own data changes every
    # source.files and source.columns key against the committed defaults, and "+50
    # more" hid the one param two runs differed in); a file by its name, not its path
    def shop_mapping(key: str) -> bool:
        return key.startswith(("source.files.", "source.columns.", "source.read."))

    ordered = sorted(changed.items(), key=lambda kv: shop_mapping(kv[0]))
    parts = [
        f"{k}={Path(v).name if k.startswith('source.files.') and isinstance(v, str) else v}"
        for k, v in ordered[:max_params]
    ]
    if len(changed) > max_params:
        parts.append(f"+{len(changed) - max_params} more")
    name = ", ".join(parts)
    if exp_name:
        name = f"{name} ({exp_name})" if name else exp_name
    name = name or "baseline"
    if commit and commit != "unknown":
        name = f"{name} @ {commit[:7]}"
    return name


def fingerprint(paths: list[Path]) -> str:
    """SHA-256 over the bytes of the given files, in name order."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_commit(root: Path | None = None) -> str:
    out = git(root or project_root(), "rev-parse", "HEAD")
    return out.strip() if out else "unknown"


# -- logging a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    run_id: str
    experiment_id: str
    model_uri: str
    version: str  # the registered version
    tracking_uri: str
    fingerprint: str | None = None  # the model's (MODEL_FINGERPRINT_TAG)


# A model version's tag: the hash of the files and the serving code its model is made of.
MODEL_FINGERPRINT_TAG = "model_fingerprint"


def model_fingerprint(model_files: Mapping[str, Path]) -> str:
    """The hash of what a logged model scores with: its files and the serving code."""
    from pipeline import serving

    package = Path(serving.__file__).parent
    return fingerprint(
        list(model_files.values()) + [package / name for name in serving.SERVING_MODULES]
    )


@contextmanager
def _serving_code() -> Iterator[Path]:
    """A temporary ``pipeline/`` holding just the modules the pyfunc model imports."""
    from pipeline import serving

    package = Path(serving.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "pipeline"
        target.mkdir()
        for name in serving.SERVING_MODULES:
            shutil.copy2(package / name, target / name)
        yield target


def log_run(
    root: Path,
    *,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    model_files: Mapping[str, Path],
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    artifacts: Mapping[str, list[Path]],
    tables: Mapping[str, pd.DataFrame],
    registered_model: str,
) -> Logged:
    """Log one run with the list's pyfunc model, and register the model.

    Parameters
    ----------
    root
        The project root.
    experiment, run_name
        Where and under what name.
    params, metrics, tags
        Flat dicts.
    model_files
        The serving artifacts (:func:`pipeline.serving.model_files`).
    input_example, output_example
        An input frame for the signature and example, and the model's output for it.
    artifacts
        Artifact folder -> files to log there.
    tables
        Artifact path (``folder/name.parquet``) -> a frame to log as Parquet.
    registered_model
        The registered model each run's model becomes a version of.
    """
    mlflow = _mlflow()
    from pipeline import serving

    c = client(root)
    exp_id = experiment_id(c, experiment, root)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.set_tags(dict(tags))
        items = list(params.items())
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i : i + 100]))
        with _serving_code() as code:
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=str(Path(serving.__file__).with_name("mlflow_model.py")),
                artifacts={k: str(v) for k, v in model_files.items()},
                code_paths=[str(code)],
                signature=_signature(input_example, output_example),
                input_example=input_example,
                pip_requirements=PIP_REQUIREMENTS,
            )
        # after the model, tied to it as they are logged: logged before, MLflow links
        # them to the model one metric history query at a time (0.8 s for ~500)
        items = list(metrics.items())
        for i in range(0, len(items), 500):
            mlflow.log_metrics(dict(items[i : i + 500]), model_id=info.model_id)
        for folder, files in artifacts.items():
            for f in files:
                mlflow.log_artifact(str(f), artifact_path=folder or None)
        with tempfile.TemporaryDirectory() as tmp:
            for rel, frame in tables.items():
                path = Path(tmp) / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                frame.to_parquet(path, index=False)
                mlflow.log_artifact(str(path), artifact_path=str(Path(rel).parent))
    made_of = model_fingerprint(model_files)
    registered = register(c, info.model_uri, registered_model, run.info.run_id, made_of)
    logged = Logged(
        run_id=run.info.run_id,
        experiment_id=exp_id,
        model_uri=info.model_uri,
        version=str(registered.version),
        tracking_uri=tracking_uri(root),
        fingerprint=made_of,
    )
    log.info(
        "logged MLflow run %s (%s), model version %s", logged.run_id, run_name, logged.version
    )
    return logged


def register(
    mlflow_client, model_uri: str, name: str, run_id: str, model_fingerprint: str | None = None
):
    """The model as a new version of ``name``, tagged with its fingerprint."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.create_registered_model(
            name, description="The model that made the churn list (pipeline.serving)."
        )
    except MlflowException as err:
        if "already exists" not in str(err).lower():
            raise
    tags = {MODEL_FINGERPRINT_TAG: model_fingerprint} if model_fingerprint else None
    return mlflow_client.create_model_version(name, model_uri, run_id=run_id, tags=tags)


# -- reading runs and the registry --------------------------------------------------------


def alias_version(mlflow_client, name: str, alias: str):
    """The version holding ``alias``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def model_version(mlflow_client, name: str, version: str):
    """Version ``version`` (``3``) of the registered model ``name``.

    Raises
    ------
    LookupError
        If there is no such version (or no such model); the message lists the versions.
    """
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version(name, version)
    except MlflowException as err:
        try:
            found = mlflow_client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            found = []
        have = sorted(int(v.version) for v in found)
        listed = ", ".join(f"v{n}" for n in have) if have else "none yet: run `make run`"
        raise LookupError(
            f"registered model {name!r} has no version {version!r} (its versions: {listed})"
        ) from err


def _run_by_prefix(mlflow_client, experiment: str, prefix: str) -> str:
    """The run id of the experiment's one run whose id starts with ``prefix``."""
    exp = mlflow_client.get_experiment_by_name(experiment)
    runs = mlflow_client.search_runs([exp.experiment_id], max_results=50000) if exp else []
    ids = [r.info.run_id for r in runs if r.info.run_id.startswith(prefix)]
    if len(ids) != 1:
        said = "no run" if not ids else f"{len(ids)} runs ({', '.join(i[:12] for i in ids)})"
        raise LookupError(
            f"{said} of the MLflow experiment {experiment!r} has an id starting {prefix!r}: "
            "use latest, an alias (champion, challenger), v<N> or more of the run id"
        )
    return ids[0]


def set_alias(mlflow_client, name: str, alias: str, version: str) -> None:
    mlflow_client.set_registered_model_alias(name, alias, version)


def describe_version(
    mlflow_client, name: str, version: str, tags: Mapping[str, str], description: str
) -> None:
    """Tags and a one-line description on a registered version: the registry's versions
    table then shows each version's decision and headline without opening its run."""
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, str(value))
    mlflow_client.update_model_version(name, version, description=description)


def promote(root: Path, name: str, version: str, reason: str) -> None:
    """Make ``version`` champion by hand; its run is tagged with who decided and why."""
    c = client(root)
    before = alias_version(c, name, "champion")
    mv = model_version(c, name, version)
    if before is not None and str(before.version) == str(version):
        raise LookupError(f"version {version} of {name!r} is the champion already: nothing to do")
    set_alias(c, name, "champion", version)
    challenger = alias_version(c, name, "challenger")
    if challenger is not None and str(challenger.version) == str(version):
        c.delete_registered_model_alias(name, "challenger")
    set_tags(
        c,
        mv.run_id,
        {
            "registry.decision": "champion",
            "registry.promoted_by_hand": reason,
            "registry.champion_before": "none" if before is None else str(before.version),
        },
    )
    # the versions table says it too, next to what the gate had said at registration
    gate_said = f" The gate at registration: {mv.description}" if mv.description else ""
    describe_version(
        c,
        name,
        version,
        {"decision": "champion", "promoted_by_hand": reason},
        f"champion, promoted by hand: {reason}.{gate_said}"[:1000],
    )


def set_tags(mlflow_client, run_id: str, tags: Mapping[str, str]) -> None:
    for k, v in tags.items():
        mlflow_client.set_tag(run_id, k, v)


def log_metrics(mlflow_client, run_id: str, metrics: Mapping[str, float]) -> None:
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    items = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    for i in range(0, len(items), 500):
        mlflow_client.log_batch(run_id, metrics=items[i : i + 500])


def read_table(mlflow_client, run_id: str, rel: str) -> pd.DataFrame | None:
    """A Parquet artifact of a run, or None when the run has none there."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow_client.download_artifacts(run_id, rel, tmp)
        except (MlflowException, OSError):
            return None
        return pd.read_parquet(path)


def read_csv(mlflow_client, run_id: str, rel: str) -> pd.DataFrame | None:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow_client.download_artifacts(run_id, rel, tmp)
        except (MlflowException, OSError):
            return None
        return pd.read_csv(path)


def _signature(input_example, output_example):
    """The model's signature, inferred from its example.

    MLflow hints that integer columns cannot hold missing values: the snapshot's counts
    never miss (the features stage writes 0), so the hint is noise to a user."""
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Hint: Inferred schema contains integer")
        return infer_signature(input_example, output_example)


def load_model(root: Path, name: str, ref: str = "champion"):
    """``mlflow.pyfunc.load_model`` of a registered version: an alias or a number."""
    mlflow = _mlflow()
    client(root)
    uri = f"models:/{name}/{ref}" if ref.isdigit() else f"models:/{name}@{ref}"
    return mlflow.pyfunc.load_model(uri)


# The run behind the workspace's files: the track stage writes where it went here.
WORKSPACE = "workspace"
RUN_INFO = Path("reports/mlflow_run.json")


def _workspace_run(mlflow_client, root: Path) -> str:
    # a failed run's note: the workspace's files then belong to no logged run
    from pipeline.stages._common import STALE as STALE_NOTE

    path = root / RUN_INFO
    if (root / STALE_NOTE).exists():
        # the run the file names was the run before the failure: it is still in the
        # store, and comes back as the workspace's when a run returns to its state
        raise LookupError(
            f"the workspace's last run failed ({STALE_NOTE} says where): no logged run is "
            "behind its files; fix it and run `make run`, or compare named runs (latest, "
            "champion, challenger, v<N>)"
        )
    if not path.exists():
        raise LookupError("no run behind the workspace's files yet: run `make run`")
    run_id = json.loads(path.read_text())["run_id"]
    try:
        mlflow_client.get_run(run_id)
    except Exception as err:  # noqa: BLE001 (MLflow's own kinds)
        raise LookupError(
            f"reports/mlflow_run.json names run {run_id[:8]}, which the MLflow store does "
            "not hold (emptied or moved?): run `make run`"
        ) from err
    return run_id


def resolve_run(root: Path, experiment: str, model_name: str, ref: str) -> dict[str, Any]:
    """A run by reference: ``workspace`` (the run behind the files in ``data/scored``
    and ``reports/``), ``latest``, an alias (``champion``), ``v<N>`` or a run id
    (whole, or its first 6 or more characters, as ``make compare`` prints it).

    Returns
    -------
    dict
        ``run_id``, ``name``, ``params``, ``metrics``, ``tags`` and ``version`` (or None).

    Raises
    ------
    LookupError
        If nothing matches; the message says what exists.
    """
    c = client(root)
    version = None
    if ref == WORKSPACE:
        run_id = _workspace_run(c, root)
    elif ref == "latest":
        exp = c.get_experiment_by_name(experiment)
        runs = (
            c.search_runs(
                [exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
            )
            if exp
            else []
        )
        if not runs:
            raise LookupError(
                f"no run in the MLflow experiment {experiment!r} yet: run `make run`"
            )
        run_id = runs[0].info.run_id
    elif ref.startswith("v") and ref[1:].isdigit():
        version = model_version(c, model_name, ref[1:])
        run_id = version.run_id
    elif re.fullmatch(r"[0-9a-f]{32}", ref):
        run_id = ref
    elif re.fullmatch(r"[0-9a-f]{6,31}", ref):  # the short ids the tables print
        run_id = _run_by_prefix(c, experiment, ref)
    else:
        version = alias_version(c, model_name, ref)
        if version is None:
            raise LookupError(
                f"registered model {model_name!r} has no version with alias {ref!r}; "
                "use workspace, latest, an alias (champion, challenger), v<N> or a run id"
            )
        run_id = version.run_id
    run = c.get_run(run_id)
    if version is None:
        found = c.search_model_versions(f"run_id = '{run_id}'")
        version = found[0] if found else None
    return {
        "run_id": run_id,
        "name": run.info.run_name,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
        "version": None if version is None else str(version.version),
        "client": c,
    }


def registry_state(root: Path, name: str) -> list[dict[str, Any]]:
    """Every registered version, newest first: aliases, run name, decision, headline."""
    from mlflow.exceptions import MlflowException

    c = client(root)
    try:
        model = c.get_registered_model(name)
    except MlflowException:
        return []
    aliases: dict[str, list[str]] = {}
    for alias, v in (model.aliases or {}).items():
        aliases.setdefault(str(v), []).append(alias)
    out = []
    versions = c.search_model_versions(f"name = '{name}'")
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        run = c.get_run(v.run_id)
        out.append(
            {
                "version": str(v.version),
                "aliases": sorted(aliases.get(str(v.version), [])),
                "run_id": v.run_id,
                "run_name": run.info.run_name or "",
                "decision": run.data.tags.get("registry.decision", ""),
                "test_cutoff": run.data.tags.get("test_cutoff", "")[:10],
                "roc_auc": run.data.metrics.get("shipped.roc_auc", float("nan")),
                "brier": run.data.metrics.get("shipped.brier", float("nan")),
            }
        )
    return out
