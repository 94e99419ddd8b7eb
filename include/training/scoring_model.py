"""The registered model: a pyfunc that scores applications and says why.

MLflow logs this file as the model's code ("models from code", no pickle). ``load_context``
loads the trained scikit-learn Pipeline and the training data's typical values from the
model's artifacts; ``predict`` takes rows as the package stores them (the curated zone's
types: ints, nullable ints, bools, text categories; no cast by the caller) and returns, per
application, the probability of the positive class, the decision at the contract's threshold
(``approve``: the favorable one, ``labels.favorable``) and the features that pushed it most
towards ``decline`` (``reason_1`` .. ``reason_<top_k>``), the reason codes a regulator asks for.

Scoring runs on ``threads`` BLAS/OpenMP threads (``MLOPS_THREADS`` when it was trained): the
same count the latency gate measured it with. Left to their defaults, OpenMP's idle threads
spin on a busy machine and one application costs seconds of CPU instead of milliseconds.

Once loaded, the process's objects are moved out of the garbage collector's sight
(``gc.freeze``): a full collection otherwise walks every object of the process (half a million
in a worker with MLflow and scikit-learn loaded), some 350 ms of CPU that lands inside whichever
call triggers it. A wide model allocates enough per call to trigger a few in 60 calls: at 200
features they made the latency gate's p99 430 ms against a median of 70 ms; frozen, 80 ms.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from include.model_input import frame as model_frame
from include.training.reasons import explain


class ReasonCodeModel(PythonModel):
    def load_context(self, context):
        import mlflow.sklearn
        from threadpoolctl import ThreadpoolController

        config = context.model_config
        self.pipeline = mlflow.sklearn.load_model(context.artifacts["pipeline"])
        self.typical = json.loads(Path(context.artifacts["typical_values"]).read_text())
        self.threshold = float(config["decision_threshold"])
        # Versions logged before labels.favorable existed were all credit models (negative).
        self.favorable = str(config.get("favorable", "negative"))
        self.top_k = int(config.get("top_k", 3))
        self.numeric, self.categorical = list(config["numeric"]), list(config["categorical"])
        self.threads = int(config.get("threads", 1))
        # Created once: it looks up the loaded thread pools, which costs milliseconds per call.
        self.pools = ThreadpoolController()
        # Collect what is garbage now, then leave what is loaded to reference counting alone.
        gc.collect()
        gc.freeze()

    # A DataFrame type hint: MLflow infers nothing from it and validates nothing by it (the
    # signature logged with the model does); without a hint it warns at every load.
    def predict(self, context, model_input: pd.DataFrame, params=None):
        top_k = int((params or {}).get("top_k", self.top_k))
        with self.pools.limit(limits=self.threads):
            x = model_frame(model_input, self.numeric, self.categorical)
            return explain(self.pipeline, x, self.typical, self.threshold, top_k, self.favorable)


mlflow.models.set_model(ReasonCodeModel())
