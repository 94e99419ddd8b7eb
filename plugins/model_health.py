"""Registers the Model health page with Airflow: its FastAPI app under ``/model-health`` and an
entry in the UI's navigation that opens it inside Airflow. The app authenticates and authorizes
every request itself (Airflow does not protect plugin apps): see mlops_plugins/health."""

from airflow.plugins_manager import AirflowPlugin

from mlops_plugins.health.model_health_app import app


class ModelHealthPlugin(AirflowPlugin):
    name = "model_health"
    fastapi_apps = [{"app": app, "url_prefix": "/model-health", "name": "Model health"}]
    external_views = [
        {
            "name": "Model health",
            "href": "model-health/",
            "destination": "nav",
            "url_route": "model-health",
        }
    ]
