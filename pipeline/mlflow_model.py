"""MLflow models-from-code: the pyfunc model that made the list.

MLflow runs this file when a logged model is loaded (``mlflow.pyfunc.load_model``); the
pipeline itself never imports it. The model carries its artifacts (LightGBM text files
and JSON, see :data:`pipeline.serving.ARTIFACTS`) and the package modules it needs
(:data:`pipeline.serving.SERVING_MODULES`), so nothing is unpickled and the model loads
wherever its pip requirements are installed.
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel

from pipeline.serving import ListModel


class ChurnLoyaltyModel(PythonModel):
    """Snapshot features in; churn probability, expected value and loyalty type out."""

    # The signature comes from the input example (pipeline.tracking), not from type hints.
    # Without this, MLflow (pinned) wrapped predict in a pass-through and printed a
    # coloured "add type hints" warning at every log and load, past any warning filter.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        self.model = ListModel.from_files(context.artifacts)

    def predict(self, context, model_input, params=None):
        return self.model.predict(model_input)


mlflow.models.set_model(ChurnLoyaltyModel())
