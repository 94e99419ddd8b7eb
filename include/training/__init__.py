"""Retraining: training-set assembly from curated partitions, splits, models, gates, tracking."""

import warnings

# skops (MLflow's safe model format) looks up every ufunc name as an attribute of every loaded
# module when it saves or loads a model; on Airflow's deprecated modules each lookup warns,
# about 1,000 warnings per model. They say nothing about this package, so only those go.
warnings.filterwarnings("ignore", message=r"The `airflow\.", category=FutureWarning, module=r"skops\.")

# MLflow infers a schema from every frame it records (the training dataset, the input example)
# and warns that integer columns cannot hold missing values. The registered model's signature is
# written explicitly from the contract (tracking.input_schema: a nullable int is declared Any), so
# the hint does not apply to anything this package logs.
warnings.filterwarnings(
    "ignore", message=r"Hint: Inferred schema contains integer column", category=UserWarning
)
