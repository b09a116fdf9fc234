"""The model that made the list, as one object: snapshot features in, the list's numbers out.

:class:`ListModel` holds what the train stage shipped for the scoring date: the churn
score (the booster, blended with BG/NBD's feature by the weight chosen on validation),
the calibrator fitted on ITS validation scores (with its seasonal shift), the feature
design (columns and category levels), the value model, and the loyalty-type classifier
with its class names (or, when the shop had too few survey answers, the behavioural rule
table). Scoring a frame of raw snapshot features (categories as strings) gives exactly
what the pipeline put on the list: the same code, on the same files.

It reads only LightGBM text files and JSON: no pickle. MLflow stays out of this module;
``pipeline/mlflow_model.py`` wraps it as a pyfunc model (models-from-code), and
:data:`SERVING_MODULES` is the part of the package that model carries with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline.calibration import Calibrator
from pipeline.loyalty import BEHAVIOUR_RULES, assign_types
from pipeline.train import ChurnScore, Design, LoyaltyModel, predict, predict_types

# Artifact name -> where the train stage writes it, under models/.
ARTIFACTS: dict[str, str] = {
    "churn_model": "churn/model.txt",
    "calibrator": "churn/calibrator.json",
    "design": "churn/design.json",
    "churn_score": "churn/score.json",  # the BG/NBD blend weight and reference
    "value_model": "value/model.txt",
    "loyalty_meta": "loyalty/meta.json",
    "loyalty_model": "loyalty/model.txt",  # only when a classifier was trained
}
# The modules a logged model needs to score (and the ones they import).
SERVING_MODULES = (
    "__init__.py",
    "calibration.py",
    "config.py",
    "loyalty.py",
    "schema.py",
    "serving.py",
    "train.py",
    "mlflow_model.py",
)
OUTPUT_COLUMNS = (
    "churn_probability",
    "expected_value",
    "loyalty_type",
    "loyalty_type_probability",
    "loyalty_type_source",
)


def model_files(models_dir: Path) -> dict[str, Path]:
    """The train stage's files under ``models_dir`` that a :class:`ListModel` reads.

    Raises
    ------
    FileNotFoundError
        If a required file is missing; the message names it and says to run the train stage.
    """
    files = {name: models_dir / rel for name, rel in ARTIFACTS.items()}
    if not files["loyalty_model"].exists():
        files.pop("loyalty_model")
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"the model that made the list needs {missing}; run the train stage "
            "(`dvc repro train`) first"
        )
    return files


@dataclass(frozen=True)
class ListModel:
    """Everything that turns a customer's snapshot into the list's numbers."""

    design: Design
    churn: ChurnScore
    calibrator: Calibrator
    value: lgb.Booster
    loyalty: LoyaltyModel | None  # None: types come from the behavioural rule table

    @classmethod
    def from_files(cls, files: Mapping[str, str | Path]) -> ListModel:
        """Load from paths keyed like :data:`ARTIFACTS` (what :func:`model_files` returns).

        Raises
        ------
        ValueError
            If the loyalty meta file says "classifier" but no loyalty model is given.
        """

        def read(name: str) -> dict:
            return json.loads(Path(files[name]).read_text())

        design = read("design")
        meta = read("loyalty_meta")
        loyalty = None
        if meta["source"] == "classifier":
            if "loyalty_model" not in files:
                raise ValueError(
                    "loyalty meta says the types come from a classifier, but no "
                    "loyalty_model file was given"
                )
            loyalty = LoyaltyModel(
                lgb.Booster(model_file=str(files["loyalty_model"])),
                tuple(meta["classes"]),
                {},
                pd.DataFrame(),
                pd.DataFrame(),
            )
        design = Design(features=tuple(design["features"]), categories=design["categories"])
        blend = read("churn_score")
        return cls(
            design=design,
            churn=ChurnScore(
                booster=lgb.Booster(model_file=str(files["churn_model"])),
                design=design,
                bgnbd_weight=float(blend["bgnbd_weight"]),
                bgnbd_reference=float(blend["bgnbd_reference"]),
            ),
            calibrator=Calibrator.from_dict(read("calibrator")),
            value=lgb.Booster(model_file=str(files["value_model"])),
            loyalty=loyalty,
        )

    @property
    def loyalty_source(self) -> str:
        return "rules" if self.loyalty is None else "classifier"

    def example(self, features: pd.DataFrame) -> pd.DataFrame:
        """A three-row input example that is no real customer, typed like ``features``.

        Numeric features at their 10th, 50th and 90th percentile (counts rounded, so a
        column of integers stays one), each category at its most common level: the
        shape, types and scale of real input, and nobody's record. The model's
        signature is inferred from it, so snapshot frames pass MLflow's type checks.
        """
        self._check(features)
        rows: dict[str, object] = {}
        for name in self.design.features:
            column = features[name]
            if name in self.design.categories:
                common = column.dropna().astype(str).mode()
                rows[name] = pd.Series([common.iloc[0] if len(common) else None] * 3, dtype=object)
            else:
                values = pd.to_numeric(column, errors="coerce")
                quantiles = (
                    values.astype("float64").quantile([0.1, 0.5, 0.9]).reset_index(drop=True)
                )
                if pd.api.types.is_integer_dtype(column.dtype) and quantiles.notna().all():
                    quantiles = quantiles.round().astype(column.dtype)
                rows[name] = quantiles
        return pd.DataFrame(rows)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Score raw snapshot features as the pipeline did for the list.

        Parameters
        ----------
        features
            One row per customer with (at least) the design's feature columns, raw:
            categories as strings, missing values as NaN or None.

        Returns
        -------
        DataFrame
            Same index, :data:`OUTPUT_COLUMNS`: ``churn_probability`` (the list's, before
            it rounds to 4 decimals), ``expected_value`` (spend over the next horizon if
            retained), ``loyalty_type`` with its probability (NaN from rules) and source.

        Raises
        ------
        ValueError
            If feature columns are missing; the message names them.
        """
        churn = self.churn_probability(features)  # checks the feature columns first
        if self.loyalty is not None:
            types = predict_types(self.loyalty, self.design, features)
        else:
            types = assign_types(features, BEHAVIOUR_RULES)[["loyalty_type"]]
            types["loyalty_type_probability"] = np.nan
        return pd.DataFrame(
            {
                "churn_probability": churn,
                "expected_value": predict(self.value, self.design, features),
                "loyalty_type": types["loyalty_type"].to_numpy(dtype=object),
                "loyalty_type_probability": types["loyalty_type_probability"].to_numpy(float),
                "loyalty_type_source": self.loyalty_source,
            },
            index=features.index,
        )

    def churn_probability(self, features: pd.DataFrame) -> np.ndarray:
        """The list's churn probability alone: the churn model, then its calibrator.

        :meth:`predict` computes its ``churn_probability`` with this very method, so a
        check of the list's probabilities need not pay for the loyalty types and values.
        """
        self._check(features)
        return self.calibrator.predict(self.churn.predict(features))

    def _check(self, features: pd.DataFrame) -> None:
        missing = [c for c in self.design.features if c not in features.columns]
        if missing:
            raise ValueError(
                f"the feature frame ({len(features)} rows) lacks {len(missing)} of the "
                f"model's {len(self.design.features)} features: {missing[:10]}"
            )
