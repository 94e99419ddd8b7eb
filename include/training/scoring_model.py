"""The registered model: a pyfunc that scores applications and says why.

MLflow logs this file as the model's code ("models from code", no pickle). ``load_context``
loads the trained scikit-learn Pipeline and the training data's typical values from the
model's artifacts; ``predict`` returns, per application, the default probability, the
decision at the contract's threshold and the features that raised the risk most
(``reason_1`` .. ``reason_<top_k>``), the reason codes a regulator asks for.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel

from include.training.reasons import explain


class ReasonCodeModel(PythonModel):
    def __init__(self, pipeline=None, typical: dict | None = None, threshold: float = 0.5, top_k: int = 3):
        self.pipeline, self.typical, self.threshold, self.top_k = pipeline, typical, threshold, top_k

    def load_context(self, context):
        import mlflow.sklearn

        self.pipeline = mlflow.sklearn.load_model(context.artifacts["pipeline"])
        self.typical = json.loads(Path(context.artifacts["typical_values"]).read_text())
        self.threshold = float(context.model_config["decision_threshold"])
        self.top_k = int(context.model_config.get("top_k", 3))

    def predict(self, context, model_input, params=None):
        top_k = int((params or {}).get("top_k", self.top_k))
        return explain(self.pipeline, model_input, self.typical, self.threshold, top_k)


mlflow.models.set_model(ReasonCodeModel())
